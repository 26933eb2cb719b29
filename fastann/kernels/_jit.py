"""The decorator every kernel uses, and the dtype-preserving scalar cast.

Kernels are cached on disk (``cache=True``) so that only the first process pays the
compile time. Caching needs a writable directory: Numba tries the package's own
``__pycache__`` and then a user-wide cache directory (``NUMBA_CACHE_DIR`` overrides
both). When none is writable fastann compiles in memory instead of failing to import;
``FASTANN_DISABLE_CACHE=1`` turns the disk cache off on purpose.
"""
import os
import warnings

import numba
from numba.extending import overload

# Fast-math without ``nnan``/``ninf``: reductions may be reassociated (and so
# vectorised) and multiply-adds fused, but NaN and inf checks keep their meaning.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "reassoc"})

CACHE_ENABLED = os.environ.get("FASTANN_DISABLE_CACHE", "") not in ("1", "true", "yes")

_warned_no_cache = False


def kernel(function=None, *, fastmath=FASTMATH_FLAGS):
    """Compile ``function`` in nopython mode, cached on disk when possible."""

    def decorate(function):
        options = {"nogil": True, "fastmath": set(fastmath), "error_model": "numpy"}
        if CACHE_ENABLED:
            try:
                return numba.njit(cache=True, **options)(function)
            except RuntimeError as error:  # Numba found no writable cache directory
                _warn_no_cache(error)
        return numba.njit(**options)(function)

    return decorate if function is None else decorate(function)


def _warn_no_cache(error):
    global _warned_no_cache
    if not _warned_no_cache:
        _warned_no_cache = True
        warnings.warn(
            f"fastann: no writable cache directory ({error}); kernels are compiled in "
            "memory for this process. Set NUMBA_CACHE_DIR to a writable directory to "
            "keep them between runs.",
            RuntimeWarning,
            stacklevel=3,
        )


def like(value, array):
    """``value`` as a scalar of the dtype of ``array`` (an array or a NumPy scalar).

    Numba types ``1 + float32`` as float64; writing ``like(1, Z) + z`` keeps float32
    kernels in float32.
    """
    return array.dtype.type(value)


@overload(like)
def _like_compiled(value, array):
    dtype = getattr(array, "dtype", array)

    def cast(value, array):
        return dtype(value)

    return cast
