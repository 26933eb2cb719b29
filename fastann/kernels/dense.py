"""The dense (fully-connected) layer: forward and backward.

Weights use Keras' layout, ``W`` of shape ``(n_in, n_out)``, so every inner loop runs
along a contiguous row. Small products use explicit loops (no call overhead); large
ones go to BLAS through ``np.dot`` with an ``out=`` buffer (no allocation). The
crossover, in multiply-adds per product, was measured by ``fastann bench --scaling``.
"""
import numpy as np

from ._jit import kernel, like

BLAS_MIN_WORK = 64 * 64 * 64


@kernel
def dense_forward(Z, A_prev, W, b):
    """Z = A_prev @ W + b.

    Z: (rows, n_out); A_prev: (rows, n_in); W: (n_in, n_out); b: (n_out,).
    """
    rows, n_in = A_prev.shape
    n_out = W.shape[1]
    if rows * n_in * n_out >= BLAS_MIN_WORK:
        np.dot(A_prev, W, Z)
        for r in range(rows):
            for j in range(n_out):
                Z[r, j] += b[j]
        return
    for r in range(rows):
        for j in range(n_out):
            Z[r, j] = b[j]
        for k in range(n_in):
            a = A_prev[r, k]
            for j in range(n_out):
                Z[r, j] += a * W[k, j]


@kernel
def dense_backward(dA_prev, dW, db, dZ, A_prev, W, need_dA_prev):
    """dW = A_prev.T @ dZ, db = sum of dZ's rows and, if asked, dA_prev = dZ @ W.T.

    dA_prev: (rows, n_in); dW: (n_in, n_out); db: (n_out,); dZ: (rows, n_out);
    A_prev: (rows, n_in); W: (n_in, n_out). The first layer skips dA_prev.
    """
    rows, n_in = A_prev.shape
    n_out = W.shape[1]
    zero = like(0, dW)
    for j in range(n_out):
        db[j] = zero
    for r in range(rows):
        for j in range(n_out):
            db[j] += dZ[r, j]
    if rows * n_in * n_out >= BLAS_MIN_WORK:
        np.dot(A_prev.T, dZ, dW)
        if need_dA_prev:
            np.dot(dZ, W.T, dA_prev)
        return
    for k in range(n_in):
        for j in range(n_out):
            dW[k, j] = zero
    for r in range(rows):
        for k in range(n_in):
            a = A_prev[r, k]
            for j in range(n_out):
                dW[k, j] += a * dZ[r, j]
    if need_dA_prev:
        for r in range(rows):
            for k in range(n_in):
                total = zero
                for j in range(n_out):
                    total += dZ[r, j] * W[k, j]
                dA_prev[r, k] = total
