"""Losses fused with the output layer's backward pass, dispatched on integer codes.

The cross-entropies are computed from the logits ``Z`` (log-sum-exp, ``log1p``), so
they never overflow or take ``log(0)``, and their gradient with respect to ``Z`` is the
exact, simple ``A - Y``. They also compute the output activation ``A`` itself (sigmoid,
softmax) from the exponentials they need anyway, so training skips the output layer's
activation pass: on a tiny network those exponentials are a large part of an epoch.
Mean squared error works under any output activation: its gradient is taken with
respect to ``A``, and the backward pass applies the output activation's derivative as
it does for every other layer (one copy of that code).
"""
import numpy as np

from ._jit import kernel, like
from .activations import sigmoid_from, softmax_row

BINARY_CROSSENTROPY, MEAN_SQUARED_ERROR, CATEGORICAL_CROSSENTROPY = range(3)


@kernel(inline=True)
def gives_dZ(loss_code):
    """Whether ``loss_and_delta`` writes dZ (a cross-entropy fused with its output
    activation, which it also computes into A) rather than dA."""
    return loss_code != MEAN_SQUARED_ERROR


@kernel
def loss_and_delta(delta, Z, A, Y, weight, loss_code, scale):
    """Return the weighted sum of per-row losses; write ``delta``, ``scale`` times the
    gradient of that sum with respect to Z if ``gives_dZ(loss_code)``, else to A.

    delta, Z, A, Y: (rows, n_out); weight: (rows,). A cross-entropy also writes A, the
    output activation of Z (the values ``activation_forward`` gives); the others read
    it. A row's loss is the mean over its outputs (as in Keras). ``scale`` is 1 / batch
    rows, so delta is the gradient of the batch mean. Binary cross-entropy expects a
    sigmoid output layer, categorical cross-entropy a softmax one; the wrapper enforces
    the pairing.
    """
    rows, n_out = Z.shape
    zero = like(0, Z)
    one = like(1, Z)
    per_output = one / like(n_out, Z)
    total = zero
    if loss_code == BINARY_CROSSENTROPY:
        for r in range(rows):
            row_loss = zero
            g = weight[r] * scale * per_output
            for j in range(n_out):
                z = Z[r, j]
                y = Y[r, j]
                e = np.exp(-abs(z))
                a = sigmoid_from(z, e)
                A[r, j] = a
                row_loss += max(z, zero) - z * y + np.log1p(e)
                delta[r, j] = g * (a - y)
            total += weight[r] * row_loss * per_output
    elif loss_code == MEAN_SQUARED_ERROR:
        two = like(2, Z)
        for r in range(rows):
            row_loss = zero
            g = two * weight[r] * scale * per_output
            for j in range(n_out):
                error = A[r, j] - Y[r, j]
                row_loss += error * error
                delta[r, j] = g * error
            total += weight[r] * row_loss * per_output
    elif loss_code == CATEGORICAL_CROSSENTROPY:
        for r in range(rows):
            largest, sum_exp = softmax_row(A, Z, r)
            log_sum_exp = largest + np.log(sum_exp)
            row_loss = zero
            target_mass = zero
            for j in range(n_out):
                row_loss += Y[r, j] * (log_sum_exp - Z[r, j])
                target_mass += Y[r, j]
            g = weight[r] * scale
            for j in range(n_out):
                delta[r, j] = g * (A[r, j] * target_mass - Y[r, j])
            total += weight[r] * row_loss
    return total
