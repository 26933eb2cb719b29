"""An explicit random-number state for shuffling inside kernels.

SplitMix64 (Steele, Lea & Flood 2014) over one ``uint64`` held in a one-element array
that the model owns, so a run is reproducible and can be saved and resumed exactly.
Numba's hidden global generator is never used. ``fastann.reference`` re-implements the
same generator in plain Python.
"""
import numpy as np

from ._jit import kernel

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_2 = np.uint64(0x94D049BB133111EB)
SHIFT_30, SHIFT_27, SHIFT_31, SHIFT_32 = (np.uint64(s) for s in (30, 27, 31, 32))


@kernel(inline=True)
def next_uint64(state):
    """Advance ``state`` (uint64, (1,)) and return 64 random bits."""
    state[0] += GOLDEN_GAMMA
    z = state[0]
    z = (z ^ (z >> SHIFT_30)) * MIX_1
    z = (z ^ (z >> SHIFT_27)) * MIX_2
    return z ^ (z >> SHIFT_31)


@kernel
def shuffle_order(order, state):
    """Fill ``order`` (int64, (n,)) with a fresh random permutation of ``range(n)``.

    Fisher–Yates from the top, each index drawn with Lemire's multiply-shift
    ``(bits >> 32) * (i + 1) >> 32`` (n must be below 2**32).
    """
    n = order.shape[0]
    for i in range(n):
        order[i] = i
    for i in range(n - 1, 0, -1):
        bits = next_uint64(state) >> SHIFT_32
        j = np.int64((bits * np.uint64(i + 1)) >> SHIFT_32)
        order[i], order[j] = order[j], order[i]
