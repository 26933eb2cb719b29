"""Optimizers: Keras 3's classes, arguments and configs, checked on creation, and the
kernel code and hyper-parameter vector they give the update kernels.

The update rules themselves are kernels (``fastann.kernels.optimizers``); their formulas
and defaults are Keras 3's:

==========  ==============================================================================
SGD         ``learning_rate=0.01, momentum=0.0, nesterov=False``. ``w -= lr * g``; with
            momentum ``v = momentum * v - lr * g; w += v`` (Nesterov:
            ``w += momentum * v - lr * g``)
RMSprop     ``learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
            centered=False``: ``ms = rho * ms + (1 - rho) * g**2;
            step = lr * g / sqrt(ms + epsilon)``; centred, ``mg = rho * mg + (1 - rho) * g``
            and ``step = lr * g / sqrt(ms - mg**2 + epsilon)``; with momentum,
            ``v = momentum * v + step; w -= v``, else ``w -= step`` (PyTorch's defaults
            are ``alpha=0.99, eps=1e-8`` with eps outside the root)
Adam        ``learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
            amsgrad=False``, bias-corrected: ``m += (g - m) * (1 - beta_1);
            v += (g**2 - v) * (1 - beta_2); w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
            * m / (sqrt(v) + epsilon)``; with amsgrad, ``v_max = max(v_max, v)`` stands
            for v in the step (PyTorch's default epsilon is 1e-8)
AdamW       Adam with ``weight_decay=0.004`` by default (Keras' AdamW)
Adagrad     ``learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7``:
            ``acc += g**2; w -= lr * g / sqrt(acc + epsilon)``
Adamax      ``learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7``:
            ``m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|);
            w -= lr * m / ((1 - beta_1**t) * (u + epsilon))``
Nadam       ``learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7``, Keras'
            momentum cache: ``u_t = beta_1 * (1 - 0.5 * 0.96**t); P_t = u_1 * ... * u_t``;
            m, v as Adam's; ``m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)``;
            ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``
==========  ==============================================================================

Every constructor has Keras 3's signature, positional order included (``RMSprop(0.001,
0.9, 0.0, 1e-7)`` is learning_rate, rho, momentum, epsilon), plus the keyword ``lr=``,
fastann's earlier spelling of ``learning_rate``. The learning rate is a number >= 0 (0
trains nothing) or a ``fastann.schedules.LearningRateSchedule``. Keras' options fastann
has no kernel for (``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``,
``loss_scale_factor``, ``gradient_accumulation_steps``) are accepted at Keras' default
and refused with ``NotSupportedError`` otherwise.

Clipping (Keras 3's, at most one of the three; None, the default, is off), applied to
the gradient before anything else: ``clipnorm`` scales each variable's gradient (a
Dense kernel, a bias, a BatchNormalization gamma or beta) by
``min(1, clipnorm / ||g_var||)``; ``global_clipnorm`` scales the whole gradient by
``min(1, global_clipnorm / ||g||)``, the norm over every parameter; ``clipvalue`` clips
each entry to ``[-clipvalue, clipvalue]``.

``weight_decay`` (default None, off; AdamW's 0.004) is Keras 3's decoupled decay: after
clipping and before the rule every trainable variable (kernels, biases,
BatchNormalization's gamma and beta) shrinks by ``w -= lr * weight_decay * w``. Classic
L2 in the loss and gradient is ``kernel_regularizer=fastann.regularizers.L2(...)``, as in
Keras.

``get_config()`` is Keras' dict (``{"name": "adam", "learning_rate": 0.001,
"weight_decay": None, "clipnorm": None, ...}``, a schedule as
``schedules.serialize``'s dict); ``from_config``, ``deserialize`` and ``get`` rebuild an
optimizer from it, from ``serialize``'s ``{"class_name": ..., "config": ...}``, or from
a config of an earlier fastann (``"lr"``), using this module's classes only.
"""
import functools
import inspect
import math
import numbers
import re
import sys

