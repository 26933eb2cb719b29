"""A careless caller: values the model's dtype cannot hold, degenerate shapes, options in
Keras' forms, numpy scalars, masked arrays, odd memory layouts and pandas objects, and
schedules that run into the bounds of what an optimizer accepts. Each gives a clear
ValueError/TypeError that leaves the model exactly as it was, or the correct result."""
import numpy as np
import pytest

import fastann as fa
from fastann import optimizers

F32_MAX = float(np.finfo(np.float32).max)


def data(n=24, n_features=3, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, n_features))
    y = (X[:, 0] > 0).astype(np.int64)
    y[:2] = [0, 1]
    return X, y


def binary_model(dtype="float32", seed=0, output="sigmoid", loss="binary_crossentropy"):
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(1, activation=output)],
                     input_dim=3, dtype=dtype, seed=seed)
    model.compile(loss=loss, optimizer=fa.SGD(lr=0.1, momentum=0.9))
    X, y = data()
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    return model


def state(model):
    """Everything a call could change."""
    return {"params": model._params.copy(), "opt": model._opt_state.copy(),
            "rng": model._rng_state.copy(), "counters": model._counters.copy(),
            "metrics": list(model.metrics_names), "loss": model.loss,
            "optimizer": model.optimizer, "lr": model.optimizer.lr}


def assert_same_state(model, before):
    now = state(model)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(now[key], value, err_msg=key)
        else:
            assert now[key] == value, key


def metrics_dict(model, X, y):
    """evaluate's dict, whether it returns one or needs return_dict=True."""
    try:
        return model.evaluate(X, y, return_dict=True)
    except TypeError:
        return model.evaluate(X, y)


# ------------------------------------------------- values the dtype cannot hold
def test_set_weights_beyond_float32_is_refused():
    model = binary_model("float32")
    before = state(model)
    weights = model.get_weights()
    weights[0] = weights[0].astype(np.float64)
    weights[0][0, 0] = 1e39
    with pytest.raises(ValueError, match=r"weights\[0\] \(W1\) holds values beyond the range "
                                         r"of float32 \(up to 1e\+39"):
        model.set_weights(weights)
    assert_same_state(model, before)
    model64 = binary_model("float64")
    weights = model64.get_weights()
    weights[0][0, 0] = 1e39  # a float64 model holds it
    model64.set_weights(weights)
    assert model64.get_weights()[0][0, 0] == 1e39


BIG = np.full((24, 3), 1e39)


@pytest.mark.parametrize("call, pattern", [
    (lambda m, X, y: m.predict_proba(BIG), r"^x holds values beyond the range of float32"),
    (lambda m, X, y: m.evaluate(BIG, y), r"^x holds values beyond"),
    (lambda m, X, y: m.fit(BIG, y, epochs=1, verbose=0), r"^x holds values beyond"),
    (lambda m, X, y: m.fit(X, y, epochs=1, verbose=0, validation_data=(BIG, y)),
     r"^validation_data X holds values beyond"),
    (lambda m, X, y: m.fit(X, y, epochs=1, verbose=0, sample_weight=np.full(24, 1e39)),
     r"^sample_weight holds values beyond"),
    (lambda m, X, y: m.evaluate(X, y, sample_weight=np.full(24, 1e39)),
     r"^sample_weight holds values beyond"),
    (lambda m, X, y: m.fit(X, y, epochs=1, verbose=0, validation_data=(
        X, y, np.full(24, 1e39))), r"^validation_data sample_weight holds values beyond"),
    (lambda m, X, y: m.fit(X, y, epochs=1, verbose=0, sample_weight=np.full(24, F32_MAX / 4)),
     r"^sample_weight sums to more than float32 holds"),
    (lambda m, X, y: m.fit(X, y, epochs=1, verbose=0, class_weight={0: 1e39}),
     r"class_weight\[0\] = 1e\+39 is beyond the range of float32"),
])
def test_inputs_overflowing_the_dtype_are_refused_before_anything_changes(call, pattern):
    model = binary_model("float32")
    X, y = data()
    before = state(model)
    with pytest.raises(ValueError, match=pattern):
        call(model, X, y)
    assert_same_state(model, before)


def test_regression_targets_beyond_float32_are_refused():
    model = binary_model("float32", output=None, loss="mse")
    X, _ = data()
    before = state(model)
    with pytest.raises(ValueError, match=r"^y holds values beyond the range of float32"):
        model.fit(X, np.full(24, -1e39), epochs=1, verbose=0)
    assert_same_state(model, before)


