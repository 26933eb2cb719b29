"""A float64 model trains to the same weights, bit for bit, on one thread and on all.

The kernels' own loops run on one thread. BLAS may split a large product over its
threads, but it splits the outputs, so each output is still summed by one thread in
one order. The shapes here are large enough for OpenBLAS to use every thread.
"""
import os

import numpy as np
import pytest

import fastann as fa
from fastann import _blas_threads

pytest.importorskip("threadpoolctl")


def trained_weights(X, y):
    model = fa.Model([fa.Dense(256, activation="relu"), fa.Dense(10, activation="softmax")],
                     input_dim=X.shape[1], dtype="float64", seed=3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=1e-3))
    model.fit(X, y, epochs=2, batch_size=128, verbose=0)
    return model.get_weights()


def blas_threads():
    """The thread count of the BLAS the kernels call (SciPy's), as threadpoolctl reads it."""
    return max(lib.num_threads for lib in _blas_threads._blas_controller().lib_controllers)


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
    with _blas_threads.limited(1):
        assert blas_threads() == 1
        on_one_thread = trained_weights(X, y)
    for all_threads, policy, one_thread in zip(on_all_threads, on_policy, on_one_thread):
        np.testing.assert_array_equal(all_threads, one_thread)
        np.testing.assert_array_equal(policy, one_thread)


# ------------------------------------------------------------------ the policy's math
@pytest.mark.parametrize("work, usable, busy, expected", [
    (2 ** 18, 2, 0, 1),  # small products: one thread however many cores are free
    (_blas_threads.WORK_PER_THREAD * 2, 2, 0, 2),  # large enough for two, both cores free
    (_blas_threads.WORK_PER_THREAD * 2, 2, 1, 1),  # one core taken by another process
    (_blas_threads.WORK_PER_THREAD * 2, 2, 3, 1),  # more busy than cores: still one
    (_blas_threads.WORK_PER_THREAD * 64, 16, 4, 12),  # never more than the free cores
    (_blas_threads.WORK_PER_THREAD * 3, 16, 0, 3),  # never more than the work pays for
    (_blas_threads.WORK_PER_THREAD * 8, 4, 0.4, 4),  # a core under half busy counts as free
    (_blas_threads.WORK_PER_THREAD * 8, 4, 0.6, 3),
])
def test_thread_count_follows_the_work_and_the_free_cores(work, usable, busy, expected):
    assert _blas_threads.blas_threads(work, usable, busy) == expected


def test_largest_product_of_a_batch():
    # 784-256-256-10 at 128 rows: the first layer's 128 x 784 x 256
    assert _blas_threads.largest_product((784, 256, 256, 10), 128) == 128 * 784 * 256
    assert _blas_threads.largest_product((2, 4, 1), 4) == 4 * 2 * 4


def test_busy_cores_leaves_out_this_process():
    assert 0 <= _blas_threads.busy_cores() < 64
    assert 1 <= _blas_threads.usable_cores() <= (os.cpu_count() or 1)


def test_fit_keeps_to_a_limit_the_caller_set_and_restores_the_count():
    before = blas_threads()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        with _blas_threads.for_training((256, 256, 10), 1024, 4096):
            assert blas_threads() == 1
    with _blas_threads.for_training((2, 4, 1), None, 4):  # tiny products: one thread
        assert blas_threads() == 1
    assert blas_threads() == before


def test_the_policy_can_be_turned_off(monkeypatch):
    before = blas_threads()
    monkeypatch.setenv("FASTANN_BLAS_THREADS", "off")
    with _blas_threads.for_training((2, 4, 1), None, 4):
        assert blas_threads() == before

# ----------------------------------------------------- one model, many threads
import threading  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from fastann._threads import ConcurrentFitError  # noqa: E402

N_THREADS = 8


def wide_model(dtype):
    """Large enough that a predict call spends milliseconds in the kernel, with the GIL
    released, so threads overlap there."""
    model = fa.Model([fa.Dense(96, activation="tanh"), fa.Dense(48, activation="relu"),
                      fa.Dense(4, activation="softmax")], input_dim=32, dtype=dtype, seed=2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=1e-3),
                  metrics=["accuracy", "mae"])
    return model