import numpy as np

from . import _checks, schedules
from ._errors import NotSupportedError, keras_only
from ._options import lookup
from .kernels import optimizers as kernel
from .kernels.train import EPOCHS, STEPS


def _check(name, value, low, high=math.inf, low_inclusive=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= low if low_inclusive else value > low)
    if not ok or value >= high:
        low_text = f">= {low}" if low_inclusive else f"> {low}"
        high_text = f" and < {high}" if high != math.inf else ""
        raise ValueError(f"{name} must be a finite number {low_text}{high_text}; got {value!r}")
    return float(value)


def _fraction(name, value):
    return _check(name, value, 0, 1, low_inclusive=True)


def _closed_fraction(name, value):
    """A momentum: [0, 1], as Keras' SGD (1 keeps every past gradient undamped)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value == 1:
        return 1.0
    try:
        return _fraction(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a finite number in [0, 1]; got {value!r}") from None


def _positive(name, value):
    return _check(name, value, 0)


def _non_negative(name, value):
    return _check(name, value, 0, low_inclusive=True)


# The rules' own arguments: check, and where the update kernel reads the value.
_HYPER = {
    "momentum": (_closed_fraction, kernel.MOMENTUM),
    "nesterov": (_checks.flag, kernel.NESTEROV),
    "rho": (_fraction, kernel.RHO),
    "beta_1": (_fraction, kernel.BETA_1),
    "beta_2": (_fraction, kernel.BETA_2),
    "epsilon": (_positive, kernel.EPSILON),
    "initial_accumulator_value": (_non_negative, kernel.INITIAL_ACCUMULATOR),
    "amsgrad": (_checks.flag, kernel.AMSGRAD),
    "centered": (_checks.flag, kernel.CENTERED),
}
_CLIPPING = ("clipnorm", "global_clipnorm", "clipvalue")  # Keras' config order
# Keras' base options the kernels do not have: accepted at Keras' defaults only.
_KERAS_ONLY = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
               "gradient_accumulation_steps")
_BASE = ("learning_rate", "weight_decay") + _CLIPPING + _KERAS_ONLY + ("name", "lr")

MIN_LR = sys.float_info.min  # the smallest rate callbacks lower a learning rate to


@functools.lru_cache(maxsize=None)
def _signature(cls):
    """{argument: default} of ``cls``'s constructor, in order."""
    return {name: parameter.default
            for name, parameter in inspect.signature(cls).parameters.items()}


class Iterations(int):
    """``optimizer.iterations``: the updates taken, an int that also answers Keras'
    ``numpy()``. Read-only: it is the model's step counter."""

    def numpy(self):
        return np.int64(self)


class LearningRate(float):
    """``optimizer.learning_rate``: the rate of the next update, a float that also has
    Keras' variable methods ``assign(value)`` (set the optimizer's rate) and ``numpy()``."""

    def __new__(cls, value, optimizer):
        rate = super().__new__(cls, value)
        rate._optimizer = optimizer
        return rate

    def assign(self, value):
        if self._optimizer.scheduled:  # Keras' message
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument.")
        self._optimizer.learning_rate = value
        return self._optimizer.learning_rate

    def numpy(self):
        return np.float64(self)

    def __reduce__(self):  # pickles as the plain number
        return float, (float(self),)


