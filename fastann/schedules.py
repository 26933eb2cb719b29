"""Learning-rate schedules: Keras 3's, counted in optimizer steps, and fastann's StepDecay.

Give one as an optimizer's learning rate, as in Keras (also as
``fastann.optimizers.schedules``)::

    fa.SGD(learning_rate=fa.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96))

``ExponentialDecay``, ``PiecewiseConstantDecay``, ``InverseTimeDecay``,
``PolynomialDecay``, ``CosineDecay`` (with its warm-up) and ``CosineDecayRestarts`` have
Keras 3's names, positional order, defaults, formulas and configs: ``schedule(step)`` is
the rate of optimizer step ``step``, 0 for the first update (Keras evaluates the schedule
at ``optimizer.iterations`` before each update).

**A rate per step.** ``fit`` evaluates a step schedule at every step of the epochs a
kernel call trains (the steps counted from ``optimizer.iterations``, the model's updates
so far) and the training kernel reads each step's rate: over an epoch of B steps from
step s, ``schedule(s), schedule(s + 1), ..., schedule(s + B - 1)``, as Keras.

``per_epoch=True`` (or ``decay_epochs=``, fastann's earlier spelling of ``decay_steps``
with it) counts the schedule in epochs instead: epoch e trains at ``schedule(e)``, e being
``model.epochs_trained``, counted over every ``fit`` call; this is exact. ``StepDecay``
is per epoch. Step schedules follow the model's step counter, which ``compile`` resets.

``get_config()`` is Keras' dict (with ``"per_epoch": True`` added for a per-epoch one);
``serialize``/``deserialize`` use Keras' ``{"class_name": ..., "config": ...}`` form;
both, and the configs of earlier fastann versions (``{"name": "exponential_decay",
"initial_lr": ..., "decay_epochs": ...}``), rebuild a schedule from this module's own
classes only. A custom schedule subclasses ``LearningRateSchedule`` and defines
``__call__``: it is called with the epoch (fastann's contract) unless the class sets
``per_epoch = False``, when it gets the optimizer step as Keras' custom schedules do. It
trains like a built-in one but cannot be serialised.
"""
import inspect
import math
import numbers

import numpy as np

from ._checks import flag
from ._errors import NotSupportedError
from ._options import lookup



