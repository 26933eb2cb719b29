"""Optimizers: hyper-parameters, checked on creation, and the kernel code they select.

The update rules themselves are kernels (``fastann.kernels.optimizers``); their formulas
and defaults are Keras 3's:

==========  ==============================================================================
SGD         ``lr=0.01, momentum=0.0, nesterov=False``. ``w -= lr * g``; with momentum
            ``v = momentum * v - lr * g; w += v`` (Nesterov: ``w += momentum * v - lr * g``)
Adam        ``lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7``, bias-corrected:
            ``w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``
            (PyTorch's default epsilon is 1e-8)
RMSprop     ``lr=0.001, rho=0.9, epsilon=1e-7``, uncentred, no momentum:
            ``ms = rho * ms + (1 - rho) * g**2; w -= lr * g / sqrt(ms + epsilon)``
            (PyTorch's defaults are ``alpha=0.99, eps=1e-8`` with eps outside the root)
Adagrad     ``learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7``:
            ``acc += g**2; w -= lr * g / sqrt(acc + epsilon)``
Adamax      ``learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7``:
            ``m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|);
            w -= lr * m / ((1 - beta_1**t) * (u + epsilon))``
Nadam       ``learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7``, Keras'
            momentum cache: ``u_t = beta_1 * (1 - 0.5 * 0.96**t); P_t = u_1 * ... * u_t``;
            m, v as Adam's; ``m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)``;
            ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``
AdamW       Adam with ``weight_decay=0.004`` by default (Keras' AdamW)
==========  ==============================================================================

Clipping (Keras 3's, at most one of the three; None, the default, is off), applied to
the gradient before anything else: ``clipnorm`` scales each variable's gradient (a
Dense kernel, a bias, a BatchNormalization gamma or beta) by
``min(1, clipnorm / ||g_var||)``; ``global_clipnorm`` scales the whole gradient by
``min(1, global_clipnorm / ||g||)``, the norm over every parameter; ``clipvalue`` clips
each entry to ``[-clipvalue, clipvalue]``.

``weight_decay`` (default 0, AdamW's 0.004) is Keras 3's decoupled decay: after
clipping and before the rule every trainable variable (kernels, biases,
BatchNormalization's gamma and beta) shrinks by ``w -= lr * weight_decay * w``. Classic
L2 in the loss and gradient is ``kernel_regularizer=fastann.regularizers.L2(...)``, as in
Keras. ``learning_rate=`` is accepted as Keras' spelling of ``lr``.

The learning rate is a number or a ``fastann.schedules.LearningRateSchedule`` (one rate
per epoch). ``get_config()`` / ``from_config(dict)`` turn an optimizer into a plain
JSON-able dict and back, e.g. ``{"name": "adam", "lr": 0.001, "beta_1": 0.9, ...}``, the
``"lr"`` of a schedule being the schedule's own config.
"""
import math
import numbers
import sys

import numpy as np

from . import schedules
from ._options import lookup
from .kernels import optimizers as kernel


def _check(name, value, low, high=math.inf, low_inclusive=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= low if low_inclusive else value > low)
    if not ok or value >= high:
        low_text = f">= {low}" if low_inclusive else f"> {low}"
        high_text = f" and < {high}" if high != math.inf else ""
        raise ValueError(f"{name} must be a finite number {low_text}{high_text}; got {value!r}")
    return float(value)


MIN_LR = sys.float_info.min  # the smallest rate callbacks lower a learning rate to


