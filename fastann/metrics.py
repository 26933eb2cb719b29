"""Metrics: names, Keras metric objects and functions → the kernels' codes and state.

Names resolve through ``METRICS`` (``accuracy`` by loss and output size, as in Keras)
or ``CLASSES``. ``AUC``, ``Precision``, ``Recall``, ``TopKCategoricalAccuracy`` and
``SparseTopKCategoricalAccuracy`` are Keras 3's objects, with Keras' arguments and
``get_config`` (as are ``BinaryAccuracy``, ``CategoricalAccuracy``, ``MeanSquaredError``
and the other per-row metrics, objects for the names in ``METRICS``); the kernels
compute them over the whole phase (see ``fastann/kernels/metrics.py``). ``plan``
builds the preallocated state they need. Keras' metric functions (``binary_accuracy``,
...) give per-sample values with NumPy, and stand for their name in ``compile``; the
objects also have Keras' ``update_state`` / ``result`` / ``reset_state``.
"""
import re
from collections import namedtuple

import numpy as np

from . import losses, reference
from ._errors import NotSupportedError, builtin_name, keras_only, require_default
from ._options import Configured, lookup
from .kernels import metrics as codes

METRICS = {
    "binary_accuracy": codes.BINARY_ACCURACY,
    "categorical_accuracy": codes.CATEGORICAL_ACCURACY,
    "sparse_categorical_accuracy": codes.CATEGORICAL_ACCURACY,  # targets are one-hot inside
    "mae": codes.MEAN_ABSOLUTE_ERROR,
    "mean_absolute_error": codes.MEAN_ABSOLUTE_ERROR,
    "mse": codes.MEAN_SQUARED_ERROR,
    "mean_squared_error": codes.MEAN_SQUARED_ERROR,
    "root_mean_squared_error": codes.ROOT_MEAN_SQUARED_ERROR,
    "rmse": codes.ROOT_MEAN_SQUARED_ERROR,
    "accuracy": None,
    "acc": None,
}

NEG_INF = -1e10  # Keras' metrics_utils.NEG_INF: the threshold of a top-k precision/recall
Resolved = namedtuple("Resolved", "name code metric")
"""A compiled metric: its logs key, kernel code and metric object (None for a name)."""


# ------------------------------------------------------------ metric functions
# Keras' metric functions, fn(y_true, y_pred) -> per-sample values (float32, Keras'
# floatx); compile(metrics=[fn]) computes the metric of that name in the kernels.
def _same_rank(y_true, y_pred):
    """Both as arrays of one rank: a trailing axis of 1 is dropped from the larger, as
    Keras squeezes it."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred[..., 0]
    return y_true, y_pred


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where the output is on its label's side of ``threshold``, else 0 (per output)."""
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1 for each row whose arg-max is its one-hot label's, else 0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 for each row whose arg-max is its integer label, else 0."""
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(y_pred.shape[:-1])
    return (labels == y_pred.argmax(axis=-1)).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 for each row whose one-hot label is among its ``k`` highest outputs (ties are
    hits), by ``fastann.reference``'s rule row by row."""
    y_pred = np.asarray(y_pred)
    A = y_pred.reshape(-1, y_pred.shape[-1])
    Y = np.asarray(y_true).reshape(A.shape)
    hits = [reference.top_k_categorical_accuracy(Y[r:r + 1], A[r:r + 1], k)
            for r in range(A.shape[0])]
    return np.asarray(hits, np.float32).reshape(y_pred.shape[:-1])


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """``top_k_categorical_accuracy`` for integer labels; ``from_sorted_ids`` only False."""
    require_default("sparse_top_k_categorical_accuracy", "from_sorted_ids", from_sorted_ids,
                    False)
    y_pred = np.asarray(y_pred)
    n_out = y_pred.shape[-1]
    one_hot = losses.sparse_targets(np.asarray(y_true).reshape(-1), n_out, np.float64)
    return top_k_categorical_accuracy(one_hot.reshape(*y_pred.shape[:-1], n_out), y_pred, k)


mean_squared_error = losses.mean_squared_error  # as in Keras, the loss functions
mean_absolute_error = losses.mean_absolute_error
FUNCTIONS = {function.__name__: function for function in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_squared_error,
    mean_absolute_error)}


