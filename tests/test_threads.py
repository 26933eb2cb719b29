"""A float64 model trains to the same weights, bit for bit, on one thread and on all.

The kernels' own loops run on one thread. BLAS may split a large product over its
threads, but it splits the outputs, so each output is still summed by one thread in
one order. The shapes here are large enough for OpenBLAS to use every thread.
"""
import numpy as np
import pytest

import fastann as fa

pytest.importorskip("threadpoolctl")
from fastann.bench import single_thread  # noqa: E402  (needs threadpoolctl)


def trained_weights(X, y):
    model = fa.Model([fa.Dense(256, activation="relu"), fa.Dense(10, activation="softmax")],
                     input_dim=X.shape[1], dtype="float64", seed=3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=1e-3))
    model.fit(X, y, epochs=2, batch_size=128, verbose=0)
    return model.get_weights()


def blas_threads():
    """The largest thread count among the BLAS libraries loaded (SciPy's: the kernels')."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS the kernels call)
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info()
               if pool["user_api"] == "blas")


def test_float64_weights_do_not_depend_on_the_number_of_threads():
    if blas_threads() < 2:
        pytest.skip("BLAS runs one thread here: nothing to compare")
    generator = np.random.default_rng(0)
    X = generator.standard_normal((1024, 256))
    y = generator.integers(0, 10, 1024)
    on_all_threads = trained_weights(X, y)
    with single_thread():
        assert blas_threads() == 1
        on_one_thread = trained_weights(X, y)
    for all_threads, one_thread in zip(on_all_threads, on_one_thread):
        np.testing.assert_array_equal(all_threads, one_thread)
