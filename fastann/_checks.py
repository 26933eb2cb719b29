"""Input checks shared by the Model's methods. Each returns a fresh array in the model's
dtype or raises an error that names the argument, what was expected and what came."""
import numbers

import numpy as np


def positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        expected = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return int(value)


def _numeric(name, value):
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(f"{name} must be numeric (a list or array of numbers); got dtype "
                        f"{array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real-valued; got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values "
                         f"({int((~np.isfinite(array)).sum())} of {array.size})")
    return array


def features(name, X, dtype, n_features=None):
    """X as a C-contiguous (n_samples, n_features) array of ``dtype``."""
    X = _numeric(name, X)
    if X.ndim != 2:
        hint = " (reshape a single sample with X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D, (n_samples, n_features); got shape "
                         f"{X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no samples (shape {X.shape})")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features but the model expects "
                         f"{n_features} (input_dim)")
    return np.ascontiguousarray(X, dtype=dtype)


def targets(name, y, n_samples, loss, n_out, dtype):
    """y encoded for ``loss`` as a C-contiguous (n_samples, n_out) array of ``dtype``."""
    y = _numeric(name, y)
    if y.ndim == 0 or y.shape[0] != n_samples:
        got = "a scalar" if y.ndim == 0 else f"{y.shape[0]} rows"
        raise ValueError(f"{name} must have one row per sample of X ({n_samples}); got {got}")
    return np.ascontiguousarray(loss.encode_targets(y, n_out, dtype))


def sample_weights(name, weights, n_samples, dtype):
    if weights is None:
        return np.ones(n_samples, dtype)
    weights = _numeric(name, weights)
    if weights.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), one weight per sample; got "
                         f"{weights.shape}")
    if (weights < 0).any():
        raise ValueError(f"{name} must be >= 0")
    return np.ascontiguousarray(weights, dtype=dtype)


def class_weights(class_weight, Y, loss_name, dtype):
    """Per-sample weights from a {class: weight} dict, for encoded targets Y (n, n_out)."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class: weight}}; got "
                        f"{type(class_weight).__name__}")
    if loss_name == "binary_crossentropy" and Y.shape[1] == 1:
        classes, n_classes = Y[:, 0].astype(np.int64), 2
    elif loss_name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        classes, n_classes = Y.argmax(axis=1), Y.shape[1]
    else:
        raise ValueError(f"class_weight needs a classification loss with one class per sample; "
                         f"got loss {loss_name!r}")
    table = np.ones(n_classes, dtype)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, numbers.Integral) or not (
                0 <= label < n_classes):
            raise ValueError(f"class_weight keys must be class labels 0..{n_classes - 1}; "
                             f"got {label!r}")
        if not (isinstance(weight, numbers.Real) and np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{label}] must be a finite number >= 0; got {weight!r}")
        table[label] = weight
    return table[classes]
