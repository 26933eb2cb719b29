"""The float32 GEMM peak: square products through NumPy and through the BLAS call
fastann's kernels make."""
import time

import numba
import numpy as np

from ..kernels.blas import gemm


# Not cached: a cached function that inlines fastann's kernels outlives their source
# in Numba's cache when they change (Numba checks only the defining file's timestamp).
@numba.njit(nogil=True)
def _numba_gemm(out, a, b):
    """out = a @ b through ``kernels.blas.gemm``, the call fastann's dense kernels make."""
    gemm(out, a, b, False, False)


def gemm_peak(sizes, repeats):
    """Best float32 GFLOP/s of square matrix products, through NumPy and through Numba."""
    generator = np.random.default_rng(0)
    result = {"numpy_gflops": 0.0, "numba_gflops": 0.0, "numpy_size": None,
              "numba_size": None}
    for n in sizes:
        a = generator.standard_normal((n, n), dtype=np.float32)
        b = generator.standard_normal((n, n), dtype=np.float32)
        out = np.empty((n, n), np.float32)
        flops = 2.0 * n ** 3
        for side, product in (("numpy", lambda: np.dot(a, b, out=out)),
                              ("numba", lambda: _numba_gemm(out, a, b))):
            product()  # warm-up: compile, start BLAS threads, touch the pages
            best = min(_timed(product) for _ in range(repeats))
            if flops / best / 1e9 > result[f"{side}_gflops"]:
                result[f"{side}_gflops"] = flops / best / 1e9
                result[f"{side}_size"] = n
    return result




def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