def _number(owner, name, value, low, high=math.inf, low_inclusive=False,
            high_inclusive=False):
    """``value`` as a float, or a ValueError naming ``owner.name`` and the allowed range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if low_inclusive else value > low)
    ok = ok and (value <= high if high_inclusive else value < high)
    if not ok:
        low_text = f"{'>=' if low_inclusive else '>'} {low}"
        high_text = "" if high == math.inf else f" and {'<=' if high_inclusive else '<'} {high}"
        raise ValueError(f"{owner} {name} must be a finite number {low_text}{high_text}; got "
                         f"{value!r}")
    return float(value)


# The checks of the built-in schedules' arguments: (schedule, name, value) -> value, the
# messages quoting the schedule's class.
def _non_negative(schedule, name, value):
    return _number(type(schedule).__name__, name, value, 0, low_inclusive=True)


def _positive(schedule, name, value):
    return _number(type(schedule).__name__, name, value, 0)


def _fraction(schedule, name, value):
    return _number(type(schedule).__name__, name, value, 0, 1, low_inclusive=True,
                   high_inclusive=True)


def _drop(schedule, name, value):
    return _number(type(schedule).__name__, name, value, 0, 1, high_inclusive=True)


def _optional_non_negative(schedule, name, value):
    return None if value is None else _non_negative(schedule, name, value)


def _bool(schedule, name, value):
    return flag(f"{type(schedule).__name__} {name}", value)


def _count(schedule, name, value, low):
    """A number of steps or epochs >= low: whole for steps (Keras documents an int, and
    this catches fastann's earlier positional order), any finite number for a per-epoch
    schedule (fastann's earlier decay_epochs took 2.5)."""
    owner = type(schedule).__name__
    if schedule.per_epoch:
        number = _number(owner, name, value, low, low_inclusive=True)
    else:
        whole = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
            math.isfinite(value) and float(value).is_integer() and value >= low
        if not whole:
            raise ValueError(f"{owner} {name} must be a whole number of optimizer steps >= "
                             f"{low} (Keras' order: initial_learning_rate, {name}, ...; "
                             f"per_epoch=True counts epochs); got {value!r}")
        number = float(value)
    return int(number) if number.is_integer() else number


def _steps(schedule, name, value):
    return _count(schedule, name, value, 1)


def _optional_steps(schedule, name, value):
    return _count(schedule, name, value, 0)


def _whole_epochs(schedule, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{type(schedule).__name__} {name} must be an int >= 1; got "
                         f"{value!r}")
    return int(value)


def _boundaries(schedule, name, value):
    owner = type(schedule).__name__
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{owner} {name} must be a non-empty list of numbers; got {value!r}")
    checked = [_number(owner, name, boundary, -math.inf) for boundary in value]
    if any(b >= c for b, c in zip(checked, checked[1:])):
        raise ValueError(f"{owner} {name} must increase strictly; got {list(value)!r}")
    return [int(b) if b.is_integer() else b for b in checked]


def _values(schedule, name, value):
    if not isinstance(value, (list, tuple)) or len(value) != len(schedule.boundaries) + 1:
        raise ValueError(  # Keras' rule
            f"The length of boundaries should be 1 less than the length of values. "
            f"Received: boundaries={schedule.boundaries} and values={value!r}")
    return [_non_negative(schedule, name, rate) for rate in value]


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is a learning rate. A custom subclass defines
    ``__call__``; with the class attribute ``per_epoch = True`` (the default) it is called
    with the epoch (0-based, counted over the model's life), with ``per_epoch = False``
    with the optimizer step, as Keras. Rates must be finite and >= 0."""

    per_epoch = True
    module = "keras.optimizers.schedules"  # serialize()'s "module"

    def __call__(self, step):
        raise NotImplementedError("a LearningRateSchedule defines __call__(step) -> float")

    def values_at(self, positions):
        """float64 (n,): the rates at the steps (or epochs) ``positions``, (n,)."""
        return np.array([float(self(position)) for position in positions], np.float64)

    def rates(self, first_epoch, n_epochs):
        """float64 (n_epochs,): the rates at first_epoch .. first_epoch + n_epochs - 1."""
        return self.values_at(range(first_epoch, first_epoch + n_epochs))

    def get_config(self):
        raise NotImplementedError(
            f"{type(self).__name__} is a custom schedule: only fastann's own schedules "
            f"({', '.join(sorted(SCHEDULES))}) have a config that can be saved")

    @classmethod
    def from_config(cls, config):
        """A schedule of this class from ``get_config()``'s dict (Keras' classmethod)."""
        if cls not in SCHEDULES.values():
            raise NotImplementedError(f"{cls.__name__} is a custom schedule: it has no "
                                      "config to read")
        return _build(cls, config)


class _Formula(LearningRateSchedule):
    """A built-in schedule: a vectorised formula ``_rate(positions)`` over float64 steps
    (or epochs) and the arguments ``_checks`` lists, in Keras' config order."""

    _checks = {}  # argument -> check(schedule, name, value)

    def _configure(self, arguments, per_epoch=False):
        """Check and keep the constructor's arguments (its ``locals()``)."""
        self.per_epoch = flag(f"{type(self).__name__} per_epoch", per_epoch)
        decay_epochs = arguments.get("decay_epochs")
        if decay_epochs is not None:  # fastann's earlier per-epoch spelling
            if arguments["decay_steps"] is not None:
                raise ValueError(f"{type(self).__name__} takes decay_steps or decay_epochs "
                                 f"(the same count, in epochs), not both")
            self.per_epoch = True
            arguments = {**arguments, "decay_steps": decay_epochs}
        if not isinstance(arguments["name"], str):
            raise TypeError(f"{type(self).__name__} name must be a str; got "
                            f"{arguments['name']!r}")
        self.name = arguments["name"]
        for field, check in self._checks.items():
            setattr(self, field, check(self, field, arguments[field]))

    def _rate(self, positions):
        raise NotImplementedError

    def __call__(self, step):
        return float(self._rate(np.float64(step)))

    def values_at(self, positions):
        with np.errstate(over="ignore", under="ignore"):
            return np.asarray(self._rate(np.asarray(positions, np.float64)), np.float64)

    def get_config(self):
        """Keras' dict (``"per_epoch": True`` added for a per-epoch schedule): plain
        JSON-able values."""
        config = {field: getattr(self, field) for field in self._checks}
        config["name"] = self.name
        if self.per_epoch and "per_epoch" in _parameters(type(self)):
            config["per_epoch"] = True
        return config

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items()
                         if key != "name")
        return f"{type(self).__name__}({args})"


class ExponentialDecay(_Formula):
    """Keras' ``initial_learning_rate * decay_rate ** (step / decay_steps)``;
    ``staircase=True`` floors the exponent, so the rate changes every ``decay_steps``.

    Parameters
    ----------
    initial_learning_rate : float >= 0
    decay_steps : int >= 1
        Optimizer steps per factor ``decay_rate`` (epochs with ``per_epoch=True``).
    decay_rate : float > 0
        Factor per ``decay_steps`` (< 1 decays).
    staircase : bool, default False
    name : str, default "ExponentialDecay"
    decay_epochs : float > 0, keyword only
        fastann's earlier spelling: ``decay_steps`` counted in epochs.
    per_epoch : bool, default False, keyword only
    """

    _checks = {"initial_learning_rate": _non_negative, "decay_steps": _steps,
               "decay_rate": _positive, "staircase": _bool}

    def __init__(self, initial_learning_rate, decay_steps=None, decay_rate=None,
                 staircase=False, name="ExponentialDecay", *, decay_epochs=None,
                 per_epoch=False):
        self._configure(locals(), per_epoch)

    def _rate(self, positions):
        exponent = positions / self.decay_steps
        if self.staircase:
            exponent = np.floor(exponent)
        return self.initial_learning_rate * self.decay_rate ** exponent


class InverseTimeDecay(_Formula):
    """Keras' ``initial_learning_rate / (1 + decay_rate * step / decay_steps)``
    (``staircase=True`` floors ``step / decay_steps``).

    Parameters
    ----------
    initial_learning_rate : float >= 0
    decay_steps : int >= 1
    decay_rate : float >= 0
    staircase : bool, default False
    name : str, default "InverseTimeDecay"
    decay_epochs, per_epoch : keyword only, as ExponentialDecay's
    """

    _checks = {"initial_learning_rate": _non_negative, "decay_steps": _steps,
               "decay_rate": _non_negative, "staircase": _bool}

    def __init__(self, initial_learning_rate, decay_steps=None, decay_rate=None,
                 staircase=False, name="InverseTimeDecay", *, decay_epochs=None,
                 per_epoch=False):
        self._configure(locals(), per_epoch)

    def _rate(self, positions):
        ratio = positions / self.decay_steps
        if self.staircase:
            ratio = np.floor(ratio)
        return self.initial_learning_rate / (1 + self.decay_rate * ratio)


class PolynomialDecay(_Formula):
    """Keras' ``(initial_learning_rate - end_learning_rate) * (1 - s / decay_steps) **
    power + end_learning_rate`` with ``s = min(step, decay_steps)``; ``cycle=True``
    stretches ``decay_steps`` to the first multiple of it at or above ``step`` instead.

    Parameters
    ----------
    initial_learning_rate : float >= 0
    decay_steps : int >= 1
    end_learning_rate : float >= 0, default 0.0001
    power : float >= 0, default 1.0
    cycle : bool, default False
    name : str, default "PolynomialDecay"
    decay_epochs, per_epoch : keyword only, as ExponentialDecay's
    """

    _checks = {"initial_learning_rate": _non_negative, "decay_steps": _steps,
               "end_learning_rate": _non_negative, "power": _non_negative,
               "cycle": _bool}

    def __init__(self, initial_learning_rate, decay_steps=None, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay", *, decay_epochs=None,
                 per_epoch=False):
        self._configure(locals(), per_epoch)

    def _rate(self, positions):
        if self.cycle:  # Keras: at step 0 the multiplier is 1
            multiplier = np.where(positions == 0, 1.0, np.ceil(positions / self.decay_steps))
            fraction = positions / (self.decay_steps * multiplier)
        else:
            fraction = np.minimum(positions, self.decay_steps) / self.decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate)
                * (1 - fraction) ** self.power + self.end_learning_rate)


