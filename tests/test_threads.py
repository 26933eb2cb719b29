"""A float64 model trains to the same weights, bit for bit, on one thread and on all.

The kernels' own loops run on one thread. BLAS may split a large product over its
threads, but it splits the outputs, so each output is still summed by one thread in
one order. The shapes here are large enough for OpenBLAS to use every thread.
"""
import os

import numpy as np
import pytest

import fastann as fa
from fastann import _threads

pytest.importorskip("threadpoolctl")


def trained_weights(X, y):
    model = fa.Model([fa.Dense(256, activation="relu"), fa.Dense(10, activation="softmax")],
                     input_dim=X.shape[1], dtype="float64", seed=3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=1e-3))
    model.fit(X, y, epochs=2, batch_size=128, verbose=0)
    return model.get_weights()


def blas_threads():
    """The thread count of the BLAS the kernels call (SciPy's), as threadpoolctl reads it."""
    return max(lib.num_threads for lib in _threads._blas_controller().lib_controllers)


def test_float64_weights_do_not_depend_on_the_number_of_threads(monkeypatch):
    if blas_threads() < 2:
        pytest.skip("BLAS runs one thread here: nothing to compare")
    generator = np.random.default_rng(0)
    X = generator.standard_normal((1024, 256))
    y = generator.integers(0, 10, 1024)
    monkeypatch.setenv("FASTANN_BLAS_THREADS", "off")  # BLAS' own count: every thread
    on_all_threads = trained_weights(X, y)
    monkeypatch.delenv("FASTANN_BLAS_THREADS")
    on_policy = trained_weights(X, y)
    with _threads.limited(1):
        assert blas_threads() == 1
        on_one_thread = trained_weights(X, y)
    for all_threads, policy, one_thread in zip(on_all_threads, on_policy, on_one_thread):
        np.testing.assert_array_equal(all_threads, one_thread)
        np.testing.assert_array_equal(policy, one_thread)


# ------------------------------------------------------------------ the policy's math
@pytest.mark.parametrize("work, usable, busy, expected", [
    (2 ** 18, 2, 0, 1),  # small products: one thread however many cores are free
    (_threads.WORK_PER_THREAD * 2, 2, 0, 2),  # large enough for two, both cores free
    (_threads.WORK_PER_THREAD * 2, 2, 1, 1),  # one core taken by another process
    (_threads.WORK_PER_THREAD * 2, 2, 3, 1),  # more busy than cores: still one
    (_threads.WORK_PER_THREAD * 64, 16, 4, 12),  # never more than the free cores
    (_threads.WORK_PER_THREAD * 3, 16, 0, 3),  # never more than the work pays for
    (_threads.WORK_PER_THREAD * 8, 4, 0.4, 4),  # a core under half busy counts as free
    (_threads.WORK_PER_THREAD * 8, 4, 0.6, 3),
])
def test_thread_count_follows_the_work_and_the_free_cores(work, usable, busy, expected):
    assert _threads.blas_threads(work, usable, busy) == expected


def test_largest_product_of_a_batch():
    # 784-256-256-10 at 128 rows: the first layer's 128 x 784 x 256
    assert _threads.largest_product((784, 256, 256, 10), 128) == 128 * 784 * 256
    assert _threads.largest_product((2, 4, 1), 4) == 4 * 2 * 4


def test_busy_cores_leaves_out_this_process():
    assert 0 <= _threads.busy_cores() < 64
    assert 1 <= _threads.usable_cores() <= (os.cpu_count() or 1)


def test_fit_keeps_to_a_limit_the_caller_set_and_restores_the_count():
    before = blas_threads()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        with _threads.for_training((256, 256, 10), 1024, 4096):
            assert blas_threads() == 1
    with _threads.for_training((2, 4, 1), None, 4):  # tiny products: one thread
        assert blas_threads() == 1
    assert blas_threads() == before


def test_the_policy_can_be_turned_off(monkeypatch):
    before = blas_threads()
    monkeypatch.setenv("FASTANN_BLAS_THREADS", "off")
    with _threads.for_training((2, 4, 1), None, 4):
        assert blas_threads() == before
