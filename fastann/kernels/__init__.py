"""The compiled kernels: module-level ``@njit(cache=True)`` functions over flat buffers.

Validation lives in the Python wrapper (``fastann.model``); kernels assume valid input.
Importing this package imports every kernel module and drops cached machine code that
was compiled from older kernel sources (see ``_jit.refresh_stale_caches``).
"""
from . import activations, blas, dense, losses, metrics, network, optimizers, rng, train  # noqa: F401
from ._jit import refresh_stale_caches

refresh_stale_caches()