class Optimizer:
    """Base: a learning rate (number or schedule), the decoupled ``weight_decay``, at most
    one clipping option (Keras' rule) and a hyper-parameter vector for the update kernel.
    Subclasses list their own arguments in ``_fields``."""

    code = None
    name = None
    _fields = ()

    def __init__(self, lr, weight_decay, learning_rate=None, clipvalue=None,
                 global_clipnorm=None, clipnorm=None):
        chosen = {key: value for key, value in (("clipnorm", clipnorm),
                                                 ("clipvalue", clipvalue),
                                                 ("global_clipnorm", global_clipnorm))
                  if value is not None}
        if len(chosen) > 1:  # Keras' rule and message
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                             f"be set. Received: clipnorm={clipnorm}, "
                             f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        clipping = {key: _check(key, value, 0) for key, value in chosen.items()}
        decay = 0.0 if weight_decay is None else weight_decay
        decay = _check("weight_decay", decay, 0, low_inclusive=True)
        self.lr = lr if learning_rate is None else learning_rate
        self.weight_decay = decay
        for key in _CLIPPING:
            setattr(self, key, clipping.get(key))

    @property
    def lr(self):
        """The learning rate: a float, or a ``LearningRateSchedule`` of the epoch.
        Assigning a number (as ``ReduceLROnPlateau`` does) takes effect from the next
        kernel call of ``fit``."""
        return self._lr

    @lr.setter
    def lr(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._lr = value
        else:
            self._lr = _check(f"{type(self).__name__} lr", value, 0)

    learning_rate = lr  # Keras' name

    @property
    def scheduled(self):
        """True when the learning rate is a schedule."""
        return isinstance(self._lr, schedules.LearningRateSchedule)

    def learning_rates(self, first_epoch, n_epochs, dtype=np.float64):
        """(n_epochs,) array of ``dtype``: the rate of each epoch from ``first_epoch``
        (counted over the model's life), as ``train_epochs`` reads it."""
        if not self.scheduled:
            return np.full(n_epochs, min(self._lr, float(np.finfo(dtype).max)), dtype)
        with np.errstate(over="ignore", under="ignore"):  # a long run may reach the bounds
            rates = np.asarray(self._lr.rates(first_epoch, n_epochs), np.float64)
        if rates.shape != (n_epochs,) or np.isnan(rates).any() or (rates < 0).any():
            raise ValueError(f"learning-rate schedule {self._lr!r} must give one finite rate "
                             ">= 0 per epoch (rates beyond the dtype's range, inf included, "
                             f"are clamped to its largest); for epochs {first_epoch}.."
                             f"{first_epoch + n_epochs - 1} it gave {rates!r}")
        # a growing schedule, thousands of epochs on, is clamped to what the dtype holds
        return np.minimum(rates, np.finfo(dtype).max).astype(dtype)

    def hyper(self, dtype):
        """The (kernel.N_HYPER,) vector the update kernel reads."""
        values = np.zeros(kernel.N_HYPER, dtype)
        values[kernel.WEIGHT_DECAY] = self.weight_decay
        values[kernel.CLIPVALUE] = self.clipvalue or 0.0
        values[kernel.GLOBAL_CLIPNORM] = self.global_clipnorm or 0.0
        values[kernel.CLIPNORM] = self.clipnorm or 0.0
        self._fill(values)
        return values

    def _fill(self, values):
        pass

    def get_config(self):
        """{"name": ..., "lr": number or schedule config, argument: value, ...}: plain
        JSON-able values that ``from_config`` turns back into an equal optimizer."""
        lr = self._lr.get_config() if self.scheduled else self._lr
        clipping = {key: getattr(self, key) for key in _CLIPPING
                    if getattr(self, key) is not None}
        return {"name": self.name, "lr": lr,
                **{field: getattr(self, field) for field in self._fields},
                "weight_decay": self.weight_decay, **clipping}

    def __repr__(self):
        lr = repr(self._lr)
        args = "".join(f", {field}={getattr(self, field)!r}"
                       for field in self._fields + ("weight_decay",))
        args += "".join(f", {key}={getattr(self, key)!r}" for key in _CLIPPING
                        if getattr(self, key) is not None)
        return f"{type(self).__name__}(lr={lr}{args})"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as Keras' SGD.

    Parameters
    ----------
    lr : float > 0 or LearningRateSchedule, default 0.01
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.SGD, "sgd"
    _fields = ("momentum", "nesterov")

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, *,
                 learning_rate=None, clipvalue=None, global_clipnorm=None, clipnorm=None):
        super().__init__(lr, weight_decay, learning_rate, clipvalue, global_clipnorm,
                         clipnorm)
        self.momentum = _check("momentum", momentum, 0, 1, low_inclusive=True)
        self.nesterov = schedules._flag("SGD", "nesterov", nesterov)

    def _fill(self, values):
        values[kernel.MOMENTUM] = self.momentum
        values[kernel.NESTEROV] = self.nesterov


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as Keras' Adam.

    Parameters
    ----------
    lr : float > 0 or LearningRateSchedule, default 0.001
    beta_1 : float in [0, 1), default 0.9
    beta_2 : float in [0, 1), default 0.999
    epsilon : float > 0, default 1e-7
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.ADAM, "adam"
    _fields = ("beta_1", "beta_2", "epsilon")

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None, clipvalue=None, global_clipnorm=None, clipnorm=None):
        super().__init__(lr, weight_decay, learning_rate, clipvalue, global_clipnorm,
                         clipnorm)
        self.beta_1 = _check("beta_1", beta_1, 0, 1, low_inclusive=True)
        self.beta_2 = _check("beta_2", beta_2, 0, 1, low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.BETA_1] = self.beta_1
        values[kernel.BETA_2] = self.beta_2
        values[kernel.EPSILON] = self.epsilon