class Optimizer:
    """Base: a learning rate (number or schedule), the decoupled ``weight_decay``, at most
    one clipping option (Keras' rule) and a hyper-parameter vector for the update kernel.

    A subclass gives Keras' constructor signature and passes its ``locals()`` to
    ``_configure``; arguments named in ``_HYPER`` are its rule's, those in
    ``_unsupported`` (and ``_KERAS_ONLY``) only take their default.
    """

    code = None
    name = None  # the OPTIMIZERS key; also each instance's default name
    n_scalars = 0  # the state's scalars after the slots (Nadam's momentum cache)
    _unsupported = ()
    _positions = {}  # a rule argument whose place in the hyper vector is not _HYPER's
    _counters = None  # the model's counters (EPOCHS, STEPS) once compiled with one

    def _configure(self, arguments):
        """Check and keep the constructor's arguments (a subclass __init__'s locals())."""
        cls = type(self)
        owner = cls.__name__
        defaults = _signature(cls)
        arguments = {key: value for key, value in arguments.items() if key in defaults}
        lr = arguments.pop("lr")
        if lr is not None:  # fastann's earlier spelling
            if arguments["learning_rate"] != defaults["learning_rate"]:
                raise ValueError(f"{owner} takes learning_rate or its old spelling lr, not "
                                 f"both; got learning_rate={arguments['learning_rate']!r}, "
                                 f"lr={lr!r}")
            self._set_rate(lr, "lr")
        else:
            self._set_rate(arguments["learning_rate"], "learning_rate")
        for key in _KERAS_ONLY + self._unsupported:
            if arguments[key] != defaults[key]:
                raise NotSupportedError(f"{owner}({key}={arguments[key]!r})",
                                        f"Only Keras' default {key}={defaults[key]!r} is "
                                        "implemented by fastann's update kernels")
            setattr(self, key, defaults[key])
        decay = arguments["weight_decay"]
        if decay is None and defaults["weight_decay"] is not None:  # Keras' message
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        self.weight_decay = 0.0 if decay is None else _non_negative(
            f"{owner} weight_decay", decay)
        chosen = {key: arguments[key] for key in _CLIPPING if arguments[key] is not None}
        if len(chosen) > 1:  # Keras' rule and message
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                             f"be set. Received: clipnorm={arguments['clipnorm']}, "
                             f"clipvalue={arguments['clipvalue']}, "
                             f"global_clipnorm={arguments['global_clipnorm']}")
        for key in _CLIPPING:
            value = arguments[key]
            setattr(self, key, None if value is None else _positive(key, value))
        name = arguments["name"]
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{owner} name must be a str or None; got {name!r}")
        self.name = name or cls.name
        for key in self._rule_arguments():
            check, _ = _HYPER[key]
            setattr(self, key, check(f"{owner} {key}", arguments[key]))

    @classmethod
    def _rule_arguments(cls):
        """The rule's own arguments, in Keras' order (its config's last keys)."""
        return [key for key in _signature(cls)
                if key not in _BASE and key not in cls._unsupported]

    # ------------------------------------------------------------ learning rate
    def _set_rate(self, value, spelling):
        if isinstance(value, schedules.LearningRateSchedule):
            self._lr = value
        else:
            self._lr = _non_negative(f"{type(self).__name__} {spelling}", value)

    @property
    def lr(self):
        """The learning rate as given: a float, or a ``LearningRateSchedule``. Assigning a
        number (as ``ReduceLROnPlateau`` does) or a schedule takes effect from the next
        kernel call of ``fit``."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._set_rate(value, "lr")

    @property
    def learning_rate(self):
        """Keras' view: the rate of the next update (a schedule's value at
        ``iterations``, or at the epoch for a per-epoch schedule), as a float with
        ``assign``. Setting it is setting ``lr``."""
        if not self.scheduled:
            return LearningRate(self._lr, self)
        return LearningRate(schedules.rate_at(self._lr, self._counter(EPOCHS),
                                              self._counter(STEPS)), self)

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_rate(value, "learning_rate")

    @property
    def scheduled(self):
        """True when the learning rate is a schedule."""
        return isinstance(self._lr, schedules.LearningRateSchedule)

    @property
    def iterations(self):
        """The number of updates taken (Keras' ``optimizer.iterations``): the step count
        of the model this optimizer was last compiled into, 0 before."""
        return Iterations(self._counter(STEPS))

    def _attach(self, counters):
        """Called by ``Model.compile``: the model's counters array (int64,
        (N_COUNTERS,)), which ``iterations`` and a schedule's position read."""
        self._counters = counters

    def _counter(self, index):
        return 0 if self._counters is None else int(self._counters[index])

    def learning_rates(self, first_epoch, n_epochs, dtype=np.float64, steps_per_epoch=None):
        """(n_epochs, k) array of ``dtype``, as ``train_epochs`` reads it: the rate of
        each epoch from ``first_epoch`` (counted over the model's life), k = 1; for a
        step schedule, of each of its ``steps_per_epoch`` steps from ``iterations`` on,
        k = steps_per_epoch (see ``fastann.schedules``)."""
        if not self.scheduled:
            return np.full((n_epochs, 1), min(self._lr, float(np.finfo(dtype).max)), dtype)
        if steps_per_epoch is None and not self._lr.per_epoch:
            raise TypeError(f"the step schedule {self._lr!r} needs steps_per_epoch")
        with np.errstate(over="ignore", under="ignore"):  # a long run may reach the bounds
            rates = schedules.training_rates(self._lr, first_epoch, n_epochs,
                                             self._counter(STEPS), steps_per_epoch)
        if rates.ndim != 2 or rates.shape[0] != n_epochs or np.isnan(rates).any() or \
                (rates < 0).any():
            raise ValueError(f"learning-rate schedule {self._lr!r} must give one finite rate "
                             ">= 0 per epoch or step (rates beyond the dtype's range, inf "
                             f"included, are clamped to its largest); for epochs "
                             f"{first_epoch}..{first_epoch + n_epochs - 1} it gave {rates!r}")
        # a growing schedule, thousands of epochs on, is clamped to what the dtype holds
        return np.minimum(rates, np.finfo(dtype).max).astype(dtype)

    # --------------------------------------------------------- kernel, config
    def slot_groups(self):
        """The state slots the rule uses, as Keras creates its optimizer variables: a
        list of groups (one ``add_optimizer_variables`` call each, its slots
        interleaved per variable), each a tuple of slot indices. Plain SGD: none."""
        return [(0,)]

    def state_in_use(self, n_params):
        """How much of the flat optimizer state, from its start, the rule reads and
        writes (``Update.state_used``, what the per-epoch backup copies): up to its last
        slot, or through the scalars after all ``N_SLOTS`` slots where it has them."""
        if self.n_scalars:
            return kernel.N_SLOTS * n_params + self.n_scalars
        slots = [slot for group in self.slot_groups() for slot in group]
        return (max(slots) + 1) * n_params if slots else 0

    def hyper(self, dtype):
        """The (kernel.N_HYPER,) vector the update kernel reads."""
        positions = {"weight_decay": kernel.WEIGHT_DECAY, "clipvalue": kernel.CLIPVALUE,
                     "global_clipnorm": kernel.GLOBAL_CLIPNORM, "clipnorm": kernel.CLIPNORM,
                     **{key: self._positions.get(key, _HYPER[key][1])
                        for key in self._rule_arguments()}}
        values = np.zeros(kernel.N_HYPER, dtype)
        for key, position in positions.items():  # refusing what the dtype cannot hold
            values[position] = _checks.hyper_in_dtype(
                f"{type(self).__name__} {key}", getattr(self, key) or 0.0, dtype)
        return values

    def get_config(self):
        """Keras' config: plain JSON-able values (a schedule as ``schedules.serialize``
        gives it) that ``from_config`` turns back into an equal optimizer."""
        lr = schedules.serialize(self._lr) if self.scheduled else self._lr
        decay_off = self.weight_decay == 0 and _signature(type(self))["weight_decay"] is None
        return {"name": self.name, "learning_rate": lr,
                "weight_decay": None if decay_off else self.weight_decay,
                **{key: getattr(self, key) for key in _CLIPPING + _KERAS_ONLY},
                **{key: getattr(self, key) for key in _signature(type(self))
                   if key not in _BASE}}

    @classmethod
    def from_config(cls, config):
        """An optimizer of this class from ``get_config()``'s dict (Keras' classmethod),
        or from an earlier fastann config (``"lr"``); unknown keys raise ValueError."""
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict; got "
                            f"{type(config).__name__}")
        unknown = sorted(set(config) - set(_signature(cls)), key=str)
        if unknown:
            raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                             f"{list(_signature(cls))}")
        arguments = dict(config)
        for key in ("learning_rate", "lr"):
            if isinstance(arguments.get(key), dict):
                arguments[key] = schedules.from_config(arguments[key])
        return cls(**arguments)

    def __repr__(self):
        """The learning rate and the arguments that differ from their defaults."""
        defaults = {**_signature(type(self)), "name": type(self).name}
        config = {"learning_rate": self._lr, **{
            key: value for key, value in self.get_config().items()
            if key != "learning_rate" and value != defaults[key]}}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as Keras' SGD.

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.01
    momentum : float in [0, 1], default 0
    nesterov : bool, default False
    weight_decay : float >= 0 or None, default None (off)
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
    gradient_accumulation_steps : Keras' defaults only
    name : str or None, default None ("sgd")
    lr : keyword only, the old spelling of learning_rate
    """

    code, name = kernel.SGD, "sgd"

    def slot_groups(self):
        return [(0,)] if self.momentum else []

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, *, lr=None):
        self._configure(locals())


class RMSprop(Optimizer):
    """RMSprop, as Keras': w -= lr * g / sqrt(ms + epsilon), ms the running mean of g**2
    (centred: of g**2 less the squared running mean of g), optionally through momentum.

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.001
    rho : float in [0, 1), default 0.9
    momentum : float in [0, 1], default 0 (off)
    epsilon : float > 0, default 1e-7
    centered : bool, default False
    weight_decay, clipnorm, clipvalue, global_clipnorm, ..., name, lr : as SGD's
    """

    code, name = kernel.RMSPROP, "rmsprop"
    _positions = {"momentum": kernel.RMSPROP_MOMENTUM}

    def slot_groups(self):  # velocity, momentum, average gradient
        return [(0,)] + ([(1,)] if self.momentum else []) + (
            [(2,)] if self.centered else [])

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, *, lr=None):
        self._configure(locals())


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as Keras' Adam.

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.001
    beta_1 : float in [0, 1), default 0.9
    beta_2 : float in [0, 1), default 0.999
    epsilon : float > 0, default 1e-7
    amsgrad : bool, default False
        Step with the largest second moment so far (Reddi et al.'s AMSGrad), as Keras.
    weight_decay, clipnorm, clipvalue, global_clipnorm, ..., name, lr : as SGD's
    """

    code, name = kernel.ADAM, "adam"

    def slot_groups(self):  # momentum and velocity, then amsgrad's largest velocity
        return [(0, 1)] + ([(2,)] if self.amsgrad else [])

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, *, lr=None):
        self._configure(locals())


