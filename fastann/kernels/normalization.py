"""Batch normalization over the features of (rows, units) blocks: forward in training
mode (batch statistics, moving-statistics update) or inference mode (moving
statistics), and the backward pass through either.

The normalised inputs ``X_hat`` are kept (in the layer's Z block) for the backward pass,
with ``inv_std = 1 / sqrt(var + epsilon)`` per feature.
"""
import numpy as np

from ._jit import kernel, like


@kernel
def batchnorm_forward(A, X_hat, mean, inv_std, moving_mean, moving_var, X, gamma, beta,
                      momentum, epsilon, training):
    """A = gamma * X_hat + beta, X_hat = (X - mean) * inv_std.

    A, X_hat: C-ordered (rows, units); X: (rows, units); mean, inv_std, moving_mean,
    moving_var, gamma, beta: (units,). Training: mean and the biased variance are the
    batch's, and moving = moving * momentum + batch_stat * (1 - momentum). Inference:
    the moving statistics are used and left as they are.
    """
    rows, units = X.shape
    zero = like(0, A)
    one = like(1, A)
    if training:
        for j in range(units):
            mean[j] = zero
            inv_std[j] = zero
        for r in range(rows):
            for j in range(units):
                mean[j] += X[r, j]
        inverse_rows = one / like(rows, A)
        for j in range(units):
            mean[j] *= inverse_rows
        for r in range(rows):
            for j in range(units):
                centred = X[r, j] - mean[j]
                inv_std[j] += centred * centred
        keep = one - momentum
        for j in range(units):
            variance = inv_std[j] * inverse_rows
            moving_mean[j] = moving_mean[j] * momentum + mean[j] * keep
            moving_var[j] = moving_var[j] * momentum + variance * keep
            inv_std[j] = one / np.sqrt(variance + epsilon)
    else:
        for j in range(units):
            mean[j] = moving_mean[j]
            inv_std[j] = one / np.sqrt(moving_var[j] + epsilon)
    for r in range(rows):
        for j in range(units):
            x_hat = (X[r, j] - mean[j]) * inv_std[j]
            X_hat[r, j] = x_hat
            A[r, j] = gamma[j] * x_hat + beta[j]


@kernel
def batchnorm_backward(dA, sum_d, sum_d_x_hat, X_hat, gamma, inv_std, batch_statistics):
    """Turn dA into dX in place: through the batch statistics (training mode),
    dX = gamma * inv_std * (dA - mean(dA) - X_hat * mean(dA * X_hat)); through fixed
    statistics (a frozen layer in training, normalising with the moving ones),
    dX = gamma * inv_std * dA.

    dA, X_hat: C-ordered (rows, units); gamma, inv_std: (units,). Writes the gradients of
    beta (sum_d = the column sums of dA) and of gamma (sum_d_x_hat), both (units,).
    """
    rows, units = dA.shape
    zero = like(0, dA)
    for j in range(units):
        sum_d[j] = zero
        sum_d_x_hat[j] = zero
    for r in range(rows):
        for j in range(units):
            sum_d[j] += dA[r, j]
            sum_d_x_hat[j] += dA[r, j] * X_hat[r, j]
    if not batch_statistics:
        for r in range(rows):
            for j in range(units):
                dA[r, j] *= gamma[j] * inv_std[j]
        return
    inverse_rows = like(1, dA) / like(rows, dA)
    for r in range(rows):
        for j in range(units):
            dA[r, j] = gamma[j] * inv_std[j] * (
                dA[r, j] - (sum_d[j] + X_hat[r, j] * sum_d_x_hat[j]) * inverse_rows)