def _rows(y_true, y_pred):
    """(Y, A): float (n, n_out) arrays of a set's targets and outputs."""
    A = np.asarray(y_pred, np.float64)
    A = A.reshape(-1, A.shape[-1]) if A.ndim else A.reshape(1, 1)
    return np.asarray(y_true, np.float64).reshape(A.shape), A


class Metric(Configured):
    """A Keras metric object the kernels compute; ``name`` is its key in the logs.

    Outside a model it is Keras' stateful metric: ``update_state(y_true, y_pred)`` keeps
    the arrays, ``result()`` is ``value`` over all of them (``fastann.reference``'s
    math, in float32 unless ``dtype`` says otherwise), ``reset_state()`` forgets them,
    and calling the object updates and returns the result.
    """

    code = None
    threshold = 0.0  # the kernels' decision threshold (precision, recall)
    dtype = None

    def value(self, y_true, y_pred):
        """The metric over a whole set of targets and outputs."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotSupportedError("sample_weight in update_state",
                                    "fastann's metrics are unweighted, as Keras' metrics=")
        self.__dict__.setdefault("_seen", []).append((np.asarray(y_true),
                                                      np.asarray(y_pred)))

    def result(self):
        seen = self.__dict__.get("_seen", [])
        value = self.value(*(np.concatenate(arrays) for arrays in zip(*seen))) if seen else 0
        return np.dtype(self.dtype or "float32").type(value)

    def reset_state(self):
        self.__dict__.pop("_seen", None)

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def settings(self):
        """{column: value}: this metric's entries in its row of the kernels' settings
        (see ``kernels/metrics.py``); the others are 0."""
        return {}

    def n_counts(self):
        """How many counts the metric keeps in the state buffer."""
        return 0

    def check_head(self, n_out):
        """Refuse settings the model's ``n_out`` outputs cannot meet (at compile)."""


def _name(name, default):
    if name is None:
        return default
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str or None; got {name!r}")
    return name


_float_dtype = losses.float_dtype


def _unsupported(owner, **options):
    """Refuse the Keras arguments fastann does not implement, when given."""
    for argument, (value, default) in options.items():
        require_default(owner, argument, value, default)


def _threshold(thresholds):
    """Keras' ``thresholds`` of Precision/Recall: None (0.5) or one value in [0, 1]."""
    if thresholds is None:
        return 0.5
    if isinstance(thresholds, (list, tuple)):
        if len(thresholds) != 1:
            raise NotSupportedError(
                f"several thresholds ({list(thresholds)!r})",
                "a metric gives one value per epoch: pass one float threshold")
        thresholds = thresholds[0]
    if isinstance(thresholds, bool) or not isinstance(thresholds, (int, float, np.number)):
        raise TypeError(f"thresholds must be a float in [0, 1] or None; got "
                        f"{type(thresholds).__name__} {thresholds!r}")
    if not 0 <= float(thresholds) <= 1:  # NaN fails too
        raise ValueError(f"thresholds must be in [0, 1]; got {thresholds!r}")
    return float(thresholds)


class AUC(Metric):
    """Keras' ``AUC``: the area under the ROC or precision-recall curve over
    ``num_thresholds`` evenly spaced thresholds, from counts over the whole phase.
    Every output counts as one prediction (Keras' ``multi_label=False``)."""

    code = codes.AUC
    _fields = ("num_thresholds", "curve", "summation_method", "name", "dtype", "thresholds",
               "multi_label", "num_labels", "label_weights", "from_logits")
    _CURVES = {"roc": codes.ROC, "pr": codes.PR}
    _SUMMATIONS = {"interpolation": codes.INTERPOLATION, "minoring": codes.MINORING,
                   "majoring": codes.MAJORING}

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds,
                                                               (int, np.integer)):
            raise TypeError(f"num_thresholds must be an int > 1; got "
                            f"{type(num_thresholds).__name__} {num_thresholds!r}")
        if num_thresholds <= 1:
            raise ValueError(f"num_thresholds must be an int > 1; got {num_thresholds}")
        if isinstance(curve, str) and curve.lower() == "prgain":
            raise NotSupportedError("curve='PRGAIN'", "use 'ROC' or 'PR'")
        self._curve = lookup(self._CURVES, curve, "AUC curve")
        self._summation = lookup(self._SUMMATIONS, summation_method, "AUC summation_method")
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"from_logits must be True or False; got {from_logits!r}")
        dtype = _float_dtype(dtype)
        _unsupported("AUC", thresholds=(thresholds, None), multi_label=(multi_label, False),
                     num_labels=(num_labels, None), label_weights=(label_weights, None))
        self.num_thresholds = int(num_thresholds)
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.name = _name(name, "auc")
        self.dtype = dtype
        self.thresholds = self.num_labels = self.label_weights = None
        self.multi_label = False
        self.from_logits = bool(from_logits)

    def settings(self):
        return {codes.SIZE: self.num_thresholds, codes.CURVE: self._curve,
                codes.SUMMATION: self._summation, codes.FROM_LOGITS: int(self.from_logits)}

    def n_counts(self):
        return codes.auc_counts(self.num_thresholds)

    def value(self, y_true, y_pred):
        return reference.auc(*_rows(y_true, y_pred), self.num_thresholds, self.curve,
                             self.summation_method, self.from_logits)