def linear_model():
    model = fa.Model([fa.Dense(4), fa.Dense(1)], input_dim=3, dtype="float32", seed=0)
    model.compile(loss="mse", optimizer=fa.SGD(lr=0.01))
    return model


def test_outputs_overflowing_inside_the_kernels_are_an_error_not_inf():
    """Finite inputs whose products overflow: a linear output becomes inf in float32."""
    model = linear_model()
    model.set_weights([np.full((3, 4), 1e20), np.zeros(4), np.ones((4, 1)), np.zeros(1)])
    X = np.full((5, 3), 1e20, np.float32)
    before = state(model)
    with pytest.raises(ValueError, match=r"^predict: .* computed from X overflowed float32"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match=r"^evaluate: .* overflowed float32"):
        model.evaluate(X, np.zeros(5))
    assert_same_state(model, before)
    assert np.isfinite(model.predict_proba(X / 1e20)).all()  # the model still works


def test_validation_overflow_stops_fit_with_history_consistent():
    model = linear_model()
    X, _ = data()
    y = X[:, 0]
    with pytest.raises(ValueError, match=r"^fit, epoch \d+: .*validation_data overflowed"):
        model.fit(X, y, epochs=3, verbose=0, validation_data=(np.full((4, 3), 3e38), y[:4]))
    assert len(model.history.history["loss"]) == model.epochs_trained == 1


@pytest.mark.parametrize("scale", [np.inf, -np.inf, np.nan, "0.1", None, 10**400])
def test_initialiser_scales_that_are_not_finite_numbers_are_refused(scale):
    with pytest.raises(ValueError, match="Dense init_scale must be a finite number"):
        fa.Dense(3, kernel_initializer="scaled_normal", init_scale=scale)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_initial_weights_beyond_float32_are_refused():
    layers = [fa.Dense(3, kernel_initializer="scaled_normal", init_scale=1e300)]
    with pytest.raises(ValueError, match="building the model.*init_scale.*overflowed float32"):
        fa.Model(layers, input_dim=2, dtype="float32")
    model = fa.Model(layers, dtype="float32")
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="lower init_scale"):
        model.fit(np.ones((4, 2)), np.ones((4, 3)), epochs=1, verbose=0)
    assert not model.built
    assert fa.Model(layers, input_dim=2, dtype="float64").built  # float64 holds 1e300


# --------------------------------------------------------- degenerate shapes
def test_zero_features_on_an_unbuilt_model_is_refused():
    model = fa.Model([fa.Dense(1, activation="sigmoid")], dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"^x has no features \(shape \(5, 0\)\)"):
        model.fit(np.zeros((5, 0)), np.zeros(5), epochs=1, verbose=0)
    assert not model.built and model.input_dim is None


def test_zero_row_validation_data_is_refused():
    model = binary_model("float64")
    X, y = data()
    before = state(model)
    with pytest.raises(ValueError, match=r"^validation_data X is empty"):
        model.fit(X, y, epochs=1, verbose=0, validation_data=(X[:0], y[:0]))
    assert_same_state(model, before)


# ------------------------------------------------- long runs and their bounds
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduce_lr_on_plateau_with_min_lr_zero_never_crashes_the_run(dtype):
    """Every epoch is a plateau (min_delta huge): the rate is cut 400 times by 100,
    far below any float; it stops at optimizers.MIN_LR and fit completes."""
    model = binary_model(dtype)
    X, y = data()
    reduce = fa.ReduceLROnPlateau(monitor="loss", factor=0.01, patience=0, min_delta=1e9,
                                  min_lr=0)
    history = model.fit(X, y, epochs=400, batch_size=None, verbose=0, callbacks=[reduce])
    assert len(history.history["loss"]) == 400
    assert model.optimizer.lr == optimizers.MIN_LR > 0
    assert np.isfinite(model.get_weights()[0]).all()


def test_schedules_reaching_the_bounds_are_clamped():
    growing = fa.SGD(lr=fa.schedules.ExponentialDecay(0.01, decay_rate=10.0, decay_epochs=1))
    rates = growing.learning_rates(10**6, 3, np.float32)
    assert rates.dtype == np.float32 and (rates == np.finfo(np.float32).max).all()
    assert (growing.learning_rates(10**6, 2, np.float64) == np.finfo(np.float64).max).all()
    assert (fa.SGD(lr=1e300).learning_rates(0, 2, np.float32) == F32_MAX).all()
    vanishing = fa.SGD(lr=fa.schedules.ExponentialDecay(0.1, decay_rate=1e-30, decay_epochs=1))
    model = binary_model("float32")
    model.compile(loss="binary_crossentropy", optimizer=vanishing)
    X, y = data()
    history = model.fit(X, y, epochs=30, batch_size=8, verbose=0)  # rates reach 0.0
    assert len(history.history["loss"]) == 30


