"""Learning-rate schedules: the learning rate as a function of the epoch.

Give one as an optimizer's learning rate, as in Keras::

    fa.SGD(lr=fa.schedules.ExponentialDecay(0.1, decay_rate=0.5, decay_epochs=10))

The training kernel takes one learning rate per epoch, so schedules are per *epoch*
(Keras' are per step). ``fit`` evaluates the schedule at the *absolute* epoch index,
``model.epochs_trained`` (0 for the model's first epoch, counted over every ``fit``
call), so a second ``fit`` call, or a saved and resumed model, continues the schedule
where it stopped rather than starting it again.

Built-in schedules are listed in ``SCHEDULES`` (name -> class); ``get_config()`` gives a
plain JSON-able dict and ``from_config(dict)`` rebuilds one from that table only.
A custom schedule subclasses ``LearningRateSchedule`` and defines ``__call__(epoch)``; it
trains like a built-in one but cannot be serialised.
"""
import inspect
import math
import numbers

import numpy as np

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


def _flag(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner} {name} must be True or False; got {value!r}")
    return bool(value)


class LearningRateSchedule:
    """Base class: ``schedule(epoch)`` is the learning rate of epoch ``epoch`` (0-based,
    counted over the model's life). Subclass it and define ``__call__`` for a custom
    schedule; rates must be finite and >= 0."""

    name = None  # the SCHEDULES key of a built-in schedule

    def __call__(self, epoch):
        raise NotImplementedError("a LearningRateSchedule defines __call__(epoch) -> float")

    def rates(self, first_epoch, n_epochs):
        """float64 (n_epochs,): the rates of epochs first_epoch .. first_epoch + n_epochs - 1."""
        return np.array([float(self(epoch))
                         for epoch in range(first_epoch, first_epoch + n_epochs)], np.float64)

    def get_config(self):
        raise NotImplementedError(
            f"{type(self).__name__} is a custom schedule: only fastann's own schedules "
            f"({', '.join(sorted(SCHEDULES))}) have a config that can be saved")


class _Formula(LearningRateSchedule):
    """A built-in schedule: a vectorised formula ``_rate(epochs)`` over float64 epochs and
    the constructor arguments listed in ``_fields`` (its config)."""

    _fields = ()

    def _rate(self, epochs):
        raise NotImplementedError

    def __call__(self, epoch):
        return float(self._rate(np.float64(epoch)))

    def rates(self, first_epoch, n_epochs):
        epochs = np.arange(first_epoch, first_epoch + n_epochs, dtype=np.float64)
        return np.asarray(self._rate(epochs), np.float64)

    def get_config(self):
        """{"name": ..., argument: value, ...}: plain JSON-able values."""
        return {"name": self.name, **{field: getattr(self, field) for field in self._fields}}

    def __repr__(self):
        args = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._fields)
        return f"{type(self).__name__}({args})"


class StepDecay(_Formula):
    """``initial_lr * drop ** floor(epoch / epochs_per_drop)``: the rate is multiplied by
    ``drop`` every ``epochs_per_drop`` epochs (as PyTorch's ``StepLR(step_size, gamma)``;
    epoch 0 trains at ``initial_lr``).

    Parameters
    ----------
    initial_lr : float > 0
    drop : float in (0, 1]
        Factor applied at each drop.
    epochs_per_drop : int >= 1
    """

    name = "step_decay"
    _fields = ("initial_lr", "drop", "epochs_per_drop")

    def __init__(self, initial_lr, drop, epochs_per_drop):
        self.initial_lr = _number("StepDecay", "initial_lr", initial_lr, 0)
        self.drop = _number("StepDecay", "drop", drop, 0, 1, high_inclusive=True)
        if isinstance(epochs_per_drop, bool) or not isinstance(
                epochs_per_drop, numbers.Integral) or epochs_per_drop < 1:
            raise ValueError(f"StepDecay epochs_per_drop must be an int >= 1; got "
                             f"{epochs_per_drop!r}")
        self.epochs_per_drop = int(epochs_per_drop)

    def _rate(self, epochs):
        return self.initial_lr * self.drop ** np.floor(epochs / self.epochs_per_drop)


