"""Activation functions and their backward passes, dispatched on integer codes.

Each kernel loops over a whole ``(rows, units)`` block and branches on the code once,
outside the loops, so the loops stay tight and vectorisable.
"""
import numpy as np

from ._jit import kernel, like, view_flat

LINEAR, RELU, LEAKY_RELU, SIGMOID, TANH, SOFTMAX, STEP = range(7)


@kernel(inline=True)
def sigmoid(z):
    """Logistic function without overflow for any ``z``."""
    return sigmoid_from(z, np.exp(-abs(z)))


@kernel(inline=True)
def sigmoid_from(z, e):
    """The logistic function of ``z`` given ``e = exp(-|z|)``, which binary
    cross-entropy needs too (so the fused loss computes the exponential once)."""
    one = like(1, z)
    if z >= 0:
        return one / (one + e)
    return e / (one + e)


@kernel(inline=True)
def softmax_row(A, Z, r):
    """A[r] = softmax(Z[r]), shifted by the row's largest logit so it cannot overflow.
    Returns (largest, the sum of exp(Z[r] - largest)): categorical cross-entropy's
    log-sum-exp, which the fused loss takes from here."""
    units = Z.shape[1]
    largest = Z[r, 0]
    for j in range(1, units):
        largest = max(largest, Z[r, j])
    total = like(0, Z)
    for j in range(units):
        e = np.exp(Z[r, j] - largest)
        A[r, j] = e
        total += e
    scale = like(1, Z) / total
    for j in range(units):
        A[r, j] *= scale
    return largest, total


@kernel
def activation_forward(A, Z, code, slope):
    """A = f(Z). A, Z: C-ordered (rows, units); ``slope`` is leaky ReLU's negative slope.

    Element-wise functions run as one loop over the whole block (a tiny layer's rows
    are shorter than a vector loop's set-up); softmax runs row by row.
    """
    zero = like(0, Z)
    one = like(1, Z)
    if code == SOFTMAX:
        for r in range(Z.shape[0]):
            softmax_row(A, Z, r)
        return
    a, z = view_flat(A), view_flat(Z)
    if code == LINEAR:
        for i in range(z.shape[0]):
            a[i] = z[i]
    elif code == RELU:
        for i in range(z.shape[0]):
            a[i] = max(z[i], zero)
    elif code == LEAKY_RELU:
        for i in range(z.shape[0]):
            a[i] = z[i] if z[i] > zero else slope * z[i]
    elif code == SIGMOID:
        for i in range(z.shape[0]):
            a[i] = sigmoid(z[i])
    elif code == TANH:
        for i in range(z.shape[0]):
            a[i] = np.tanh(z[i])
    elif code == STEP:
        for i in range(z.shape[0]):
            a[i] = one if z[i] > zero else zero


@kernel
def activation_backward(dA, Z, A, code, slope):
    """Turn dA into dZ = dA * f'(Z), in place. All arrays: C-ordered (rows, units).

    In place because that is how backpropagation uses it, and because a separate output
    array that might alias dA stops LLVM from vectorising the loops. Softmax uses its
    Jacobian-vector product, dZ = A * (dA - sum(dA * A)), so it is right under any loss.
    The step function's derivative is zero wherever it exists.
    """
    zero = like(0, Z)
    one = like(1, Z)
    if code == SOFTMAX:
        rows, units = Z.shape
        for r in range(rows):
            inner = zero
            for j in range(units):
                inner += dA[r, j] * A[r, j]
            for j in range(units):
                dA[r, j] = A[r, j] * (dA[r, j] - inner)
        return
    d, z, a = view_flat(dA), view_flat(Z), view_flat(A)
    if code == RELU:
        for i in range(d.shape[0]):
            d[i] = d[i] if z[i] > zero else zero
    elif code == LEAKY_RELU:
        for i in range(d.shape[0]):
            d[i] = d[i] if z[i] > zero else slope * d[i]
    elif code == SIGMOID:
        for i in range(d.shape[0]):
            d[i] *= a[i] * (one - a[i])
    elif code == TANH:
        for i in range(d.shape[0]):
            d[i] *= one - a[i] * a[i]
    elif code == STEP:
        for i in range(d.shape[0]):
            d[i] = zero
