"""The compiled kernels: module-level ``@njit(cache=True)`` functions over flat buffers.

Validation lives in the Python wrapper (``fastann.model``); kernels assume valid input.
"""