class CosineDecay(_Formula):
    """Keras' cosine decay, with its optional linear warm-up: with ``warmup_target``,
    the rate rises linearly from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then ``target * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2
    + alpha)`` with ``s`` the steps since (at most ``decay_steps``), ``target`` being
    ``warmup_target`` or, without warm-up, ``initial_learning_rate``.

    Parameters
    ----------
    initial_learning_rate : float >= 0
    decay_steps : int >= 1
    alpha : float in [0, 1], default 0
        The final rate as a fraction of the decay's starting rate.
    name : str, default "CosineDecay"
    warmup_target : float >= 0 or None, default None (no warm-up)
    warmup_steps : int >= 0, default 0
    decay_epochs, per_epoch : keyword only, as ExponentialDecay's
    """

    _checks = {"initial_learning_rate": _non_negative, "decay_steps": _steps,
               "alpha": _fraction, "warmup_target": _optional_non_negative,
               "warmup_steps": _optional_steps}

    def __init__(self, initial_learning_rate, decay_steps=None, alpha=0.0,
                 name="CosineDecay", warmup_target=None, warmup_steps=0, *,
                 decay_epochs=None, per_epoch=False):
        self._configure(locals(), per_epoch)

    def _decay(self, since, start):
        cosine = 0.5 * (1 + np.cos(np.pi * since / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def _rate(self, positions):
        if self.warmup_target is None:
            return self._decay(np.minimum(positions, self.decay_steps),
                               self.initial_learning_rate)
        positions = np.minimum(positions, self.decay_steps + self.warmup_steps)
        warming = positions < self.warmup_steps
        warm_up = self.initial_learning_rate + (
            self.warmup_target - self.initial_learning_rate) * (
            positions / (self.warmup_steps or 1))
        return np.where(warming, warm_up,
                        self._decay(positions - self.warmup_steps, self.warmup_target))


class CosineDecayRestarts(_Formula):
    """Keras' SGDR: cosine decays from ``initial_learning_rate`` (times ``m_mul`` per
    restart) to ``alpha`` times it, the i-th lasting ``first_decay_steps * t_mul**i``.

    Parameters
    ----------
    initial_learning_rate : float >= 0
    first_decay_steps : int >= 1
    t_mul : float > 0, default 2.0
        Growth of each period's length.
    m_mul : float >= 0, default 1.0
        Factor on each period's starting rate.
    alpha : float in [0, 1], default 0
    name : str, default "SGDRDecay"
    per_epoch : bool, default False, keyword only
    """

    _checks = {"initial_learning_rate": _non_negative, "first_decay_steps": _steps,
               "t_mul": _positive, "m_mul": _non_negative, "alpha": _fraction}

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay", *, per_epoch=False):
        self._configure(locals(), per_epoch)

    def _rate(self, positions):
        fraction = positions / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:  # Keras' closed form of the period a step falls in
            restart = np.floor(np.log(1 - fraction * (1 - self.t_mul)) / np.log(self.t_mul))
            done = (1 - self.t_mul ** restart) / (1 - self.t_mul)
            fraction = (fraction - done) / self.t_mul ** restart
        cosine = 0.5 * self.m_mul ** restart * (1 + np.cos(np.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)






class PiecewiseConstantDecay(_Formula):
    """Keras' piecewise constant rate: ``values[0]`` while ``step <= boundaries[0]``,
    ``values[i]`` for ``boundaries[i - 1] < step <= boundaries[i]``, ``values[-1]``
    after the last boundary.

    Parameters
    ----------
    boundaries : list of numbers, strictly increasing, non-empty
    values : list of float >= 0, one more than ``boundaries``
    name : str, default "PiecewiseConstant"
    per_epoch : bool, default False, keyword only
        Count the boundaries in epochs.
    """

    _checks = {"boundaries": _boundaries, "values": _values}

    def __init__(self, boundaries, values, name="PiecewiseConstant", *, per_epoch=False):
        self._configure(locals(), per_epoch)

    def _rate(self, positions):
        index = np.searchsorted(np.asarray(self.boundaries, np.float64), positions,
                                side="left")
        return np.asarray(self.values, np.float64)[index]


class StepDecay(_Formula):
    """fastann's per-epoch step decay, ``initial_learning_rate * drop ** floor(epoch /
    epochs_per_drop)``: the rate is multiplied by ``drop`` every ``epochs_per_drop``
    epochs (as PyTorch's ``StepLR(step_size, gamma)``; epoch 0 trains at the initial
    rate).

    Parameters
    ----------
    initial_learning_rate : float >= 0
    drop : float in (0, 1]
        Factor applied at each drop.
    epochs_per_drop : int >= 1
    name : str, default "StepDecay"
    """

    module = "fastann.schedules"
    _checks = {"initial_learning_rate": _non_negative,
               "drop": _drop,
               "epochs_per_drop": _whole_epochs}

    def __init__(self, initial_learning_rate, drop, epochs_per_drop, name="StepDecay"):
        self._configure(locals(), per_epoch=True)

    def _rate(self, positions):
        return self.initial_learning_rate * self.drop ** np.floor(positions /
                                                                   self.epochs_per_drop)


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                           InverseTimeDecay, PolynomialDecay, CosineDecay,
                                           CosineDecayRestarts, StepDecay)}
# The "name" of fastann's earlier configs said which class: it is not an instance name.
_EARLIER_NAMES = {"exponential_decay": ExponentialDecay, "inverse_time_decay": InverseTimeDecay,
                  "cosine_decay": CosineDecay, "step_decay": StepDecay}
_EARLIER_KEYS = {"initial_lr": "initial_learning_rate"}
_SERIALIZED_KEYS = {"class_name", "config", "module", "registered_name"}


def _parameters(cls):
    """{name: inspect.Parameter} of the constructor of ``cls``."""
    return dict(inspect.signature(cls).parameters)


# Keras' default instance names ("PiecewiseConstant", "SGDRDecay", ...) name their class.
_DEFAULT_NAMES = {_parameters(cls)["name"].default: cls for cls in SCHEDULES.values()}


def _build(cls, config):
    """``cls(**config)`` once the keys are checked (unknown ones refused, fastann's
    earlier spellings renamed)."""
    arguments = {_EARLIER_KEYS.get(key, key): value for key, value in config.items()}
    parameters = _parameters(cls)
    unknown = sorted(set(arguments) - set(parameters), key=str)
    if unknown:
        raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                         f"{list(parameters)}")
    missing = [name for name, parameter in parameters.items()
               if parameter.default is parameter.empty and name not in arguments]
    if missing:
        raise ValueError(f"{cls.__name__} config lacks {missing}")
    return cls(**arguments)