class ExponentialDecay(_Formula):
    """``initial_lr * decay_rate ** (epoch / decay_epochs)``, Keras' ``ExponentialDecay``
    counted in epochs; with ``staircase=True`` the exponent is floored, so the rate
    changes only every ``decay_epochs`` epochs.

    Parameters
    ----------
    initial_lr : float > 0
    decay_rate : float > 0
        Factor per ``decay_epochs`` epochs (< 1 decays).
    decay_epochs : float > 0
    staircase : bool, default False
    """

    name = "exponential_decay"
    _fields = ("initial_lr", "decay_rate", "decay_epochs", "staircase")

    def __init__(self, initial_lr, decay_rate, decay_epochs, staircase=False):
        self.initial_lr = _number("ExponentialDecay", "initial_lr", initial_lr, 0)
        self.decay_rate = _number("ExponentialDecay", "decay_rate", decay_rate, 0)
        self.decay_epochs = _number("ExponentialDecay", "decay_epochs", decay_epochs, 0)
        self.staircase = _flag("ExponentialDecay", "staircase", staircase)

    def _rate(self, epochs):
        exponent = epochs / self.decay_epochs
        if self.staircase:
            exponent = np.floor(exponent)
        return self.initial_lr * self.decay_rate ** exponent


class InverseTimeDecay(_Formula):
    """``initial_lr / (1 + decay_rate * epoch / decay_epochs)``, Keras' ``InverseTimeDecay``
    counted in epochs (``staircase=True`` floors ``epoch / decay_epochs``).

    Parameters
    ----------
    initial_lr : float > 0
    decay_rate : float >= 0
    decay_epochs : float > 0
    staircase : bool, default False
    """

    name = "inverse_time_decay"
    _fields = ("initial_lr", "decay_rate", "decay_epochs", "staircase")

    def __init__(self, initial_lr, decay_rate, decay_epochs, staircase=False):
        self.initial_lr = _number("InverseTimeDecay", "initial_lr", initial_lr, 0)
        self.decay_rate = _number("InverseTimeDecay", "decay_rate", decay_rate, 0,
                                  low_inclusive=True)
        self.decay_epochs = _number("InverseTimeDecay", "decay_epochs", decay_epochs, 0)
        self.staircase = _flag("InverseTimeDecay", "staircase", staircase)

    def _rate(self, epochs):
        ratio = epochs / self.decay_epochs
        if self.staircase:
            ratio = np.floor(ratio)
        return self.initial_lr / (1 + self.decay_rate * ratio)


class CosineDecay(_Formula):
    """Cosine annealing from ``initial_lr`` down to ``alpha * initial_lr`` over
    ``decay_epochs`` epochs, then constant (Keras' ``CosineDecay`` without warm-up,
    counted in epochs): ``initial_lr * ((1 - alpha) * (1 + cos(pi * e / decay_epochs)) / 2
    + alpha)`` with ``e = min(epoch, decay_epochs)``.

    Parameters
    ----------
    initial_lr : float > 0
    decay_epochs : float > 0
    alpha : float in [0, 1], default 0
        The final rate as a fraction of ``initial_lr`` (0 ends at a rate of zero).
    """

    name = "cosine_decay"
    _fields = ("initial_lr", "decay_epochs", "alpha")

    def __init__(self, initial_lr, decay_epochs, alpha=0.0):
        self.initial_lr = _number("CosineDecay", "initial_lr", initial_lr, 0)
        self.decay_epochs = _number("CosineDecay", "decay_epochs", decay_epochs, 0)
        self.alpha = _number("CosineDecay", "alpha", alpha, 0, 1, low_inclusive=True,
                             high_inclusive=True)

    def _rate(self, epochs):
        progress = np.minimum(epochs, self.decay_epochs) / self.decay_epochs
        cosine = 0.5 * (1 + np.cos(np.pi * progress))
        return self.initial_lr * ((1 - self.alpha) * cosine + self.alpha)


SCHEDULES = {cls.name: cls for cls in (StepDecay, ExponentialDecay, InverseTimeDecay,
                                       CosineDecay)}


def from_config(config):
    """A built-in schedule from ``get_config()``'s dict; only names of ``SCHEDULES`` are
    accepted, and every value is checked by the schedule's constructor."""
    if not isinstance(config, dict):
        raise TypeError(f"a schedule config must be a dict; got {type(config).__name__}")
    arguments = dict(config)
    cls = lookup(SCHEDULES, arguments.pop("name", None), "learning-rate schedule")
    unknown = sorted(set(arguments) - set(cls._fields), key=str)
    if unknown:
        raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                         f"'name' and {list(cls._fields)}")
    missing = [name for name in required_arguments(cls) if name not in arguments]
    if missing:
        raise ValueError(f"{cls.__name__} config lacks {missing}")
    return cls(**arguments)


def required_arguments(cls):
    """Names of the constructor arguments of ``cls`` that have no default."""
    return [parameter.name for parameter in inspect.signature(cls).parameters.values()
            if parameter.default is parameter.empty and parameter.kind in (
                parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]
