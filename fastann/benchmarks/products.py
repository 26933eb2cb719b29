"""mnist_shape's matrix products alone: the same gemm calls fastann's dense kernels
make at its batch size, and nothing else, as a ceiling for its GFLOP/s."""
import time

import numba
import numpy as np

from .. import _blas_threads
from ..kernels._jit import view_2d, view_rows
from ..kernels.blas import gemm
from ..kernels.network import N_IN, layer_block, layer_params
from ..layout import Layout


# Not cached, as peak._numba_gemm: it inlines fastann's kernels.
@numba.njit(nogil=True)
def _products_epoch(params, grads, Z_buffer, dZ_buffer, dA_buffer, X, layers, capacity):
    """One epoch of a network's matrix products, the calls and shapes fastann's dense
    kernels make, and nothing else (no bias, activation, loss, update or shuffling).

    Forward Z_l = A_{l-1} @ W_l (a layer's Z stands in for its A), then per layer from
    the top dW_l = A_{l-1}.T @ dZ_l and, above the first, dA_{l-1} = dZ_l @ W_l.T. The
    dZ blocks are read from ``dZ_buffer`` and never written, so no value drifts towards
    denormals over the epoch. Buffers are laid out as in ``layout.Workspace``.
    """
    n = X.shape[0]
    last = layers.shape[0] - 1
    for start in range(0, n, capacity):
        rows = min(capacity, n - start)
        X_batch = view_rows(X, start, rows)
        A_prev = X_batch
        for l in range(last + 1):
            W, _ = layer_params(params, layers, l)
            Z = layer_block(Z_buffer, layers, l, rows, capacity)
            gemm(Z, A_prev, W, False, False)
            A_prev = Z
        for l in range(last, -1, -1):
            dZ = layer_block(dZ_buffer, layers, l, rows, capacity)
            A_prev = X_batch if l == 0 else layer_block(Z_buffer, layers, l - 1, rows,
                                                         capacity)
            dW, _ = layer_params(grads, layers, l)
            gemm(dW, A_prev, dZ, True, False)
            if l > 0:
                W, _ = layer_params(params, layers, l)
                gemm(view_2d(dA_buffer, 0, rows, layers[l, N_IN]), dZ, W, False, True)


class ProductsRound:
    """A round function (called like ``fastann_round``) that runs only a workload's
    matrix products, through the kernels' gemm at its batch size, on a fresh model's
    weights.

    Its GFLOP/s are what this BLAS gives the network's shapes, the ceiling to set
    fastann's rate against (besides the square-matrix peak). The products run on the
    BLAS threads ``fit`` would choose for this network now (``_blas_threads``): with
    BLAS' default (every core) on a machine where another process holds a core, one
    stalled thread held every product up, and this ceiling read 2-15 GFLOP/s against
    fastann's own 40. The kernel is compiled here, on one batch, so that no round
    times compilation (it is not cached, see ``peak._numba_gemm``).
    """

    def __init__(self, workload):
        sizes = workload.sizes
        self.layout = Layout.build(sizes, [0] * (len(sizes) - 1))
        self.capacity = workload.batch_rows
        dtype = workload.X.dtype
        units = self.capacity * self.layout.total_units
        self.params = np.concatenate([w.ravel() for w in workload.initial_weights()[0]])
        self.grads = np.zeros(self.layout.n_params, dtype)
        self.Z = np.zeros(units, dtype)
        self.dZ = np.random.default_rng(0).standard_normal(units).astype(dtype)
        self.dA = np.zeros(self.capacity * self.layout.max_units, dtype)
        self.blas_threads = None  # the thread limit of the last round
        self._epoch(workload.X[:self.capacity])  # compiles

    def _epoch(self, X):
        _products_epoch(self.params, self.grads, self.Z, self.dZ, self.dA, X,
                        self.layout.table, self.capacity)

    def __call__(self, workload, epochs):
        with _blas_threads.for_training(workload.sizes, workload.batch_size,
                                        workload.n_samples):
            self.blas_threads = _current_blas_threads()
            start = time.perf_counter()
            for _ in range(epochs):
                self._epoch(workload.X)
            elapsed = time.perf_counter() - start
        return elapsed, np.zeros(0)


def _current_blas_threads():
    """The thread count of the BLAS the kernels call, or None when it cannot be read."""
    controller = _blas_threads._blas_controller()
    if controller is None:
        return None
    return min((lib.num_threads for lib in controller.lib_controllers), default=None)