def _serialized(module, thing):
    """Keras' ``{"module", "class_name", "config", "registered_name"}`` of ``thing``."""
    return {"module": module, "class_name": type(thing).__name__,
            "config": thing.get_config(), "registered_name": None}


def _unpack(config, what):
    """(class_name, config) of a dict in ``_serialized``'s form, checked."""
    unknown = sorted(set(config) - _SERIALIZED_KEYS, key=str)
    inner = config.get("config", {})
    if unknown or not isinstance(inner, dict):
        raise ValueError(f"a serialized {what} has the keys {sorted(_SERIALIZED_KEYS)}, its "
                         f"config a dict; got {config!r}")
    return config["class_name"], inner


def serialize(schedule):
    """Keras' form, ``{"module", "class_name", "config", "registered_name"}``, of a
    built-in schedule (a custom one raises NotImplementedError)."""
    return _serialized(type(schedule).module, schedule)


def deserialize(config, custom_objects=None):
    """A built-in schedule from ``serialize``'s dict (or what ``from_config`` reads).
    ``custom_objects`` is refused: nothing named in data is imported."""
    if custom_objects:
        raise NotSupportedError("custom_objects: fastann rebuilds its own schedules only")
    return from_config(config)


def from_config(config):
    """A built-in schedule from ``serialize()``'s dict, a ``get_config()`` dict whose
    "name" is its default (``"ExponentialDecay"``, ...) or a class name, or a config of
    an earlier fastann (``"name": "exponential_decay"``, ``"initial_lr"``,
    ``"decay_epochs"``). Only ``SCHEDULES`` is consulted, and every value is checked by
    the constructor."""
    if not isinstance(config, dict):
        raise TypeError(f"a schedule config must be a dict; got {type(config).__name__}")
    if "class_name" in config:
        class_name, inner = _unpack(config, "schedule")
        return _build(_class_named(class_name), inner)
    name = config.get("name")
    if name in _EARLIER_NAMES:
        return _build(_EARLIER_NAMES[name], {k: v for k, v in config.items() if k != "name"})
    return _build(_class_named(name), config)