# ----------------------------------------------------- options in Keras' forms
@pytest.mark.parametrize("metrics, names", [("accuracy", ["accuracy"]), ("mae", ["mae"]),
                                            (("accuracy", "mse"), ["accuracy", "mse"])])
def test_metrics_as_a_single_name_or_a_tuple(metrics, names):
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=3, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=metrics)
    assert model.metrics_names == ["loss", *names]
    X, y = data()
    assert set(names) <= set(metrics_dict(model, X, y))


def test_metrics_of_another_type_are_refused():
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=3, dtype="float64")
    with pytest.raises(TypeError, match="metrics must be a metric name or object or a list"):
        model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=5)


def test_numpy_scalars_are_accepted_everywhere_ints_and_floats_are():
    layer = fa.Dense(np.int64(4), activation="tanh", init_scale=np.float32(0.5))
    assert type(layer.units) is int and layer.units == 4
    assert type(layer.init_scale) is float
    model = fa.Model([layer, fa.Dense(np.int32(1), activation="sigmoid")],
                     input_dim=np.int64(3), dtype=np.float64, seed=np.uint32(5))
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=np.float32(0.1)))
    X, y = data()
    history = model.fit(X, y, epochs=np.int64(2), batch_size=np.int32(8),
                        verbose=np.int64(0), validation_split=np.float64(0.25),
                        shuffle=np.bool_(True))
    assert len(history.history["val_loss"]) == 2
    twin = fa.Model([fa.Dense(4, activation="tanh", init_scale=0.5),
                     fa.Dense(1, activation="sigmoid")], input_dim=3, dtype="float64", seed=5)
    twin.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=float(np.float32(0.1))))
    twin.fit(X, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------- whatever the caller has
def test_masked_arrays_with_masked_entries_are_refused():
    model = binary_model("float64")
    X, y = data()
    before = state(model)
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, bool))
    masked.mask[3, 1] = True
    with pytest.raises(ValueError, match="x is a masked array with 1 masked entries"):
        model.predict_proba(masked)
    with pytest.raises(ValueError, match="y is a masked array"):
        model.fit(X, np.ma.masked_equal(y, 1), epochs=1, verbose=0)
    assert_same_state(model, before)
    unmasked = np.ma.masked_array(X, mask=False)  # no masked entries: the values
    np.testing.assert_array_equal(model.predict_proba(unmasked), model.predict_proba(X))


def test_sparse_and_ragged_inputs_are_refused_with_a_hint():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    model = binary_model("float64")
    X, _ = data()
    with pytest.raises(TypeError, match=r"x must be a dense array; got a sparse .*toarray"):
        model.predict_proba(scipy_sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="x cannot be read as a numeric array"):
        model.predict_proba([[1.0, 2.0, 3.0], [1.0]])


def layouts(X):
    """X as callers hand it in: every layout gives the same predictions."""
    import pandas as pd

    read_only = X.copy()
    read_only.setflags(write=False)
    strided = np.zeros((X.shape[0], 2 * X.shape[1]))
    strided[:, ::2] = X
    return {"fortran": np.asfortranarray(X), "strided": strided[:, ::2],
            "big_endian": X.astype(">f8"), "read_only": read_only,
            "float16": X.astype(np.float16).astype(np.float64), "list": X.tolist(),
            "dataframe": pd.DataFrame(X, columns=["a", "b", "c"]),
            "reversed": X[::-1].copy()[::-1]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_layout_predicts_like_a_contiguous_copy(dtype):
    model = binary_model(dtype)
    X, y = data()
    expected = model.predict_proba(np.ascontiguousarray(X, dtype))
    for name, given in layouts(X).items():
        if name == "float16":
            continue
        np.testing.assert_array_equal(model.predict_proba(given), expected, err_msg=name)
    booleans = X > 0
    np.testing.assert_array_equal(model.predict_proba(booleans),
                                  model.predict_proba(booleans.astype(dtype)))


def test_pandas_series_targets_and_weights_train_like_arrays():
    pd = pytest.importorskip("pandas")
    X, y = data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    models = [binary_model("float64"), binary_model("float64")]
    models[0].fit(frame, pd.Series(y), epochs=2, batch_size=8, verbose=0,
                  sample_weight=pd.Series(np.linspace(0.5, 1.5, 24)))
    models[1].fit(X, y, epochs=2, batch_size=8, verbose=0,
                  sample_weight=np.linspace(0.5, 1.5, 24))
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="must be numeric"):
        models[0].predict_proba(frame.assign(a=["x"] * 24))
