"""The loss table: name → kernel code, required output activation, and target encoding;
and Keras' surface over it: the loss classes (``BinaryCrossentropy(from_logits=...)``,
callable for the batch loss) and functions (``binary_crossentropy(y_true, y_pred)``, the
per-sample losses), all of which ``compile(loss=...)`` accepts.

Each encoder checks targets as the user gave them and returns a float (n, n_out) array
in the model's dtype, the one shape every loss kernel reads.
"""
import math
import numbers
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from . import reference
from ._checks import flag
from ._errors import NotSupportedError, builtin_name, keras_only, require_default
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

    def with_reduction(self, reduction):
        """This loss reduced by ``reduction`` (a ``REDUCTIONS`` name) over each batch."""
        code = REDUCTIONS[reduction]
        kept = tuple(item for item in self.hyper if item[0] != codes.REDUCTION)
        hyper = kept + (((codes.REDUCTION, float(code)),) if code != codes.OVER_BATCH_SIZE
                        else ())
        return self if hyper == self.hyper else replace(self, hyper=hyper)

    @property
    def reduced_per_batch(self):
        """Whether a loss total depends on how the rows are batched (a reduction other
        than Keras' default divides each batch by its own weight sum, or not at all)."""
        return any(position == codes.REDUCTION and value != codes.OVER_BATCH_SIZE
                   for position, value in self.hyper)

    def hyper_vector(self, dtype):
        """The (kernels.losses.N_HYPER,) vector ``loss_and_delta`` reads."""
        values = np.zeros(codes.N_HYPER, dtype)
        for position, value in self.hyper:
            values[position] = value
        return values

    def __call__(self, y_true, y_pred):
        """Keras' loss function of this entry: the per-sample losses, of shape
        ``y_pred.shape[:-1]`` (see ``per_sample_losses``)."""
        return per_sample_losses(self, y_true, y_pred)


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


def float_dtype(dtype):
    """Keras' loss and metric ``dtype``: None or a float dtype, kept for the config only
    (the kernels compute in the model's dtype)."""
    if dtype is None:
        return None
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = None
    if kind != "f":
        raise ValueError(f"dtype must be None or a float dtype such as 'float32'; got "
                         f"{dtype!r}")
    return np.dtype(dtype).name


# ---------------------------------------------------------- per-sample values
# The reference's option names of the kernels' hyper-parameter positions.
_REFERENCE_OPTIONS = {codes.DELTA: "delta", codes.GAMMA: "gamma", codes.ALPHA: "alpha",
                      codes.CLASS_BALANCING: "apply_class_balancing",
                      codes.FROM_LOGITS: "from_logits", codes.REDUCTION: "reduction"}
# Table entries the reference knows by another name (labels arrive one-hot).
_REFERENCE_NAMES = {"sparse_categorical_crossentropy": "categorical_crossentropy"}