def _optional_index(argument, value, least):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be None or an int >= {least}; got "
                        f"{type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"{argument} must be None or an int >= {least}; got {value}")
    return int(value)


class _Confusion(Metric):
    """Keras' precision or recall at one threshold (predicted positive above it),
    optionally of one output (``class_id``) and of each row's ``top_k`` outputs."""

    _fields = ("thresholds", "top_k", "class_id", "name", "dtype")
    _default_name = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.top_k = _optional_index("top_k", top_k, 1)
        self.class_id = _optional_index("class_id", class_id, 0)
        # Keras: with top_k and no threshold, every top-k output is a positive prediction
        self.threshold = (NEG_INF if thresholds is None and top_k is not None
                          else _threshold(thresholds))
        self.thresholds = thresholds if thresholds is None else _threshold(thresholds)
        self.dtype = _float_dtype(dtype)
        self.name = _name(name, self._default_name)

    def settings(self):
        return {codes.SIZE: self.top_k or 0,
                codes.CLASS_ID: -1 if self.class_id is None else self.class_id}

    def check_head(self, n_out):
        for argument, value in (("top_k", self.top_k), ("class_id", self.class_id)):
            limit = n_out if argument == "top_k" else n_out - 1
            if value is not None and value > limit:
                raise ValueError(f"{type(self).__name__}'s {argument} must be at most "
                                 f"{limit} for a model of {n_out} outputs; got {value}")

    def n_counts(self):
        return codes.N_CONFUSION

    def value(self, y_true, y_pred):
        return self._reference(*_rows(y_true, y_pred), self.threshold, self.top_k,
                               self.class_id)


class Precision(_Confusion):
    """Keras' ``Precision``: true positives / predicted positives over the phase."""

    code = codes.PRECISION
    _default_name = "precision"
    _reference = staticmethod(reference.precision)


class Recall(_Confusion):
    """Keras' ``Recall``: true positives / actual positives over the phase."""

    code = codes.RECALL
    _default_name = "recall"
    _reference = staticmethod(reference.recall)


class TopKCategoricalAccuracy(Metric):
    """Keras' ``TopKCategoricalAccuracy``: the share of rows whose one-hot label is
    among the ``k`` highest outputs (ties count as hits, as in Keras)."""

    code = codes.TOP_K_CATEGORICAL_ACCURACY
    _fields = ("k", "name", "dtype")
    _default_name = "top_k_categorical_accuracy"
    _function = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name=None, dtype=None):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int >= 1; got {type(k).__name__} {k!r}")
        if k < 1:
            raise ValueError(f"k must be an int >= 1; got {k}")
        self.dtype = _float_dtype(dtype)
        self.k = int(k)
        self.name = _name(name, self._default_name)

    def settings(self):
        return {codes.SIZE: self.k}

    def value(self, y_true, y_pred):
        return np.mean(self._function(y_true, y_pred, self.k))


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Keras' ``SparseTopKCategoricalAccuracy``, for integer labels (the
    ``sparse_categorical_crossentropy`` head, whose labels the kernels see one-hot)."""

    _fields = ("k", "name", "dtype", "from_sorted_ids")
    _default_name = "sparse_top_k_categorical_accuracy"
    _function = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):
        _unsupported("SparseTopKCategoricalAccuracy", from_sorted_ids=(from_sorted_ids, False))
        super().__init__(k, name, dtype)
        self.from_sorted_ids = False


class _RowMetric(Metric):
    """Keras' object for a metric the kernels average over the rows (no state): the
    same code as its name in ``METRICS``, with Keras' ``name`` and ``dtype``."""

    _fields = ("name", "dtype")

    def __init__(self, name=None, dtype=None):
        self.dtype = _float_dtype(dtype)
        self.name = _name(name, self._default_name)

    def value(self, y_true, y_pred):
        return np.mean(self._function(y_true, y_pred))