class AdamW(Adam):
    """Keras' AdamW: Adam with the decoupled decay w -= lr * weight_decay * w, on by
    default (0.004; None is refused, as Keras does).

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.001
    weight_decay : float >= 0, default 0.004
    beta_1, beta_2, epsilon, amsgrad : as Adam's
    clipnorm, clipvalue, global_clipnorm, ..., name, lr : as SGD's
    """

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-07, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, *, lr=None):
        self._configure(locals())


class Adagrad(Optimizer):
    """Keras' Adagrad: acc += g**2; w -= lr * g / sqrt(acc + epsilon), acc starting at
    ``initial_accumulator_value``.

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.001
    initial_accumulator_value : float >= 0, default 0.1
    epsilon : float > 0, default 1e-7
    weight_decay, clipnorm, clipvalue, global_clipnorm, ..., name, lr : as SGD's
    """

    code, name = kernel.ADAGRAD, "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, *,
                 lr=None):
        self._configure(locals())


class Adamax(Optimizer):
    """Keras' Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 * u, |g|);
    w -= lr * m / ((1 - beta_1**t) * (u + epsilon)).

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    weight_decay, clipnorm, clipvalue, global_clipnorm, ..., name, lr : as SGD's
    """

    code, name = kernel.ADAMAX, "adamax"

    def slot_groups(self):  # momentum and norm (Nadam: momentum and velocity)
        return [(0, 1)]

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, *,
                 lr=None):
        self._configure(locals())


