"""More of what careless callers and attackers hand in: pandas frames of mixed and
nullable dtypes, dates, training states no training reaches, layers with multi-dimensional
input shapes in files, a .keras archive whose weights member inflates far beyond what
its config needs, options the model's dtype cannot hold, sizes beyond memory, read-only
files, and the package's standing on Numba's public API."""
import json
import os
import pathlib
import re
import stat
import tempfile
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import fastann as fa
from fastann import _checks
from fastann.kernels import train as train_kernels

pd = pytest.importorskip("pandas")


def binary_data(n=16, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    y[:2] = [0, 1]
    return X, y


def trained(X, y, dtype="float64", optimizer="adam"):
    """A model after two unshuffled epochs on (X, y), from a fixed seed."""
    model = fa.Model([fa.Dense(3, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=np.shape(X)[1], dtype=dtype, seed=0)
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    model.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    return model


def assert_trains_like(given, as_floats, y):
    for ours, theirs in zip(trained(given, y).get_weights(),
                            trained(as_floats, y).get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def bn_model(dtype="float64", compile=True):
    model = fa.Model([fa.Dense(3), fa.BatchNormalization(),
                      fa.Dense(1, activation="sigmoid")], input_dim=3, dtype=dtype, seed=0)
    if compile:
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(*binary_data(), epochs=2, batch_size=4, verbose=0)
    return model


# ------------------------------------------------------------ pandas and dates
def test_a_get_dummies_frame_of_floats_and_bools_trains_as_its_float_copy():
    frame = pd.get_dummies(pd.DataFrame({"a": np.linspace(-1, 1, 16),
                                         "c": list("xyzx") * 4}))
    assert {str(dtype) for dtype in frame.dtypes} == {"float64", "bool"}
    y = np.arange(16) % 2
    assert_trains_like(frame, frame.to_numpy(dtype=np.float64), y)
    assert_trains_like(frame.values, frame.to_numpy(dtype=np.float64), y)  # object array


def test_nullable_and_mixed_integer_columns_train_as_their_float_copy():
    X, y = binary_data()
    frame = pd.DataFrame({"a": pd.array(X[:, 0], dtype="Float64"),
                          "b": pd.array(np.arange(16), dtype="Int64"),
                          "c": pd.array(X[:, 2] > 0, dtype="boolean")})
    floats = np.column_stack([X[:, 0], np.arange(16), X[:, 2] > 0]).astype(np.float64)
    assert_trains_like(frame, floats, y)
    ints_and_bools = pd.DataFrame({"a": np.arange(16), "b": X[:, 1] > 0, "c": X[:, 2] > 0})
    assert_trains_like(ints_and_bools, ints_and_bools.to_numpy(dtype=np.float64), y)
    for ours, theirs in zip(trained(X, pd.Series(pd.array(y, dtype="Int64"))).get_weights(),
                            trained(X, y).get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_missing_values_in_nullable_columns_are_refused_as_nan():
    X, y = binary_data()
    frame = pd.DataFrame({"a": pd.array([None] + list(X[1:, 0]), dtype="Float64"),
                          "b": pd.array([1, None] + [2] * 14, dtype="Int64"),
                          "c": X[:, 2]})
    model = bn_model(compile=False)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values \(2 of 48\)"):
        model.fit(frame, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"y contains NaN"):
        model.fit(X, pd.Series(pd.array([None] + [1] * 15, dtype="Int64")), verbose=0)
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("values", [
    np.arange(48).reshape(16, 3).astype("m8[s]"),
    np.arange(48).reshape(16, 3).astype("M8[D]"),
    np.array([[1.0, "2", 3.0]] * 16, dtype=object),
    np.array([[1.0, None, 3.0]] * 16, dtype=object),
], ids=["timedelta64", "datetime64", "object-with-a-string", "object-with-None"])
def test_dates_durations_and_objects_that_are_not_numbers_are_refused(values):
    model = bn_model(compile=False)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(TypeError, match="x must be numeric"):
        model.fit(values, binary_data()[1], verbose=0)


def test_a_frame_column_that_is_not_numeric_is_named():
    X, y = binary_data()
    frame = pd.DataFrame({"a": X[:, 0], "when": pd.date_range("2020", periods=16),
                          "c": X[:, 2]})
    with pytest.raises(TypeError, match=r"column 'when' dtype is datetime64"):
        trained(frame, y)
    frame = pd.DataFrame({"a": X[:, 0], "kind": pd.Categorical(list("ab") * 8),
                          "c": X[:, 2]})
    with pytest.raises(TypeError, match=r"column 'kind' dtype is category"):
        trained(frame, y)


def test_a_frame_already_in_the_models_dtype_is_read_without_a_second_copy():
    frame = pd.DataFrame(np.ones((8, 3), np.float32))
    array = _checks._numeric("x", frame)
    assert np.shares_memory(array, frame.values)  # pandas' own block, not a copy of it


# ------------------------------------------------------------ training state
def test_set_training_state_refuses_what_load_model_would_refuse(tmp_path):
    model = bn_model()
    before = model.get_training_state()
    for field, index, value, match in [
            ("params", 0, np.inf, r"'params' holds NaN or infinite values \(1 of"),
            ("opt_state", 3, np.nan, r"'opt_state' holds NaN"),
            ("moving", 0, np.inf, r"'moving' holds NaN"),
            ("counters", slice(None), -7, "impossible values"),
            ("counters", train_kernels.STATUS, train_kernels.NON_FINITE, "impossible")]:
        state = model.get_training_state()
        getattr(state, field)[index] = value
        with pytest.raises(ValueError, match=match):
            model.set_training_state(state)
        for name, array in model.get_training_state().arrays().items():
            np.testing.assert_array_equal(array, getattr(before, name), err_msg=name)
    assert fa.load_model(model.save(tmp_path / "m.npz")).epochs_trained == 2


def test_the_state_rules_that_need_the_model_are_checked_with_its_layout_and_optimizer():
    model = bn_model()
    n = model.layout.n_params
    state = model.get_training_state()
    state.opt_state[n + 1] = -1.0  # Adam's second moment
    with pytest.raises(ValueError, match="negative mean squared gradients"):
        state.check_values(model.layout, model.optimizer)
    state = model.get_training_state()
    variance = [w for w in model.layout.weights if w.name == "moving_variance"][0]
    state.moving[variance.offset] = -0.5
    with pytest.raises(ValueError, match=r"moving_variance must be >= 0"):
        state.check_values(model.layout, model.optimizer)
    model.get_training_state().check_values(model.layout, model.optimizer)  # valid


def test_set_training_state_refuses_negative_second_moments_and_variances():
    model = bn_model()
    state = model.get_training_state()
    state.opt_state[model.layout.n_params] = -1.0
    with pytest.raises(ValueError, match="negative mean squared gradients"):
        model.set_training_state(state)
    state = model.get_training_state()
    state.moving[[w for w in model.layout.weights if w.name == "moving_variance"][0].offset] = -1
    with pytest.raises(ValueError, match="moving_variance must be >= 0"):
        model.set_training_state(state)


def test_save_refuses_a_state_load_model_would_refuse_before_writing(tmp_path):
    model = bn_model()
    path = pathlib.Path(model.save(tmp_path / "m.npz"))
    saved = path.read_bytes()
    model._params[0] = np.inf  # as no public method can make it
    with pytest.raises(ValueError, match=r"cannot save to .*'params' holds NaN or infinite"):
        model.save(path)
    with pytest.raises(ValueError, match=r"'params' holds NaN"):
        model.save(tmp_path / "new.npz")
    assert path.read_bytes() == saved and not (tmp_path / "new.npz").exists()
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temporary left


def test_a_file_with_a_negative_moving_variance_is_refused(tmp_path):
    model = bn_model()
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    variance = [w for w in model.layout.weights if w.name == "moving_variance"][0]
    arrays["moving"][variance.offset] = -1.0
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz.*moving_variance must be >= 0"):
        fa.load_model(tmp_path / "bad.npz")


def test_set_weights_refuses_a_negative_moving_variance():
    model = bn_model()
    weights = model.get_weights()
    slot = [i for i, w in enumerate(model.layout.weights) if w.name == "moving_variance"][0]
    weights[slot] = -np.ones_like(weights[slot])
    with pytest.raises(ValueError, match="moving_variance must be >= 0"):
        model.set_weights(weights)


# ------------------------------------------------ multi-dimensional input_shape
def test_a_layer_with_a_multi_dimensional_input_shape_survives_save_and_load(tmp_path):
    model = fa.Model([fa.Dense(2), fa.BatchNormalization(input_shape=(1, 2)), fa.Dense(1)],
                     input_dim=4, dtype="float64", seed=0)
    loaded = fa.load_model(model.save(tmp_path / "m.npz"))
    assert loaded.layers[1].input_shape == (1, 2)
    for ours, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_file_whose_input_shape_and_input_dim_disagree_is_refused(tmp_path):
    model = fa.Model([fa.Dense(2), fa.BatchNormalization(input_shape=(1, 2)), fa.Dense(1)],
                     input_dim=4, dtype="float64", seed=0)
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    config = json.loads(arrays["config"][()])
    config["layers"][1]["input_dim"] = 3
    arrays["config"] = np.array(json.dumps(config))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"input_shape \[1, 2\] does not hold input_dim=3"):
        fa.load_model(tmp_path / "bad.npz")


def test_get_config_of_a_layer_with_a_multi_dimensional_input_shape_rebuilds_it():
    layer = fa.Dense(4, input_shape=(2, 3))
    again = fa.Dense.from_config(layer.get_config())
    assert again.input_shape == (2, 3) and again.input_dim == 6


# ---------------------------------------------------------- .keras weight bombs
def test_a_keras_weights_member_beyond_what_the_config_needs_is_refused_unread(tmp_path):
    pytest.importorskip("h5py")
    model = fa.Model([fa.Dense(2, activation="sigmoid")], input_dim=3, dtype="float32")
    good = model.save(tmp_path / "good.keras")
    bomb = tmp_path / "bomb.keras"
    inflated = 64 * 2**20
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(
            bomb, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in ("metadata.json", "config.json"):
            target.writestr(name, source.read(name))
        with target.open("model.weights.h5", "w", force_zip64=True) as member:
            zeros = bytes(2**20)
            for _ in range(inflated // len(zeros)):
                member.write(zeros)
    assert os.path.getsize(bomb) < inflated / 500
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"model.weights.h5 holds 67,108,864 bytes; "
                           r"the layers config.json describes need at most"):
            fa.load_model(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_a_real_keras_file_of_many_small_layers_is_within_the_weights_bound(tmp_path):
    keras = pytest.importorskip("keras")
    layers = [keras.Input((2,))]
    for _ in range(30):
        layers += [keras.layers.Dense(2), keras.layers.BatchNormalization(),
                   keras.layers.Dropout(0.1)]
    model = keras.Sequential(layers + [keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    model.optimizer.build(model.trainable_variables)  # its slots saved, as after a fit
    path = tmp_path / "many.keras"
    model.save(path)
    loaded = fa.load_model(path)
    assert loaded.count_params() == model.count_params()


# ------------------------------------------------------ options and sizes
@pytest.mark.parametrize("epsilon, becomes", [(1e308, "inf"), (1e-50, "0.0")])
def test_batchnorm_numbers_float32_cannot_hold_are_refused_at_build(epsilon, becomes):
    layers = [fa.Dense(2), fa.BatchNormalization(epsilon=epsilon), fa.Dense(1)]
    with pytest.raises(ValueError, match=rf"layer 1 \(BatchNormalization\) epsilon = "
                       rf"{re.escape(repr(epsilon))} is beyond the range of float32"
                       rf".*3.4028234663852886e\+38.*it would become {becomes}"):
        fa.Model(layers, input_dim=2, dtype="float32")
    fa.Model([fa.Dense(2), fa.BatchNormalization(epsilon=1e-50), fa.Dense(1)], input_dim=2,
             dtype="float64")  # float64 holds it


def test_a_leaky_slope_that_underflows_float32_is_refused():
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) negative_slope = 1e-50"):
        fa.Model([fa.Dense(2, activation="leaky_relu", negative_slope=1e-50)], input_dim=2,
                 dtype="float32")


def test_hyper_in_dtype_casts_or_names_what_the_cast_would_change():
    assert _checks.hyper_in_dtype("eps", 1e-7, np.float32) == np.float32(1e-7)
    assert _checks.hyper_in_dtype("eps", 0.0, np.float32) == 0  # zero stays zero
    assert _checks.hyper_in_dtype("eps", 1e-40, np.float32) > 0  # subnormal, not zero
    assert isinstance(_checks.hyper_in_dtype("eps", 1, np.float32), np.float32)
    for value, match in [(np.nan, "must be a finite number; got nan"),
                         (np.inf, "must be a finite number; got inf"),
                         (-1e39, "= -1e\\+39 is beyond the range of float32"),
                         (1e-46, "= 1e-46 is beyond .*it would become 0.0")]:
        with pytest.raises(ValueError, match="eps " + match):
            _checks.hyper_in_dtype("eps", value, np.float32)
    with pytest.raises(ValueError, match=r"option \(1,\) = 1e\+39"):
        _checks.hyper_in_dtype(lambda index: f"option {index}", [1.0, 1e39], np.float32)


@pytest.mark.parametrize("optimizer", [lambda: fa.Adam(epsilon=1e39),
                                       lambda: fa.SGD(clipvalue=1e39)],
                         ids=["Adam-epsilon", "SGD-clipvalue"])
def test_optimizer_options_float32_cannot_hold_are_refused(optimizer):
    model = fa.Model([fa.Dense(1)], input_dim=2, dtype="float32")
    model.compile(loss="mse", optimizer=optimizer())
    with pytest.raises(ValueError, match="beyond the range of float32"):
        model.fit(np.ones((4, 2)), np.ones(4), epochs=1, verbose=0)


def test_a_penalty_float32_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="beyond the range of float32"):
        fa.Model([fa.Dense(2, kernel_regularizer=fa.regularizers.L2(1e39))], input_dim=2,
                 dtype="float32")


@pytest.mark.parametrize("units, match", [
    (10**20, "more weights or units than fastann can count"),
    (2**40, "GiB, more than this machine's .* GiB of memory"),
])
def test_layers_too_large_to_count_or_hold_are_a_value_error(units, match):
    with pytest.raises(ValueError, match=match):
        fa.Model([fa.Dense(units)], input_dim=4, dtype="float32")


# ------------------------------------------------------------ minor
def test_a_float32_class_weight_in_a_float64_model_gives_no_cast_warning():
    X, y = binary_data()
    model = bn_model(compile=False)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, class_weight={0: np.float32(2.0), 1: np.float32(0.5)}, epochs=1,
                  verbose=0)


def test_the_beyond_range_message_gives_every_digit():
    model = bn_model("float32", compile=False)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    X = np.full((4, 3), 3.4028236e38)
    with pytest.raises(ValueError, match=r"up to 3.4028236e\+38 in magnitude; float32 holds "
                       r"up to 3.4028234663852886e\+38"):
        model.fit(X, [0, 1, 0, 1], verbose=0)


@pytest.mark.parametrize("name", ["loop.npz", "loop.keras"])
def test_a_symbolic_link_loop_is_the_os_error_open_gives_naming_the_file(tmp_path, name):
    loop = tmp_path / name
    os.symlink(loop, loop)
    with pytest.raises(OSError, match=re.escape(str(loop))):
        fa.load_model(loop)


NOBODY = 65534  # the unprivileged user's id on Linux


@pytest.fixture
def shared_directory():
    """A directory in the system's temporary directory that any user may write."""
    directory = tempfile.mkdtemp(prefix="fastann-read-only-")
    os.chmod(directory, 0o777)
    yield directory
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    os.rmdir(directory)


def test_saving_over_a_file_this_user_may_not_write_is_refused(shared_directory):
    """As ``open(path, "w")`` would refuse it; root may write anything, so under root
    the save runs with the unprivileged user's ids (Linux' setresuid)."""
    if os.geteuid() == 0 and not hasattr(os, "setresuid"):
        pytest.skip("running as root where the user ids cannot be lent and taken back")
    model = bn_model(compile=False)
    directory = shared_directory
    path = os.path.join(directory, "read-only.npz")
    model.save(path)
    os.chmod(path, 0o444)
    saved = open(path, "rb").read()
    if os.geteuid() != 0:
        with pytest.raises(PermissionError, match="read-only for this user"):
            model.save(path)
    else:  # the real and effective ids the unprivileged user's, root's kept to return to
        os.setresgid(NOBODY, NOBODY, 0)
        os.setresuid(NOBODY, NOBODY, 0)
        try:
            with pytest.raises(PermissionError, match="read-only for this user"):
                model.save(path)
        finally:
            os.setresuid(0, 0, 0)
            os.setresgid(0, 0, 0)
    assert open(path, "rb").read() == saved and os.listdir(directory) == ["read-only.npz"]
    os.chmod(path, 0o644)
    model.save(path)  # writable again: saved, keeping the mode
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


# ------------------------------------------------------------ Numba's public ground
PACKAGE = pathlib.Path(fa.__file__).parent
# what the README's "Numba APIs used" lists -> the only lines that may hold it
INTERNAL = {"numba.core": r"from numba\.core import event",  # the documented event API
            "_cache": r".*functools\.lru_cache\(.*",  # Python's, not Numba's
            "numba.np.": None, "cgutils": None, "forceinline": None, "CPUDispatcher": None,
            "._getvalue": r"return view\._getvalue\(\)"}  # the documented example's


@pytest.mark.parametrize("symbol", sorted(INTERNAL))
def test_no_numba_internal_symbol_remains_in_the_package(symbol):
    allowed = INTERNAL[symbol]
    found = sorted((str(path.relative_to(PACKAGE)), line.strip())
                   for path in PACKAGE.rglob("*.py")
                   for line in path.read_text().splitlines() if symbol in line)
    assert [(where, line) for where, line in found
            if allowed is None or not re.fullmatch(allowed, line)] == []