class BinaryAccuracy(_RowMetric):
    """Keras' ``BinaryAccuracy``: the share of outputs on the label's side of 0.5."""

    code = codes.BINARY_ACCURACY
    _fields = ("name", "dtype", "threshold")
    _default_name = "binary_accuracy"
    _function = staticmethod(binary_accuracy)

    def __init__(self, name=None, dtype=None, threshold=0.5):
        _unsupported("BinaryAccuracy", threshold=(threshold, 0.5))
        super().__init__(name, dtype)
        self.threshold = 0.5


class CategoricalAccuracy(_RowMetric):
    """Keras' ``CategoricalAccuracy``: the share of rows whose arg-max is the label's."""

    code = codes.CATEGORICAL_ACCURACY
    _default_name = "categorical_accuracy"
    _function = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(CategoricalAccuracy):
    """Keras' ``SparseCategoricalAccuracy``, for integer labels (which the kernels see
    one-hot, so the rule is categorical accuracy's)."""

    _default_name = "sparse_categorical_accuracy"
    _function = staticmethod(sparse_categorical_accuracy)


class MeanAbsoluteError(_RowMetric):
    code = codes.MEAN_ABSOLUTE_ERROR
    _default_name = "mean_absolute_error"
    _function = staticmethod(mean_absolute_error)


class MeanSquaredError(_RowMetric):
    code = codes.MEAN_SQUARED_ERROR
    _default_name = "mean_squared_error"
    _function = staticmethod(mean_squared_error)


class RootMeanSquaredError(_RowMetric):
    """Keras' ``RootMeanSquaredError``: the root of the phase's mean squared error."""

    code = codes.ROOT_MEAN_SQUARED_ERROR
    _default_name = "root_mean_squared_error"
    _function = staticmethod(mean_squared_error)

    def value(self, y_true, y_pred):
        return np.sqrt(super().value(y_true, y_pred))


ROW_CLASSES = (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
               MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError)


CLASSES = {"auc": AUC, "precision": Precision, "recall": Recall,
           "top_k_categorical_accuracy": TopKCategoricalAccuracy,
           "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy}
_BY_CLASS_NAME = {cls.__name__: cls for cls in (*CLASSES.values(), *ROW_CLASSES)}
NAMES = sorted(set(METRICS) | set(CLASSES))


def _lookup_name(name):
    """The table entry of a metric name (Keras' class spellings too, ``"MeanSquaredError"``
    for ``mean_squared_error``), or an error listing every valid name."""
    table = {**METRICS, **CLASSES}
    if isinstance(name, str) and name not in table:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        name = snake if snake in table else name
    return lookup(table, name, "metric")


def _function_name(function):
    """The metric name of a metric function, fastann's or Keras' own
    (``keras.metrics.binary_accuracy``); any other callable is refused."""
    name = getattr(function, "__name__", None)
    if FUNCTIONS.get(name) is function:
        return name
    return builtin_name(function, {**METRICS, **CLASSES}, "metric")


def get(identifier):
    """A metric name (str), a metric object, a metric object's ``serialize`` form, or a
    metric function (its name). Any other Python callable raises NotSupportedError."""
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier):
        return _function_name(identifier)
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name")
        if class_name not in _BY_CLASS_NAME or not isinstance(identifier.get("config"), dict):
            raise ValueError(f"a metric config must be {{'class_name': one of "
                             f"{sorted(_BY_CLASS_NAME)}, 'config': {{...}}}}; got "
                             f"{identifier!r}")
        return _BY_CLASS_NAME[class_name].from_config(identifier["config"])
    if isinstance(identifier, str) and identifier.lower() in CLASSES:
        return CLASSES[identifier.lower()]()
    if isinstance(identifier, str):
        _lookup_name(identifier)
        return identifier
    raise TypeError(f"a metric must be a name, a fastann.metrics object or its config; got "
                    f"{type(identifier).__name__} {identifier!r}")


