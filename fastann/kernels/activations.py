"""Activation functions and their backward passes, dispatched on integer codes.

Each kernel loops over a whole ``(rows, units)`` block and branches on the code once,
outside the loops, so the loops stay tight and vectorisable. The formulas are Keras 3's:

=============  ======================================  ===================================
code           f(z)                                    f'(z), as the backward pass uses it
=============  ======================================  ===================================
ELU            z if z > 0 else exp(z) - 1 (alpha 1)    1, or a + 1
SELU           SCALE * (z if z > 0 else                SCALE, or a + SCALE * ALPHA
               ALPHA * (exp(z) - 1))
GELU           0.5 * z * (1 + erf(z / sqrt(2)))        Phi(z) + z * phi(z)
SOFTPLUS       log(1 + exp(z))                         sigmoid(z)
SOFTSIGN       z / (1 + |z|)                           1 / (1 + |z|)**2
SWISH          z * sigmoid(z) (= silu)                 s * (1 + z * (1 - s))
HARD_SIGMOID   clip(z / 6 + 0.5, 0, 1) (relu6(z+3)/6)  1/6 on (-3, 3), else 0
RELU6          min(max(z, 0), 6)                       1 on (0, 6), else 0
EXPONENTIAL    exp(z)                                  a
MISH           z * tanh(softplus(z))                   t + z * sigmoid(z) * (1 - t**2)
=============  ======================================  ===================================
"""
import math

import numpy as np

from ._jit import kernel, like, view_flat

LINEAR, RELU, LEAKY_RELU, SIGMOID, TANH, SOFTMAX, STEP = range(7)
(ELU, SELU, GELU, SOFTPLUS, SOFTSIGN, SWISH, HARD_SIGMOID, RELU6, EXPONENTIAL,
 MISH) = range(7, 17)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
INV_SQRT_2 = 0.70710678118654752440084436210485
INV_SQRT_2PI = 0.39894228040143267793994605993438


@kernel(inline=True)
def softplus(z):
    """log(1 + exp(z)) without overflow for any ``z``."""
    return max(z, like(0, z)) + np.log1p(np.exp(-abs(z)))


@kernel(inline=True)
def exponential_linear(z, alpha, scale):
    """scale * (z if z > 0 else alpha * (exp(z) - 1)): ELU (1, 1) and SELU."""
    return scale * z if z > like(0, z) else scale * alpha * np.expm1(z)


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
    else:
        smooth_forward(a, z, code)


@kernel(entry=True)  # not force-inlined: it stays out of the hot kernel's code
def smooth_forward(a, z, code):
    """a = f(z) for the activations added for Keras (codes ELU..MISH); a, z: (size,).

    A kernel of its own, so that the long-standing activations' kernel (and the
    compile time of a model that uses only them) stays as it was."""
    zero = like(0, z)
    one = like(1, z)
    half = like(0.5, z)
    if code == ELU:
        for i in range(z.shape[0]):
            a[i] = exponential_linear(z[i], one, one)
    elif code == SELU:
        alpha, scale = like(SELU_ALPHA, z), like(SELU_SCALE, z)
        for i in range(z.shape[0]):
            a[i] = exponential_linear(z[i], alpha, scale)
    elif code == GELU:
        inv_sqrt_2 = like(INV_SQRT_2, z)
        for i in range(z.shape[0]):
            a[i] = half * z[i] * (one + math.erf(z[i] * inv_sqrt_2))
    elif code == SOFTPLUS:
        for i in range(z.shape[0]):
            a[i] = softplus(z[i])
    elif code == SOFTSIGN:
        for i in range(z.shape[0]):
            a[i] = z[i] / (one + abs(z[i]))
    elif code == SWISH:
        for i in range(z.shape[0]):
            a[i] = z[i] * sigmoid(z[i])
    elif code == HARD_SIGMOID:
        sixth = one / like(6, z)
        for i in range(z.shape[0]):
            a[i] = min(max(z[i] * sixth + half, zero), one)
    elif code == RELU6:
        six = like(6, z)
        for i in range(z.shape[0]):
            a[i] = min(max(z[i], zero), six)
    elif code == EXPONENTIAL:
        for i in range(z.shape[0]):
            a[i] = np.exp(z[i])
    elif code == MISH:
        for i in range(z.shape[0]):
            a[i] = z[i] * np.tanh(softplus(z[i]))


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
    elif code != LINEAR:
        smooth_backward(d, z, a, code)


@kernel(entry=True)  # not force-inlined: it stays out of the hot kernel's code
def smooth_backward(d, z, a, code):
    """d *= f'(z) in place for the codes ELU..MISH; d, z, a = f(z): (size,)."""
    zero = like(0, z)
    one = like(1, z)
    if code == ELU:
        for i in range(d.shape[0]):
            d[i] *= one if z[i] > zero else a[i] + one
    elif code == SELU:
        scale = like(SELU_SCALE, z)
        scaled_alpha = like(SELU_SCALE * SELU_ALPHA, z)
        for i in range(d.shape[0]):
            d[i] *= scale if z[i] > zero else a[i] + scaled_alpha
    elif code == GELU:
        half = like(0.5, z)
        inv_sqrt_2 = like(INV_SQRT_2, z)
        inv_sqrt_2pi = like(INV_SQRT_2PI, z)
        for i in range(d.shape[0]):
            x = z[i]
            d[i] *= (half * (one + math.erf(x * inv_sqrt_2))
                     + x * inv_sqrt_2pi * np.exp(-half * x * x))
    elif code == SOFTPLUS:
        for i in range(d.shape[0]):
            d[i] *= sigmoid(z[i])
    elif code == SOFTSIGN:
        for i in range(d.shape[0]):
            denominator = one + abs(z[i])
            d[i] /= denominator * denominator
    elif code == SWISH:
        for i in range(d.shape[0]):
            s = sigmoid(z[i])
            d[i] *= s * (one + z[i] * (one - s))
    elif code == HARD_SIGMOID:
        three = like(3, z)
        sixth = one / like(6, z)
        for i in range(d.shape[0]):
            d[i] = d[i] * sixth if -three < z[i] < three else zero
    elif code == RELU6:
        six = like(6, z)
        for i in range(d.shape[0]):
            d[i] = d[i] if zero < z[i] < six else zero
    elif code == EXPONENTIAL:
        for i in range(d.shape[0]):
            d[i] *= a[i]
    elif code == MISH:
        for i in range(d.shape[0]):
            t = np.tanh(softplus(z[i]))
            d[i] *= t + z[i] * sigmoid(z[i]) * (one - t * t)