def _class_named(name):
    """The built-in class ``name`` (a class or default name, any case) denotes, or a
    ValueError listing the class names."""
    if isinstance(name, str) and name in _DEFAULT_NAMES:
        return _DEFAULT_NAMES[name]
    return lookup({key.lower(): cls for key, cls in SCHEDULES.items()}, name,
                  "learning-rate schedule")


def rate_at(schedule, epoch, step):
    """The rate ``schedule`` gives the update after ``epoch`` epochs and ``step`` steps."""
    if schedule.per_epoch:
        return float(schedule.rates(epoch, 1)[0])
    return float(schedule.values_at([step])[0])


def training_rates(schedule, first_epoch, n_epochs, first_step, steps_per_epoch):
    """float64 (n_epochs, k), what the training kernel reads: a per-epoch schedule's
    rate of epochs first_epoch .. first_epoch + n_epochs - 1 (k = 1), or a step
    schedule's rate at each step of those epochs, the first starting at optimizer step
    ``first_step`` and each ``steps_per_epoch`` long (k = steps_per_epoch)."""
    if schedule.per_epoch:
        return np.asarray(schedule.rates(first_epoch, n_epochs), np.float64).reshape(-1, 1)
    steps = first_step + np.arange(n_epochs * steps_per_epoch, dtype=np.float64)
    return np.asarray(schedule.values_at(steps), np.float64).reshape(n_epochs,
                                                                    steps_per_epoch)
