"""Inverted dropout: forward (drawing the mask) and backward, over (rows, units) blocks.

The mask is drawn from the model's explicit SplitMix64 state (``rng.py``), one 64-bit
draw per entry: an entry is kept when the draw's top 53 bits are at least
``threshold = floor(rate * 2**53)``, so float32 and float64 models draw the same mask. A
layer ``salt`` (from its ``seed``; 0 for none) is mixed into every draw.
"""
import numpy as np

from ._jit import kernel, like
from .rng import MIX_1, MIX_2, SHIFT_27, SHIFT_30, SHIFT_31, next_uint64

SHIFT_11 = np.uint64(11)
NO_SALT = np.uint64(0)


@kernel(inline=True)
def salted(bits, salt):
    """``bits`` mixed with a nonzero ``salt`` through SplitMix64's finaliser."""
    if salt == NO_SALT:
        return bits
    z = bits ^ salt
    z = (z ^ (z >> SHIFT_30)) * MIX_1
    z = (z ^ (z >> SHIFT_27)) * MIX_2
    return z ^ (z >> SHIFT_31)


@kernel
def dropout_forward(A, mask, A_prev, scale, salt, threshold, rng_state):
    """Draw ``mask`` (entries 0 or ``scale = 1 / (1 - rate)``) and set A = A_prev * mask.

    A, mask: C-ordered (rows, units); A_prev: (rows, units); rng_state: (1,) uint64.
    """
    zero = like(0, A)
    for r in range(A_prev.shape[0]):
        for j in range(A_prev.shape[1]):
            bits = salted(next_uint64(rng_state), salt)
            keep = scale if (bits >> SHIFT_11) >= threshold else zero
            mask[r, j] = keep
            A[r, j] = A_prev[r, j] * keep


@kernel
def dropout_backward(dA, mask):
    """dA_prev = dA * mask, in place. dA, mask: C-ordered (rows, units)."""
    for r in range(dA.shape[0]):
        for j in range(dA.shape[1]):
            dA[r, j] *= mask[r, j]


@kernel
def copy_block(destination, source):
    """destination[:] = source for (rows, units) blocks (the identity layers' forward)."""
    for r in range(source.shape[0]):
        for j in range(source.shape[1]):
            destination[r, j] = source[r, j]
