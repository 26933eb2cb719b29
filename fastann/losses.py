"""The loss table: name → kernel code, required output activation, and target encoding.

Each encoder checks targets as the user gave them and returns a float (n, n_out) array
in the model's dtype, the one shape every loss kernel reads.
"""
import math
import numbers
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from ._options import Configured, lookup
from .kernels import losses as codes


def _as_columns(y, n_out, loss_name):
    """y as (n, n_out): (n,) is accepted for a single output."""
    if y.ndim == 1 and n_out == 1:
        return y.reshape(-1, 1)
    if y.ndim == 2 and y.shape[1] == n_out:
        return y
    expected = "(n_samples,) or (n_samples, 1)" if n_out == 1 else f"(n_samples, {n_out})"
    raise ValueError(f"y for {loss_name} with {n_out} output unit(s) must have shape "
                     f"{expected}; got shape {y.shape}")


def binary_targets(y, n_out, dtype):
    y = _as_columns(y, n_out, "binary_crossentropy")
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise ValueError("y for binary_crossentropy must hold labels 0 or 1; got "
                         f"{np.unique(y[bad])[:5].tolist()}")
    return y.astype(dtype)


def regression_targets(y, n_out, dtype):
    return _as_columns(y, n_out, "mean_squared_error").astype(dtype)


def one_hot_targets(y, n_out, dtype):
    if y.ndim != 2 or y.shape[1] != n_out:
        hint = (" For integer class labels use loss='sparse_categorical_crossentropy'."
                if y.ndim == 1 else "")
        raise ValueError(f"y for categorical_crossentropy must be one-hot of shape "
                         f"(n_samples, {n_out}) to match the output layer; got shape "
                         f"{y.shape}.{hint}")
    if ((y < 0) | (y > 1)).any():
        raise ValueError("y for categorical_crossentropy must hold class probabilities in "
                         "[0, 1] (one-hot rows)")
    return y.astype(dtype)


def sparse_targets(y, n_out, dtype):
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError("y for sparse_categorical_crossentropy must be integer class labels "
                         f"of shape (n_samples,); got shape {y.shape}")
    labels = y.astype(np.int64)
    if (labels != y).any() or (labels < 0).any() or (labels >= n_out).any():
        bad = np.unique(y[(labels != y) | (labels < 0) | (labels >= n_out)])[:5].tolist()
        raise ValueError(f"y for sparse_categorical_crossentropy must hold class labels "
                         f"0..{n_out - 1} (the output layer has {n_out} units); got {bad}")
    one_hot = np.zeros((y.shape[0], n_out), dtype)
    one_hot[np.arange(y.shape[0]), labels] = 1
    return one_hot


def hinge_targets(y, n_out, dtype):
    """Keras' hinge labels: -1/1, or 0/1 (converted to -1/1, as Keras does)."""
    y = _as_columns(y, n_out, "hinge")
    if ((y == 0) | (y == 1)).all():
        y = 2 * y - 1
    return y.astype(dtype)


def probability_targets(y, n_out, dtype):
    y = _as_columns(y, n_out, "kl_divergence")
    if ((y < 0) | (y > 1)).any():
        raise ValueError("y for kl_divergence must hold probabilities in [0, 1]")
    return y.astype(dtype)


@dataclass(frozen=True)
class Loss:
    """A loss as the kernels see it: its code, what it implies and its hyper-parameters.

    ``output_activation`` is the output layer activation it requires (None: any);
    ``accuracy`` the kind of accuracy that ``metrics=["accuracy"]`` means with it
    ("binary", "categorical", or None: binary for one output, else categorical).
    """

    name: str
    code: int
    encode_targets: Callable
    output_activation: Optional[str]  # the output activation it requires, if any
    accuracy: Optional[str] = None
    hyper: tuple = ()  # ((position in the kernel's hyper vector, value), ...)

    def hyper_vector(self, dtype):
        """The (kernels.losses.N_HYPER,) vector ``loss_and_delta`` reads."""
        values = np.zeros(codes.N_HYPER, dtype)
        for position, value in self.hyper:
            values[position] = value
        return values


LOSSES = {
    loss.name: loss
    for loss in (
        Loss("binary_crossentropy", codes.BINARY_CROSSENTROPY, binary_targets, "sigmoid",
             "binary"),
        Loss("mean_squared_error", codes.MEAN_SQUARED_ERROR, regression_targets, None),
        Loss("categorical_crossentropy", codes.CATEGORICAL_CROSSENTROPY, one_hot_targets,
             "softmax", "categorical"),
        Loss("sparse_categorical_crossentropy", codes.CATEGORICAL_CROSSENTROPY, sparse_targets,
             "softmax", "categorical"),
        Loss("mean_absolute_error", codes.MEAN_ABSOLUTE_ERROR, regression_targets, None),
        Loss("huber", codes.HUBER, regression_targets, None, None,
             ((codes.DELTA, 1.0),)),
        Loss("log_cosh", codes.LOG_COSH, regression_targets, None),
        Loss("poisson", codes.POISSON, regression_targets, None),
        Loss("kl_divergence", codes.KL_DIVERGENCE, probability_targets, None),
        Loss("hinge", codes.HINGE, hinge_targets, None),
        Loss("squared_hinge", codes.SQUARED_HINGE, hinge_targets, None),
        Loss("binary_focal_crossentropy", codes.BINARY_FOCAL_CROSSENTROPY, binary_targets,
             "sigmoid", "binary",
             ((codes.GAMMA, 2.0), (codes.ALPHA, 0.25), (codes.CLASS_BALANCING, 0.0))),
    )
}
for _alias, _name in (("mse", "mean_squared_error"), ("mae", "mean_absolute_error"),
                      ("logcosh", "log_cosh"), ("huber_loss", "huber"),
                      ("kld", "kl_divergence"), ("kullback_leibler_divergence", "kl_divergence")):
    LOSSES[_alias] = LOSSES[_name]


