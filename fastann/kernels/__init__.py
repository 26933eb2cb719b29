"""The compiled kernels: module-level ``@njit(cache=True)`` functions over flat buffers.

Validation lives in the Python wrapper (``fastann.model``); kernels assume valid input.
Importing this package imports every kernel module; each kernel drops cached machine
code that was compiled from older kernel sources (see ``_jit._drop_if_stale``).
"""
from . import (activations, blas, dense, losses, metrics, network, objective,  # noqa: F401
               optimizers, rng, train)
