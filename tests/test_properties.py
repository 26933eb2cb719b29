"""Property test: over random architectures, dtypes and data layouts, fit and predict
never write into the caller's arrays, never leave a refused call's mark on the model,
and give exactly the results of the same calls on a contiguous copy in the model's
dtype."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastann as fa

HIDDEN = [None, "relu", "tanh", "sigmoid", "leaky_relu"]
LOSSES = ["mse", "binary_crossentropy", "sparse_categorical_crossentropy"]


def as_layout(array, layout):
    """``array`` as a caller might hold it."""
    if layout == "contiguous":
        return array.copy()
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "strided":
        wide = np.zeros((array.shape[0] * 2,) + array.shape[1:], array.dtype)
        wide[::2] = array
        return wide[::2]
    if layout == "big_endian":
        return array.astype(array.dtype.newbyteorder(">"))
    if layout == "read_only":
        frozen = array.copy()
        frozen.setflags(write=False)
        return frozen
    if layout == "list":
        return array.tolist()
    if layout == "pandas":
        return pd.DataFrame(array) if array.ndim == 2 else pd.Series(array)
    if layout == "float32":
        return array.astype(np.float32)
    raise AssertionError(layout)


LAYOUTS = ["contiguous", "fortran", "strided", "big_endian", "read_only", "list", "pandas",
           "float32"]


def snapshot(value):
    """A copy of a caller's object to compare with afterwards."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=True)
    if isinstance(value, list):
        return [list(row) if isinstance(row, list) else row for row in value]
    return np.array(value, copy=True)


def assert_untouched(value, before):
    if isinstance(value, (pd.DataFrame, pd.Series)):
        pd.testing.assert_frame_equal(pd.DataFrame(value), pd.DataFrame(before))
    elif isinstance(value, list):
        assert value == before
    else:
        np.testing.assert_array_equal(value, before)
        assert value.dtype == before.dtype


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    loss = draw(st.sampled_from(LOSSES))
    n_samples = draw(st.integers(2, 16))
    n_features = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.tuples(st.integers(1, 5), st.sampled_from(HIDDEN)),
                           max_size=2))
    if loss == "binary_crossentropy":
        output = (draw(st.integers(1, 2)), "sigmoid")
    elif loss == "sparse_categorical_crossentropy":
        output = (draw(st.integers(2, 3)), "softmax")
    else:
        output = (draw(st.integers(1, 2)), draw(st.sampled_from(HIDDEN)))
    seed = draw(st.integers(0, 2**32 - 1))
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n_samples, n_features))
    if draw(st.booleans()):
        X = np.round(X * 3)  # integral values: the int layouts hold them exactly
    n_out = output[0]
    if loss == "binary_crossentropy":
        y = generator.integers(0, 2, (n_samples, n_out)).astype(np.float64)
        if n_out == 1:
            y = y[:, 0]
    elif loss == "sparse_categorical_crossentropy":
        y = generator.integers(0, n_out, n_samples).astype(np.float64)
    else:
        y = generator.normal(size=(n_samples, n_out))
    weight = generator.uniform(0.1, 2.0, n_samples) if draw(st.booleans()) else None
    return dict(dtype=dtype, loss=loss, layers=hidden + [output], X=X, y=y, weight=weight,
                seed=seed % 1000, batch_size=draw(st.one_of(st.none(),
                                                            st.integers(1, n_samples))),
                layouts=[draw(st.sampled_from(LAYOUTS)) for _ in range(3)])


def make_model(problem):
    layers = [fa.Dense(units, activation=activation) for units, activation in
              problem["layers"]]
    model = fa.Model(layers, dtype=problem["dtype"], seed=problem["seed"])
    model.compile(loss=problem["loss"], optimizer=fa.Adam(lr=0.01))
    return model


def state(model):
    return [model._params.copy(), model._opt_state.copy(), model._rng_state.copy(),
            model._counters.copy()]


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_any_layout_trains_and_predicts_like_a_contiguous_copy(problem):
    dtype = np.dtype(problem["dtype"])
    x_layout, y_layout, w_layout = problem["layouts"]
    X_given = as_layout(problem["X"], x_layout)
    y_given = as_layout(problem["y"], y_layout)
    w_given = None if problem["weight"] is None else as_layout(problem["weight"], w_layout)
    originals = [(value, snapshot(value)) for value in (X_given, y_given, w_given)
                 if value is not None]

    # the same calls on contiguous copies in the model's dtype: the expected results
    X_copy = np.ascontiguousarray(np.asarray(X_given), dtype)
    y_copy = np.ascontiguousarray(np.asarray(y_given), dtype)
    w_copy = None if w_given is None else np.ascontiguousarray(np.asarray(w_given), dtype)
    expected_model = make_model(problem)
    expected_history = expected_model.fit(X_copy, y_copy, epochs=2,
                                          batch_size=problem["batch_size"], verbose=0,
                                          sample_weight=w_copy).history
    expected_outputs = expected_model.predict_proba(X_copy)

    model = make_model(problem)
    history = model.fit(X_given, y_given, epochs=2, batch_size=problem["batch_size"],
                        verbose=0, sample_weight=w_given).history
    assert history == expected_history
    for got, expected in zip(model.get_weights(), expected_model.get_weights()):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
    outputs = model.predict_proba(X_given)
    assert outputs.dtype == dtype
    np.testing.assert_array_equal(outputs, expected_outputs)

    # a refused call leaves no mark: wrong feature count, then wrong row count
    before = state(model)
    wrong = np.zeros((3, problem["X"].shape[1] + 1))
    with pytest.raises(ValueError):
        model.predict_proba(wrong)
    with pytest.raises(ValueError):
        model.fit(X_given, np.zeros(problem["X"].shape[0] + 1), epochs=1, verbose=0)
    for now, then in zip(state(model), before):
        np.testing.assert_array_equal(now, then)
    np.testing.assert_array_equal(model.predict_proba(X_given), expected_outputs)

    for value, copy in originals:  # the caller's objects were only read
        assert_untouched(value, copy)