def _number(owner, name, value, low=-math.inf, high=math.inf, low_inclusive=True):
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and value <= high
          and (value >= low if low_inclusive else value > low))
    if not ok:
        bound = (f">= {low}" if low_inclusive else f"> {low}") if low != -math.inf else ""
        bound += f" and <= {high}" if high != math.inf else ""
        raise ValueError(f"{owner} {name} must be a finite number {bound}; got {value!r}")
    return float(value)


class LossFunction(Configured):
    """Base of the loss classes (as ``keras.losses``): ``spec()`` is what the kernels run.

    Subclasses name their table entry (``_entry``) and arguments (``_fields``).
    """

    _entry = None
    _fields = ()
    _ignored_keys = frozenset({"name", "reduction", "dtype"})  # Keras' loss config

    def spec(self):
        """The ``Loss`` table entry with this object's hyper-parameters."""
        return LOSSES[self._entry]

    @property
    def name(self):
        return self._entry


class _FromLogits(LossFunction):
    """A cross-entropy; ``from_logits=True`` reads a linear output layer's logits."""

    _fields = ("from_logits",)

    def __init__(self, from_logits=False):
        if not isinstance(from_logits, bool):
            raise TypeError(f"{type(self).__name__} from_logits must be True or False; got "
                            f"{from_logits!r}")
        self.from_logits = from_logits

    def spec(self):
        base = LOSSES[self._entry]
        if not self.from_logits:
            return base
        return replace(base, output_activation="linear",
                       hyper=base.hyper + ((codes.FROM_LOGITS, 1.0),))


class BinaryCrossentropy(_FromLogits):
    _entry = "binary_crossentropy"


class CategoricalCrossentropy(_FromLogits):
    _entry = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_FromLogits):
    _entry = "sparse_categorical_crossentropy"


class MeanSquaredError(LossFunction):
    _entry = "mean_squared_error"


class MeanAbsoluteError(LossFunction):
    _entry = "mean_absolute_error"


class LogCosh(LossFunction):
    _entry = "log_cosh"


class Poisson(LossFunction):
    _entry = "poisson"


class KLDivergence(LossFunction):
    _entry = "kl_divergence"


class Hinge(LossFunction):
    _entry = "hinge"


class SquaredHinge(LossFunction):
    _entry = "squared_hinge"


class Huber(LossFunction):
    """``0.5 * e**2`` for ``|e| <= delta``, else ``delta * (|e| - 0.5 * delta)``."""

    _entry = "huber"
    _fields = ("delta",)

    def __init__(self, delta=1.0):
        self.delta = _number("Huber", "delta", delta, 0, low_inclusive=False)

    def spec(self):
        return replace(LOSSES["huber"], hyper=((codes.DELTA, self.delta),))


class BinaryFocalCrossentropy(LossFunction):
    """Keras 3's: ``(1 - p_t)**gamma * bce``, times ``alpha`` / ``1 - alpha`` for
    positives / negatives when ``apply_class_balancing``."""

    _entry = "binary_focal_crossentropy"
    _fields = ("apply_class_balancing", "alpha", "gamma", "from_logits")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False):
        for flag, value in (("apply_class_balancing", apply_class_balancing),
                            ("from_logits", from_logits)):
            if not isinstance(value, bool):
                raise TypeError(f"BinaryFocalCrossentropy {flag} must be True or False; got "
                                f"{value!r}")
        self.apply_class_balancing = apply_class_balancing
        self.alpha = _number("BinaryFocalCrossentropy", "alpha", alpha, 0, 1)
        self.gamma = _number("BinaryFocalCrossentropy", "gamma", gamma, 0)
        self.from_logits = from_logits

    def spec(self):
        hyper = ((codes.GAMMA, self.gamma), (codes.ALPHA, self.alpha),
                 (codes.CLASS_BALANCING, float(self.apply_class_balancing)))
        base = LOSSES[self._entry]
        if self.from_logits:
            return replace(base, output_activation="linear",
                           hyper=hyper + ((codes.FROM_LOGITS, 1.0),))
        return replace(base, hyper=hyper)


CLASSES = {cls.__name__: cls for cls in (
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    MeanSquaredError, MeanAbsoluteError, Huber, LogCosh, Poisson, KLDivergence, Hinge,
    SquaredHinge, BinaryFocalCrossentropy)}


def get(loss):
    """The ``Loss`` the kernels run, from a name, a loss object or a ``Loss``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, LossFunction):
        return loss.spec()
    if isinstance(loss, str) and loss in CLASSES:
        return CLASSES[loss]().spec()
    if callable(loss) and not isinstance(loss, str):
        raise TypeError(f"loss {loss!r} is a Python callable: fastann cannot compile it into "
                        "its kernels; use a name or a fastann.losses class")
    return lookup(LOSSES, loss, "loss")