def serialize(metric):
    """What ``get`` rebuilds ``metric`` from: a name stays a name (a function becomes
    its name), an object becomes ``{"class_name", "config"}`` (JSON-ready, saved with
    the model)."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return _function_name(metric) if callable(metric) else metric


def deserialize(config, custom_objects=None):
    """What ``serialize`` gave (``custom_objects`` must be None: the kernels compute
    fastann's metrics only)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "the kernels compute fastann's metrics only")
    return get(config)


def resolve(metric, loss, n_out):
    """The ``Resolved`` metric for a model trained with ``loss`` and ``n_out`` outputs."""
    if callable(metric) and not isinstance(metric, Metric):
        metric = _function_name(metric)  # compile(metrics=[binary_accuracy]): its name
    if isinstance(metric, str) and metric.lower() not in CLASSES:
        code = _lookup_name(metric)
        if code is None:
            kind = loss.accuracy or ("binary" if n_out == 1 else "categorical")
            code = codes.BINARY_ACCURACY if kind == "binary" else codes.CATEGORICAL_ACCURACY
        return Resolved(metric, code, None)
    metric = get(metric)  # an object, or a class's name ("auc", "AUC"): its own name
    metric.check_head(n_out)
    return Resolved(metric.name, metric.code, metric)


def plan(resolved, dtype):
    """The kernels' ``metric_state`` for the resolved metrics: None when none needs one
    (the training loop then compiles without them), else (settings (n_metrics,
    N_SETTINGS) int64, thresholds (n_metrics,), counts (n_counts,)) in ``dtype``."""
    if not any(r.code in codes.NEEDS_STATE for r in resolved):
        return None
    settings = np.zeros((len(resolved), codes.N_SETTINGS), np.int64)
    thresholds = np.zeros(len(resolved), dtype)
    offset = 0
    for m, item in enumerate(resolved):
        if item.metric is None:
            continue
        settings[m, codes.OFFSET] = offset
        for column, value in item.metric.settings().items():
            settings[m, column] = value
        thresholds[m] = item.metric.threshold
        offset += item.metric.n_counts()
    return settings, thresholds, np.zeros(offset, dtype)


def fresh_counts(state):
    """``state`` with counts of its own (for a call that may run beside another)."""
    return None if state is None else (state[0], state[1], np.zeros_like(state[2]))


__all__ = ["AUC", "Precision", "Recall", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanAbsoluteError", "MeanSquaredError",
           "RootMeanSquaredError", "Metric", "get", "serialize", "deserialize",
           *FUNCTIONS]

KERAS_ONLY = frozenset("""
Accuracy BinaryCrossentropy BinaryIoU CategoricalCrossentropy CategoricalHinge
ConcordanceCorrelation CosineSimilarity F1Score FBetaScore FalseNegatives FalsePositives
Hinge IoU KLDivergence LogCoshError Mean MeanAbsolutePercentageError MeanIoU
MeanMetricWrapper MeanSquaredLogarithmicError OneHotIoU OneHotMeanIoU PearsonCorrelation
Poisson PrecisionAtRecall R2Score RecallAtPrecision SensitivityAtSpecificity
SparseCategoricalCrossentropy SpecificityAtSensitivity SquaredHinge Sum TrueNegatives
TruePositives binary_crossentropy binary_focal_crossentropy categorical_crossentropy
categorical_focal_crossentropy categorical_hinge concordance_correlation hinge huber
kl_divergence log_cosh mean_absolute_percentage_error mean_squared_logarithmic_error
pearson_correlation poisson sparse_categorical_crossentropy squared_hinge
""".split())
__getattr__ = keras_only(__name__, "metric", KERAS_ONLY,
                         "fastann's metrics: " + ", ".join(sorted(_BY_CLASS_NAME)) +
                         " and the names " + ", ".join(NAMES))