class Nadam(Adamax):
    """Keras' Nadam: Adam with Nesterov momentum through the momentum cache
    u_t = beta_1 (1 - 0.5 * 0.96**t), whose running product is kept in the optimizer
    state (so a resumed or reloaded run goes on bit-identically). Its arguments are
    Adamax's (the same signature in Keras)."""

    code, name = kernel.NADAM, "nadam"
    n_scalars = kernel.N_SCALARS


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop, Adagrad, Adamax, Nadam, AdamW)}


def _class_named(name):
    """The class a name denotes: a key of OPTIMIZERS or a class name (any case), or
    Keras' automatic instance names ("rm_sprop", "adam_w", "adam_1"); else a ValueError
    listing the names."""
    if isinstance(name, str):
        plain = re.sub(r"_\d+$", "", name).replace("_", "").lower()
        if plain in OPTIMIZERS:
            return OPTIMIZERS[plain]
    return lookup(OPTIMIZERS, name, "optimizer")


def get(identifier):
    """An ``Optimizer`` from an instance (returned as is), a name (which gives the
    defaults) or a config dict (``from_config``), as Keras' ``get``."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier)
    return _class_named(identifier)()


def serialize(optimizer):
    """Keras' form: ``{"module", "class_name", "config", "registered_name"}``."""
    return schedules._serialized("keras.optimizers", optimizer)