def per_sample_losses(spec, y_true, y_pred):
    """The per-sample losses of ``spec`` as Keras' loss functions give them.

    ``y_pred`` (..., n_out) are outputs as ``predict`` returns them (probabilities for
    the cross-entropies, clipped to [1e-7, 1 - 1e-7] as Keras clips them; logits with
    ``from_logits``); ``y_true`` has y_pred's shape (or, for labels, its shape without
    the last axis) and holds targets as ``fit`` takes them. The result, of shape
    ``y_pred.shape[:-1]`` and y_pred's float dtype (float32 for others, Keras' floatx),
    is each row's mean over its outputs (the categorical ones' and kl_divergence's
    sum). Computed row by row with ``fastann.reference``, the kernels' oracle: a way to
    check values, not a fast path.
    """
    predicted = np.asarray(y_pred)
    dtype = predicted.dtype if np.issubdtype(predicted.dtype, np.floating) else \
        np.dtype(np.float32)
    n_out = predicted.shape[-1] if predicted.ndim else 1
    A = predicted.reshape(-1, n_out).astype(np.float64)
    labels = np.asarray(y_true)
    try:
        labels = labels.reshape(-1) if labels.size == A.shape[0] else labels.reshape(-1, n_out)
    except ValueError:
        raise ValueError(f"y_true of shape {labels.shape} does not match y_pred of shape "
                         f"{predicted.shape}") from None
    Y = spec.encode_targets(labels, n_out, np.float64)
    activation = spec.output_activation or "linear"
    Z = A
    if activation == "sigmoid":
        A = np.clip(A, reference.EPSILON, 1 - reference.EPSILON)
        Z = np.log(A) - np.log1p(-A)
    elif activation == "softmax":
        A = np.clip(A / A.sum(axis=1, keepdims=True), reference.EPSILON, 1 - reference.EPSILON)
        Z = np.log(A)
    name = _REFERENCE_NAMES.get(spec.name, spec.name)
    options = {_REFERENCE_OPTIONS[position]: value for position, value in spec.hyper}
    values = [reference.loss_and_output_delta(name, activation, Z[r:r + 1], A[r:r + 1],
                                              Y[r:r + 1], None, loss_options=options)[0]
              for r in range(A.shape[0])]
    return np.asarray(values, dtype).reshape(predicted.shape[:-1])


# --------------------------------------------------------------- loss classes
REDUCTION = "sum_over_batch_size"  # Keras' default
# Keras' reductions of a batch's weighted per-sample losses -> the kernels' codes
# ("mean" is Keras' other name for the default). None/"none" (unreduced losses) cannot
# train: fit needs one number per batch.
REDUCTIONS = {"sum_over_batch_size": codes.OVER_BATCH_SIZE, "mean": codes.OVER_BATCH_SIZE,
              "mean_with_sample_weight": codes.OVER_SAMPLE_WEIGHT, "sum": codes.SUM}


def _reduction(owner, reduction):
    if reduction is None or reduction == "none":
        raise NotSupportedError(f"reduction={reduction!r} in {owner}",
                                "fit needs one loss per batch; use one of "
                                + ", ".join(map(repr, REDUCTIONS)))
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{owner} reduction must be one of "
                         f"{', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")
    return reduction


class LossFunction(Configured):
    """Base of the loss classes (as ``keras.losses``): ``spec()`` is what the kernels
    run; calling the object gives Keras' batch loss.

    Every class takes Keras' ``reduction`` ("sum_over_batch_size", the default, and
    "mean" divide a batch's weighted loss sum by its rows, "mean_with_sample_weight" by
    its weight sum, "sum" not at all), ``name`` (None: Keras' default name) and
    ``dtype`` (None or a float dtype, kept but unused: the model's dtype rules).
    Subclasses name their table entry (``_entry``), their config keys (``_fields``,
    Keras' own) and, with hyper-parameters, the entry they run (``_table_spec``).
    """

    _entry = None
    _default_name = None  # Keras' default name, when not _entry
    _fields = ("name", "reduction")
    _ignored_keys = frozenset({"dtype"})  # Keras writes it in no loss config

    def __init__(self, reduction=REDUCTION, name=None, dtype=None):
        self._keras_options(reduction, name, dtype)

    def _keras_options(self, reduction, name, dtype, **at_default):
        """Check and keep the options every Keras loss takes, and the Keras arguments
        ``at_default`` (``{argument: (value, default)}``) fastann has at their default."""
        owner = type(self).__name__
        self.reduction = _reduction(owner, reduction)
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{owner} name must be a non-empty str or None; got {name!r}")
        self.name = name or self._default_name or self._entry
        self.dtype = float_dtype(dtype)
        for argument, (value, default) in at_default.items():
            setattr(self, argument, require_default(owner, argument, value, default))

    def spec(self):
        """The ``Loss`` table entry with this object's hyper-parameters and reduction."""
        return self._table_spec().with_reduction(self.reduction)

    def _table_spec(self):
        return LOSSES[self._entry]

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras' batch loss: ``sum(per-sample loss * sample_weight)`` divided as the
        reduction says (by the number of per-sample losses, by the sum of the weights,
        0 when that is 0, or by nothing; the per-sample losses of ``per_sample_losses``,
        ``sample_weight`` broadcast to them, None weighs each 1), a NumPy scalar."""
        values = self._table_spec()(y_true, y_pred)
        weights = np.broadcast_to(np.asarray(1 if sample_weight is None else sample_weight,
                                             values.dtype), values.shape)
        total = (values * weights).sum()
        divisor = {codes.OVER_BATCH_SIZE: max(values.size, 1), codes.SUM: 1,
                   codes.OVER_SAMPLE_WEIGHT: weights.sum()}[REDUCTIONS[self.reduction]]
        return total / divisor if divisor != 0 else total * 0


def _with_logits(spec, hyper):
    """``spec`` computed from the logits of a linear output layer, with ``hyper``."""
    return replace(spec, output_activation="linear", hyper=hyper + ((codes.FROM_LOGITS, 1.0),))


class _FromLogits(LossFunction):
    """A cross-entropy; ``from_logits=True`` reads a linear output layer's logits.
    ``label_smoothing`` and ``axis`` only at Keras' defaults (0.0, -1: the outputs)."""

    _fields = ("name", "reduction", "from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=REDUCTION,
                 name=None, dtype=None):
        self.from_logits = flag(f"{type(self).__name__} from_logits", from_logits)
        self._keras_options(reduction, name, dtype, label_smoothing=(label_smoothing, 0.0),
                            axis=(axis, -1))

    def _table_spec(self):
        base = LOSSES[self._entry]
        return _with_logits(base, base.hyper) if self.from_logits else base


