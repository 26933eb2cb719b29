"""The loss table: name → kernel code, required output activation, and target encoding.

Each encoder checks targets as the user gave them and returns a float (n, n_out) array
in the model's dtype, the one shape every loss kernel reads.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ._options import lookup
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


@dataclass(frozen=True)
class Loss:
    name: str
    code: int
    encode_targets: Callable
    output_activation: Optional[str]  # the output activation it requires, if any
    default_metrics: tuple


LOSSES = {
    loss.name: loss
    for loss in (
        Loss("binary_crossentropy", codes.BINARY_CROSSENTROPY, binary_targets, "sigmoid",
             ("accuracy",)),
        Loss("mean_squared_error", codes.MEAN_SQUARED_ERROR, regression_targets, None, ()),
        Loss("categorical_crossentropy", codes.CATEGORICAL_CROSSENTROPY, one_hot_targets,
             "softmax", ("accuracy",)),
        Loss("sparse_categorical_crossentropy", codes.CATEGORICAL_CROSSENTROPY, sparse_targets,
             "softmax", ("accuracy",)),
    )
}
LOSSES["mse"] = LOSSES["mean_squared_error"]


def get(name):
    return lookup(LOSSES, name, "loss")