def deserialize(config, custom_objects=None):
    """An optimizer from ``serialize``'s dict (or what ``from_config`` reads).
    ``custom_objects`` is refused: nothing named in data is imported."""
    if custom_objects:
        raise NotSupportedError("custom_objects: fastann rebuilds its own optimizers only")
    return from_config(config)


def from_config(config):
    """An optimizer from ``serialize()``'s dict, or from a ``get_config()`` dict whose
    "name" tells the class (the default names, Keras' automatic ones), or from an
    earlier fastann config (``{"name": "adam", "lr": ...}``).

    Only fastann's own tables are consulted (``OPTIMIZERS``, ``schedules.SCHEDULES``):
    nothing named in the data is imported. Unknown names or keys raise ValueError, and
    every value is checked by the constructors as if passed by hand. Missing arguments
    take their defaults.
    """
    if not isinstance(config, dict):
        raise TypeError(f"an optimizer config must be a dict; got {type(config).__name__}")
    if "class_name" in config:
        class_name, inner = schedules._unpack(config, "optimizer")
        return _class_named(class_name).from_config(inner)
    return _class_named(config.get("name")).from_config(config)


def saved_config(optimizer):
    """What a model file keeps of ``optimizer``: ``get_config()`` when its name tells its
    class (as every default name does), else ``serialize(optimizer)``, which names it;
    ``from_config`` reads either."""
    config = optimizer.get_config()
    try:
        if _class_named(optimizer.name) is type(optimizer):
            return config
    except ValueError:
        pass
    return serialize(optimizer)


# Keras optimizers fastann does not have: a NotSupportedError naming them, not an AttributeError
KERAS_ONLY = frozenset("""
Adadelta Adafactor Ftrl Lamb Lion LossScaleOptimizer MultiOptimizer Muon OptimizerMap
ScheduleFreeAdamW legacy
""".split())
__getattr__ = keras_only(__name__, "optimizer", KERAS_ONLY,
                         "fastann's optimizers: SGD, RMSprop, Adam, AdamW, Nadam, Adamax, Adagrad")