def at_once(function, arguments):
    """function(argument) for each argument, all started together on their own threads."""
    barrier = threading.Barrier(len(arguments))

    def run(argument):
        barrier.wait()
        return function(argument)

    with ThreadPoolExecutor(len(arguments)) as pool:
        return list(pool.map(run, arguments))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_and_evaluate_from_many_threads_give_the_serial_results(dtype):
    model = wide_model(dtype)
    generator = np.random.default_rng(1)
    inputs = [generator.normal(size=(3000 + 500 * i, 32)) for i in range(N_THREADS)]
    labels = [generator.integers(0, 4, x.shape[0]) for x in inputs]
    serial = [model.predict_proba(x) for x in inputs]
    scores = [model.evaluate(x, y) for x, y in zip(inputs, labels)]
    for _ in range(3):
        threaded = at_once(model.predict_proba, inputs)
        for expected, got in zip(serial, threaded):
            np.testing.assert_array_equal(got, expected)
        threaded = at_once(lambda i: model.evaluate(inputs[i], labels[i]), range(N_THREADS))
        assert threaded == scores


def test_fit_from_a_second_thread_is_refused_while_the_first_trains(tmp_path):
    model = wide_model("float64")
    generator = np.random.default_rng(3)
    X, y = generator.normal(size=(256, 32)), generator.integers(0, 4, 256)
    started, release = threading.Event(), threading.Event()

    class Hold(fa.Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()
            release.wait(60)

    trainer = ThreadPoolExecutor(1)
    first = trainer.submit(model.fit, X, y, epochs=2, batch_size=32, verbose=0,
                           callbacks=[Hold()])
    try:
        assert started.wait(120)
        before = model.get_weights()
        with pytest.raises(ConcurrentFitError, match="fit: this model is being trained by "
                                                     "another thread"):
            model.fit(X, y, epochs=1, verbose=0)
        with pytest.raises(ConcurrentFitError, match="compile: .*another thread"):
            model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        with pytest.raises(ConcurrentFitError, match="set_weights: .*another thread"):
            model.set_weights(before)
        with pytest.raises(ConcurrentFitError, match="save: .*another thread"):
            model.save(tmp_path / "mid-fit.npz")
        assert not list(tmp_path.iterdir())
        assert isinstance(ConcurrentFitError("x"), RuntimeError)
    finally:
        release.set()
        history = first.result(timeout=120)
        trainer.shutdown()
    assert len(history.history["loss"]) == 2 and model.epochs_trained == 2
    model.fit(X, y, epochs=1, verbose=0)  # free again once the first fit returned
    assert model.epochs_trained == 3


def test_fit_called_from_inside_fit_is_refused():
    model = wide_model("float64")
    X, y = np.ones((8, 32)), np.zeros(8, np.int64)
    errors = []

    class Nested(fa.Callback):
        def on_epoch_end(self, epoch, logs=None):
            try:
                self.model.fit(X, y, epochs=1, verbose=0)
            except ConcurrentFitError as error:
                errors.append(error)

    model.fit(X, y, epochs=1, verbose=0, callbacks=[Nested()])
    assert len(errors) == 1 and "fit called from inside fit" in str(errors[0])


def test_different_models_train_independently_in_parallel():
    generator = np.random.default_rng(4)
    X, y = generator.normal(size=(512, 32)), generator.integers(0, 4, 512)

    def train(seed):
        model = fa.Model([fa.Dense(64, activation="relu"), fa.Dense(4, activation="softmax")],
                         input_dim=32, dtype="float64", seed=seed)
        model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=1e-3))
        model.fit(X, y, epochs=3, batch_size=32, verbose=0)
        return model.get_weights(), model.predict_proba(X)

    seeds = list(range(4))
    serial = [train(seed) for seed in seeds]
    parallel = at_once(train, seeds)
    for (weights, outputs), (weights_p, outputs_p) in zip(serial, parallel):
        for a, b in zip(weights, weights_p):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(outputs, outputs_p)


def test_a_copy_of_a_model_trains_beside_the_original():
    """copy.deepcopy and pickle give a model with its own guard and scratch: the two
    train at once, each to the weights it would reach alone."""
    import copy
    import pickle

    generator = np.random.default_rng(5)
    X, y = generator.normal(size=(256, 32)), generator.integers(0, 4, 256)
    original = wide_model("float64")
    original.fit(X, y, epochs=1, verbose=0)
    copies = [copy.deepcopy(original), pickle.loads(pickle.dumps(original))]
    alone = copy.deepcopy(original)
    alone.fit(X, y, epochs=2, batch_size=32, verbose=0)
    at_once(lambda model: model.fit(X, y, epochs=2, batch_size=32, verbose=0),
            [original] + copies)
    for model in [original] + copies:
        for a, b in zip(model.get_weights(), alone.get_weights()):
            np.testing.assert_array_equal(a, b)