class BinaryCrossentropy(_FromLogits):
    _entry = "binary_crossentropy"


class CategoricalCrossentropy(_FromLogits):
    _entry = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_FromLogits):
    """Integer labels; ``ignore_class`` only None (every label counts)."""

    _entry = "sparse_categorical_crossentropy"
    _fields = ("name", "reduction", "from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction=REDUCTION, axis=-1,
                 name=None, dtype=None):
        self.from_logits = flag(f"{type(self).__name__} from_logits", from_logits)
        self._keras_options(reduction, name, dtype, ignore_class=(ignore_class, None),
                            axis=(axis, -1))


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

    _entry, _default_name = "huber", "huber_loss"
    _fields = ("name", "reduction", "delta")

    def __init__(self, delta=1.0, reduction=REDUCTION, name=None, dtype=None):
        self.delta = _number("Huber", "delta", delta, 0, low_inclusive=False)
        self._keras_options(reduction, name, dtype)

    def _table_spec(self):
        return replace(LOSSES["huber"], hyper=((codes.DELTA, self.delta),))


class BinaryFocalCrossentropy(LossFunction):
    """Keras 3's: ``(1 - p_t)**gamma * bce``, times ``alpha`` / ``1 - alpha`` for
    positives / negatives when ``apply_class_balancing``."""

    _entry = "binary_focal_crossentropy"
    _fields = ("name", "reduction", "from_logits", "label_smoothing", "axis",
               "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction=REDUCTION, name=None, dtype=None):
        owner = type(self).__name__
        self.apply_class_balancing = flag(f"{owner} apply_class_balancing",
                                          apply_class_balancing)
        self.alpha = _number(owner, "alpha", alpha, 0, 1)
        self.gamma = _number(owner, "gamma", gamma, 0)
        self.from_logits = flag(f"{owner} from_logits", from_logits)
        self._keras_options(reduction, name, dtype, label_smoothing=(label_smoothing, 0.0),
                            axis=(axis, -1))

    def _table_spec(self):
        hyper = ((codes.GAMMA, self.gamma), (codes.ALPHA, self.alpha),
                 (codes.CLASS_BALANCING, float(self.apply_class_balancing)))
        base = LOSSES[self._entry]
        return _with_logits(base, hyper) if self.from_logits else replace(base, hyper=hyper)


CLASSES = {cls.__name__: cls for cls in (
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    MeanSquaredError, MeanAbsoluteError, Huber, LogCosh, Poisson, KLDivergence, Hinge,
    SquaredHinge, BinaryFocalCrossentropy)}


# ------------------------------------------------------------- loss functions
# Keras' loss functions, fn(y_true, y_pred, ...) -> per-sample losses: each is its
# class's spec called on the arrays, and compile(loss=fn) trains that loss.
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return BinaryCrossentropy(from_logits, label_smoothing, axis).spec()(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).spec()(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    return SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis).spec()(
        y_true, y_pred)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    return BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits,
                                   label_smoothing, axis).spec()(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    return Huber(delta).spec()(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    return LOSSES["mean_squared_error"](y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return LOSSES["mean_absolute_error"](y_true, y_pred)


def log_cosh(y_true, y_pred):
    return LOSSES["log_cosh"](y_true, y_pred)


def poisson(y_true, y_pred):
    return LOSSES["poisson"](y_true, y_pred)


def kl_divergence(y_true, y_pred):
    return LOSSES["kl_divergence"](y_true, y_pred)


def hinge(y_true, y_pred):
    return LOSSES["hinge"](y_true, y_pred)


def squared_hinge(y_true, y_pred):
    return LOSSES["squared_hinge"](y_true, y_pred)


FUNCTIONS = {function.__name__: function for function in (
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
    binary_focal_crossentropy, huber, mean_squared_error, mean_absolute_error, log_cosh,
    poisson, kl_divergence, hinge, squared_hinge)}
for _function in FUNCTIONS.values():
    _function.__doc__ = (f"Keras' ``losses.{_function.__name__}``: the per-sample losses, "
                         "of shape ``y_pred.shape[:-1]`` (see ``per_sample_losses``).")


def get(loss):
    """The ``Loss`` the kernels run, from a name, a loss object or class, a loss function
    (fastann's or Keras' own, ``keras.losses.mean_squared_error``), a ``serialize`` form
    or a ``Loss``. Any other Python callable raises NotSupportedError."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, LossFunction):
        return loss.spec()
    if isinstance(loss, type) and issubclass(loss, LossFunction):
        return loss().spec()
    if isinstance(loss, str) and loss in CLASSES:
        return CLASSES[loss]().spec()
    if isinstance(loss, dict):
        return get(deserialize(loss))
    if callable(loss):
        name = getattr(loss, "__name__", None)
        if FUNCTIONS.get(name) is not loss:
            name = builtin_name(loss, LOSSES, "loss")
        return LOSSES[name]
    return lookup(LOSSES, loss, "loss")


def serialize(loss):
    """A loss object as ``{"class_name", "config"}``; a function or a name as its name."""
    if isinstance(loss, LossFunction):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return get(loss).name


def deserialize(name, custom_objects=None):
    """What ``serialize`` gave: a loss object for a config, the loss function for a name
    (as Keras); ``custom_objects`` must be None (the kernels run fastann's losses)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "the kernels compute fastann's losses only")
    if isinstance(name, dict):
        cls = CLASSES.get(name.get("class_name"))
        if cls is None or not isinstance(name.get("config", {}), dict):
            raise ValueError(f"a loss config must be {{'class_name': one of {sorted(CLASSES)}, "
                             f"'config': {{...}}}}; got {name!r}")
        return cls.from_config(name.get("config", {}))
    return FUNCTIONS[get(name).name]


KERAS_ONLY = frozenset("""
CTC CategoricalFocalCrossentropy CategoricalGeneralizedCrossEntropy CategoricalHinge Circle
CosineSimilarity Dice MeanAbsolutePercentageError MeanSquaredLogarithmicError Tversky
categorical_focal_crossentropy categorical_generalized_cross_entropy categorical_hinge
circle cosine_similarity ctc dice mean_absolute_percentage_error
mean_squared_logarithmic_error tversky
""".split())
__getattr__ = keras_only(__name__, "loss", KERAS_ONLY,
                         "fastann's losses: " + ", ".join(sorted(CLASSES)))
