"""The metric table: name → kernel code. ``accuracy`` resolves by loss and output size,
as in Keras."""
from ._options import lookup
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


def resolve(name, loss, n_out):
    """Kernel code of metric ``name`` for a model trained with ``loss`` and ``n_out`` outputs."""
    code = lookup(METRICS, name, "metric")
    if code is not None:
        return code
    kind = loss.accuracy or ("binary" if n_out == 1 else "categorical")
    return codes.BINARY_ACCURACY if kind == "binary" else codes.CATEGORICAL_ACCURACY