class RMSprop(Optimizer):
    """RMSprop, as Keras' (uncentred, no momentum): w -= lr * g / sqrt(ms + epsilon).

    Parameters
    ----------
    lr : float > 0 or LearningRateSchedule, default 0.001
    rho : float in [0, 1), default 0.9
    epsilon : float > 0, default 1e-7
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.RMSPROP, "rmsprop"
    _fields = ("rho", "epsilon")

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None, clipvalue=None, global_clipnorm=None, clipnorm=None):
        super().__init__(lr, weight_decay, learning_rate, clipvalue, global_clipnorm,
                         clipnorm)
        self.rho = _check("rho", rho, 0, 1, low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.RHO] = self.rho
        values[kernel.EPSILON] = self.epsilon


class Adagrad(Optimizer):
    """Keras' Adagrad: acc += g**2; w -= lr * g / sqrt(acc + epsilon), acc starting at
    ``initial_accumulator_value``.

    Parameters
    ----------
    learning_rate : float > 0 or LearningRateSchedule, default 0.001
    initial_accumulator_value : float >= 0, default 0.1
    epsilon : float > 0, default 1e-7
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.ADAGRAD, "adagrad"
    _fields = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=0.0, *, lr=None, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(learning_rate, weight_decay, lr, clipvalue, global_clipnorm,
                         clipnorm)
        self.initial_accumulator_value = _check("initial_accumulator_value",
                                                initial_accumulator_value, 0,
                                                low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.INITIAL_ACCUMULATOR] = self.initial_accumulator_value
        values[kernel.EPSILON] = self.epsilon


class Adamax(Optimizer):
    """Keras' Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 * u, |g|);
    w -= lr * m / ((1 - beta_1**t) * (u + epsilon)).

    Parameters
    ----------
    learning_rate : float > 0 or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.ADAMAX, "adamax"
    _fields = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=0.0, *, lr=None, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(learning_rate, weight_decay, lr, clipvalue, global_clipnorm,
                         clipnorm)
        self.beta_1 = _check("beta_1", beta_1, 0, 1, low_inclusive=True)
        self.beta_2 = _check("beta_2", beta_2, 0, 1, low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.BETA_1] = self.beta_1
        values[kernel.BETA_2] = self.beta_2
        values[kernel.EPSILON] = self.epsilon


class Nadam(Adamax):
    """Keras' Nadam: Adam with Nesterov momentum through the momentum cache
    u_t = beta_1 (1 - 0.5 * 0.96**t), whose running product is kept in the optimizer
    state (so a resumed or reloaded run goes on bit-identically).

    Parameters
    ----------
    learning_rate : float > 0 or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    weight_decay : float >= 0, default 0
        Decoupled decay: w -= lr * weight_decay * w each step.
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    code, name = kernel.NADAM, "nadam"


class AdamW(Adam):
    """Keras' AdamW: Adam with the decoupled decay w -= lr * weight_decay * w, on by
    default (0.004). ``amsgrad=True`` is not supported.

    Parameters
    ----------
    learning_rate : float > 0 or LearningRateSchedule, default 0.001
    weight_decay : float >= 0, default 0.004
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    amsgrad : False
    clipnorm, clipvalue, global_clipnorm : float > 0 or None (at most one)
    """

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, *, lr=None, clipvalue=None,
                 global_clipnorm=None, clipnorm=None):
        if weight_decay is None:  # Keras' message
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        if amsgrad is not False:
            raise ValueError(f"AdamW amsgrad must be False (fastann does not support the "
                             f"AMSGrad variant); got amsgrad={amsgrad!r}")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay,
                         learning_rate=lr, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, clipnorm=clipnorm)


_CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop, Adagrad, Adamax, Nadam, AdamW)}


def get(optimizer):
    """An ``Optimizer`` from an instance or a name (which gives the defaults)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    return lookup(OPTIMIZERS, optimizer, "optimizer")()


def from_config(config):
    """An optimizer from ``Optimizer.get_config()``'s dict.

    Only fastann's own tables are consulted (``OPTIMIZERS``, ``schedules.SCHEDULES``):
    nothing named in the data is imported. Unknown names or keys raise ValueError, and
    every value is checked by the constructors as if passed by hand. Missing arguments
    take their defaults.
    """
    if not isinstance(config, dict):
        raise TypeError(f"an optimizer config must be a dict; got {type(config).__name__}")
    arguments = dict(config)
    cls = lookup(OPTIMIZERS, arguments.pop("name", None), "optimizer")
    allowed = ("lr",) + cls._fields + ("weight_decay",) + _CLIPPING
    unknown = sorted(set(arguments) - set(allowed), key=str)
    if unknown:
        raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                         f"'name' and {list(allowed)}")
    if isinstance(arguments.get("lr"), dict):
        arguments["lr"] = schedules.from_config(arguments["lr"])
    return cls(**arguments)
