"""``fit`` on data already in the model's dtype and C order, a ``np.memmap`` included,
trains on it in place: no copy of X is made (NumPy reports its allocations to
tracemalloc, so a copy would show up in the traced peak), and the finiteness check
reads the input without an input-sized mask."""
import tracemalloc

import numpy as np
import threadpoolctl
import pytest

import fastann as fa
from fastann import _checks


def model(dtype):
    network = fa.Model([fa.Dense(16, activation="relu"), fa.Dense(10, activation="softmax")],
                       input_dim=256, dtype=dtype, seed=0)
    network.compile(loss="sparse_categorical_crossentropy", optimizer=fa.SGD(lr=0.01))
    return network


@pytest.fixture
def data(tmp_path):
    generator = np.random.default_rng(0)
    X = generator.standard_normal((20000, 256)).astype(np.float32)  # 20 MB
    y = generator.integers(0, 10, 20000)
    mapped = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return X, y, np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=X.shape)


def test_features_in_the_models_dtype_are_not_copied(data):
    X, _, mapped = data
    for given in (X, mapped):
        checked = _checks.features("X", given, np.float32, 256)
        assert np.shares_memory(checked, given)
    assert not np.shares_memory(_checks.features("X", X, np.float64, 256), X)


@pytest.mark.parametrize("validation", [None, "split", "data"])
@pytest.mark.parametrize("source", ["array", "memmap"])
def test_fit_allocates_far_less_than_a_copy_of_X(data, source, validation):
    """With validation too: validation_split's rows are views of X's last rows, and
    validation_data is checked in place like X."""
    X, y, mapped = data
    given = X if source == "array" else mapped
    options = {None: {}, "split": {"validation_split": 0.25},
               "data": {"validation_data": (given[15000:], y[15000:])}}[validation]
    network = model("float32")
    network.fit(given[:256], y[:256], epochs=1, batch_size=128, verbose=0,
                **({"validation_data": (given[:64], y[:64])} if validation else {}))
    tracemalloc.start()  # after a first fit, which compiled and made the buffers
    try:
        network.fit(given, y, epochs=1, batch_size=128, verbose=0, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # What fit must make for y: the one-hot targets (n, 10) and the sample weights in
    # float32, and the int64 batch order (validation_data's rows add to the training
    # rows here). A copy of X would add X.nbytes, a whole-input boolean mask X.nbytes / 4.
    n = X.shape[0] + (5000 if validation == "data" else 0)
    for_targets = n * (10 + 1) * 4 + n * 8
    assert peak < for_targets + 0.05 * X.nbytes, (peak, for_targets, X.nbytes)


def test_fit_on_a_memmap_trains_as_on_the_array(data):
    X, y, mapped = data
    on_array, on_memmap = model("float32"), model("float32")
    # one BLAS thread for both (the thread policy never raises a caller's limit): float32
    # products may round differently on another thread count, which the load can change
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        on_array.fit(X, y, epochs=1, batch_size=128, verbose=0, shuffle=True)
        on_memmap.fit(mapped, y, epochs=1, batch_size=128, verbose=0, shuffle=True)
    for a, b in zip(on_array.get_weights(), on_memmap.get_weights()):
        np.testing.assert_array_equal(a, b)


def traced_peak(function, *arguments):
    """(result, peak bytes NumPy allocated) of ``function(*arguments)``."""
    tracemalloc.start()
    try:
        result = function(*arguments)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_the_finiteness_check_makes_no_input_sized_mask(dtype, layout, bad):
    """Finite, overflowing-sum and non-finite inputs in every layout are counted
    exactly while the check's allocations stay far under the input's size."""
    generator = np.random.default_rng(1)
    base = generator.standard_normal((4000, 600)).astype(dtype)  # 9.6 or 19.2 MB
    base[:, 5] = np.finfo(dtype).max / 2  # the sum overflows: the blockwise count runs
    expected = 0
    if bad is not None:
        rows = [0, 1999, 3999]
        base[rows, [3, 7, 599]] = bad
        expected = len(rows)
    array = {"C": base, "F": np.asfortranarray(base), "strided": base[::2, ::2]}[layout]
    if layout == "strided":
        expected = int(np.count_nonzero(~np.isfinite(array)))
    count, peak = traced_peak(_checks.count_nonfinite, array)
    assert count == expected
    assert peak < 0.02 * array.nbytes, (peak, array.nbytes)


def test_non_finite_features_are_refused_with_their_count_without_a_mask():
    X = np.random.default_rng(2).standard_normal((20000, 256)).astype(np.float32)
    X[123, 45] = np.nan
    X[19999, 0] = np.inf
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"x contains NaN or infinite values "
                                             r"\(2 of 5120000\)"):
            _checks.features("x", X, np.float32, 256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * X.nbytes, (peak, X.nbytes)


@pytest.mark.parametrize("values", [np.array(3.0), np.array([1, 2], np.int64),
                                    np.array([True]), np.zeros((0, 4)),
                                    np.array(np.nan), np.array([1 + 1j, np.inf])])
def test_count_nonfinite_small_cases(values):
    assert _checks.count_nonfinite(values) == int(np.count_nonzero(~np.isfinite(values)))
