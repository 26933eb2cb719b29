"""``fit`` on data already in the model's dtype and C order, a ``np.memmap`` included,
trains on it in place: no copy of X is made (NumPy reports its allocations to
tracemalloc, so a copy would show up in the traced peak)."""
import tracemalloc

import numpy as np
import pytest

import fastann as fa
from fastann import _checks


def model(dtype):
    network = fa.Model([fa.Dense(16, activation="relu"), fa.Dense(10, activation="softmax")],
                       input_dim=64, dtype=dtype, seed=0)
    network.compile(loss="sparse_categorical_crossentropy", optimizer=fa.SGD(lr=0.01))
    return network


@pytest.fixture
def data(tmp_path):
    generator = np.random.default_rng(0)
    X = generator.standard_normal((20000, 64)).astype(np.float32)  # 5 MB
    y = generator.integers(0, 10, 20000)
    mapped = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return X, y, np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=X.shape)


def test_features_in_the_models_dtype_are_not_copied(data):
    X, _, mapped = data
    for given in (X, mapped):
        checked = _checks.features("X", given, np.float32, 64)
        assert np.shares_memory(checked, given)
    assert not np.shares_memory(_checks.features("X", X, np.float64, 64), X)


@pytest.mark.parametrize("source", ["array", "memmap"])
def test_fit_allocates_far_less_than_a_copy_of_X(data, source):
    X, y, mapped = data
    given = X if source == "array" else mapped
    network = model("float32")
    network.fit(given[:256], y[:256], epochs=1, batch_size=128, verbose=0)  # compile, buffers
    tracemalloc.start()
    try:
        network.fit(given, y, epochs=1, batch_size=128, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the finiteness check's boolean mask is X.nbytes / 4; a copy would be X.nbytes
    assert peak < 0.5 * X.nbytes, (peak, X.nbytes)


def test_fit_on_a_memmap_trains_as_on_the_array(data):
    X, y, mapped = data
    on_array, on_memmap = model("float32"), model("float32")
    on_array.fit(X, y, epochs=1, batch_size=128, verbose=0, shuffle=True)
    on_memmap.fit(mapped, y, epochs=1, batch_size=128, verbose=0, shuffle=True)
    for a, b in zip(on_array.get_weights(), on_memmap.get_weights()):
        np.testing.assert_array_equal(a, b)
