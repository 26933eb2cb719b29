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

from ._jit import gated, kernel, like, view_flat

LINEAR, RELU, LEAKY_RELU, SIGMOID, TANH, SOFTMAX, STEP = range(7)
(ELU, SELU, GELU, SOFTPLUS, SOFTSIGN, SWISH, HARD_SIGMOID, RELU6, EXPONENTIAL,
 MISH) = range(7, 17)
SMOOTH = frozenset(range(ELU, MISH + 1))  # the codes ``smooth_forward`` computes
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
def activation_forward(A, Z, code, slope, smooth):
    """A = f(Z). A, Z: C-ordered (rows, units); ``slope`` is leaky ReLU's negative slope;
    ``smooth``: None where no layer has a SMOOTH code (their kernel is not compiled).

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
        gated_smooth_forward(smooth, a, z, code)


@kernel(entry=True)
def smooth_forward(a, z, code):
    """a = f(z) for the activations added for Keras (codes ELU..MISH); a, z: (size,).

    A kernel of its own, compiled only for a model that uses one of these codes
    (``gated_smooth_forward``, see ``_jit.gated``). One loop that branches on the code
    per element, not a loop per code: ten vectorised loops of transcendental functions
    took seconds of LLVM time on each first fit."""
    for i in range(z.shape[0]):
        a[i] = smooth_value(z[i], code)


@kernel(inline=True)
def smooth_value(x, code):
    """f(x) of one of the codes ELU..MISH (see the table above)."""
    zero = like(0, x)
    one = like(1, x)
    half = like(0.5, x)
    if code == ELU:
        return exponential_linear(x, one, one)
    if code == SELU:
        return exponential_linear(x, like(SELU_ALPHA, x), like(SELU_SCALE, x))
    if code == GELU:
        return half * x * (one + math.erf(x * like(INV_SQRT_2, x)))
    if code == SOFTPLUS:
        return softplus(x)
    if code == SOFTSIGN:
        return x / (one + abs(x))
    if code == SWISH:
        return x * sigmoid(x)
    if code == HARD_SIGMOID:
        return min(max(x / like(6, x) + half, zero), one)
    if code == RELU6:
        return min(max(x, zero), like(6, x))
    if code == EXPONENTIAL:
        return np.exp(x)
    return x * np.tanh(softplus(x))  # MISH


@kernel
def activation_backward(dA, Z, A, code, slope, smooth):
    """Turn dA into dZ = dA * f'(Z), in place. All arrays: C-ordered (rows, units);
    ``slope`` and ``smooth`` as ``activation_forward``'s.

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
        gated_smooth_backward(smooth, d, z, a, code)


@kernel(entry=True)
def smooth_backward(d, z, a, code):
    """d *= f'(z) in place for the codes ELU..MISH; d, z, a = f(z): (size,). One loop,
    as ``smooth_forward``."""
    for i in range(d.shape[0]):
        d[i] *= smooth_slope(z[i], a[i], code)


gated_smooth_forward = gated(smooth_forward)
gated_smooth_backward = gated(smooth_backward)


@kernel(inline=True)
def smooth_slope(x, y, code):
    """f'(x) of one of the codes ELU..MISH, given y = f(x)."""
    zero = like(0, x)
    one = like(1, x)
    half = like(0.5, x)
    if code == ELU:
        return one if x > zero else y + one
    if code == SELU:
        return like(SELU_SCALE, x) if x > zero else y + like(SELU_SCALE * SELU_ALPHA, x)
    if code == GELU:
        return (half * (one + math.erf(x * like(INV_SQRT_2, x)))
                + x * like(INV_SQRT_2PI, x) * np.exp(-half * x * x))
    if code == SOFTPLUS:
        return sigmoid(x)
    if code == SOFTSIGN:
        denominator = one + abs(x)
        return one / (denominator * denominator)
    if code == SWISH:
        s = sigmoid(x)
        return s * (one + x * (one - s))
    if code == HARD_SIGMOID:
        return one / like(6, x) if -like(3, x) < x < like(3, x) else zero
    if code == RELU6:
        return one if zero < x < like(6, x) else zero
    if code == EXPONENTIAL:
        return y
    t = np.tanh(softplus(x))  # MISH
    return t + x * sigmoid(x) * (one - t * t)
