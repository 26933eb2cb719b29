"""Activation functions and their backward passes, dispatched on integer codes.

Each kernel loops over a whole ``(rows, units)`` block and branches on the code once,
outside the loops, so the loops stay tight and vectorisable.
"""
import numpy as np

from ._jit import kernel, like

LINEAR, RELU, LEAKY_RELU, SIGMOID, TANH, SOFTMAX, STEP = range(7)


@kernel
def sigmoid(z):
    """Logistic function without overflow for any ``z``."""
    one = like(1, z)
    if z >= 0:
        return one / (one + np.exp(-z))
    e = np.exp(z)
    return e / (one + e)


@kernel
def activation_forward(A, Z, code, slope):
    """A = f(Z). A, Z: (rows, units); ``slope`` is leaky ReLU's negative slope."""
    rows, units = Z.shape
    zero = like(0, Z)
    one = like(1, Z)
    if code == LINEAR:
        for r in range(rows):
            for j in range(units):
                A[r, j] = Z[r, j]
    elif code == RELU:
        for r in range(rows):
            for j in range(units):
                A[r, j] = max(Z[r, j], zero)
    elif code == LEAKY_RELU:
        for r in range(rows):
            for j in range(units):
                z = Z[r, j]
                A[r, j] = z if z > zero else slope * z
    elif code == SIGMOID:
        for r in range(rows):
            for j in range(units):
                A[r, j] = sigmoid(Z[r, j])
    elif code == TANH:
        for r in range(rows):
            for j in range(units):
                A[r, j] = np.tanh(Z[r, j])
    elif code == SOFTMAX:
        for r in range(rows):
            largest = Z[r, 0]
            for j in range(1, units):
                largest = max(largest, Z[r, j])
            total = zero
            for j in range(units):
                e = np.exp(Z[r, j] - largest)
                A[r, j] = e
                total += e
            scale = one / total
            for j in range(units):
                A[r, j] *= scale
    elif code == STEP:
        for r in range(rows):
            for j in range(units):
                A[r, j] = one if Z[r, j] > zero else zero


@kernel
def activation_backward(dA, Z, A, code, slope):
    """Turn dA into dZ = dA * f'(Z), in place. All arrays: (rows, units).

    In place because that is how backpropagation uses it, and because a separate output
    array that might alias dA stops LLVM from vectorising the loops. Softmax uses its
    Jacobian-vector product, dZ = A * (dA - sum(dA * A)), so it is right under any loss.
    The step function's derivative is zero wherever it exists.
    """
    rows, units = Z.shape
    zero = like(0, Z)
    one = like(1, Z)
    if code == RELU:
        for r in range(rows):
            for j in range(units):
                dA[r, j] = dA[r, j] if Z[r, j] > zero else zero
    elif code == LEAKY_RELU:
        for r in range(rows):
            for j in range(units):
                dA[r, j] = dA[r, j] if Z[r, j] > zero else slope * dA[r, j]
    elif code == SIGMOID:
        for r in range(rows):
            for j in range(units):
                a = A[r, j]
                dA[r, j] *= a * (one - a)
    elif code == TANH:
        for r in range(rows):
            for j in range(units):
                a = A[r, j]
                dA[r, j] *= one - a * a
    elif code == SOFTMAX:
        for r in range(rows):
            inner = zero
            for j in range(units):
                inner += dA[r, j] * A[r, j]
            for j in range(units):
                dA[r, j] = A[r, j] * (dA[r, j] - inner)
    elif code == STEP:
        for r in range(rows):
            for j in range(units):
                dA[r, j] = zero
