"""Saving and loading: exact round trips, exact resume of training, atomic writes, and a
clear ValueError for every kind of bad file."""
import json
import os
import zipfile

import numpy as np
import pytest

import fastann as fa
from fastann import saving

N_SAMPLES, N_FEATURES, N_CLASSES = 96, 5, 3

OPTIMIZERS = {
    "sgd": lambda: fa.SGD(lr=0.05),
    "sgd_nesterov": lambda: fa.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda: fa.Adam(lr=0.01, beta_1=0.8, epsilon=1e-6),
    "rmsprop": lambda: fa.RMSprop(lr=0.005, rho=0.8, weight_decay=1e-4),
    "nadam": lambda: fa.optimizers.Nadam(learning_rate=0.01),
    "adam_amsgrad": lambda: fa.Adam(lr=0.01, beta_2=0.9, amsgrad=True),
    "rmsprop_centered_momentum": lambda: fa.RMSprop(lr=0.002, momentum=0.5, centered=True),
}
DTYPES = ["float32", "float64"]


@pytest.fixture
def data():
    generator = np.random.default_rng(7)
    X = generator.normal(size=(N_SAMPLES, N_FEATURES))
    labels = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(np.int64) + (X[:, 2] > 0.5)
    return X, labels


def _model(optimizer="adam", dtype="float64", compile=True):
    """A model using every layer option, compiled with a named optimizer."""
    model = fa.Model([fa.Dense(8, activation="leaky_relu", kernel_initializer="he_normal",
                               negative_slope=0.1),
                      fa.Dense(6, activation="tanh", kernel_initializer="scaled_normal",
                               init_scale=0.3),
                      fa.Dense(N_CLASSES, activation="softmax")],
                     input_dim=N_FEATURES, dtype=dtype, seed=3)
    if compile:
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=OPTIMIZERS[optimizer](), metrics=["accuracy", "mae"])
    return model


def _arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _config(path):
    return json.loads(_arrays(path)["config"][()])


def _rewrite(source, target, config=None, /, **changes):
    """Copy the model file ``source`` to ``target`` with its config replaced by ``config``
    (a dict) and arrays replaced (or, when given None, removed) by ``changes``."""
    arrays = _arrays(source)
    if config is not None:
        arrays["config"] = np.array(json.dumps(config))
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    np.savez(target, **arrays)
    return target


def _assert_same_state(loaded, model):
    assert loaded.layers == tuple(
        fa.Dense(layer.units, layer.activation_spec.name,
                 kernel_initializer=layer.kernel_initializer, init_scale=layer.init_scale,
                 negative_slope=layer.negative_slope) for layer in model.layers)
    assert (loaded.dtype, loaded.seed, loaded.input_dim) == (
        model.dtype, model.seed, model.input_dim)
    for got, expected in zip(loaded.get_weights(), model.get_weights()):
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(loaded._rng_state, model._rng_state)
    assert loaded._rng_state.dtype == np.uint64
    assert np.array_equal(loaded._counters, model._counters)


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_round_trip_keeps_everything(tmp_path, data, optimizer, dtype):
    X, labels = data
    model = _model(optimizer, dtype)
    model.fit(X, labels, epochs=3, batch_size=16, verbose=0)
    if optimizer != "sgd":  # plain SGD keeps no state; the others' is worth checking
        assert np.abs(model._opt_state).max() > 0

    path = model.save(tmp_path / "model.npz")
    loaded = fa.load_model(path)

    _assert_same_state(loaded, model)
    assert loaded.epochs_trained == 3 and loaded._counters[1] == 3 * 6
    assert loaded.loss_spec is model.loss_spec and loaded.metrics_names == ["loss", "accuracy", "mae"]
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded._opt_state.dtype == model.dtype
    assert np.array_equal(loaded._opt_state, model._opt_state)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(loaded.predict_classes(X), model.predict_classes(X))
    assert loaded.evaluate(X, labels, verbose=0, return_dict=True) == model.evaluate(X, labels, verbose=0, return_dict=True)

    again = loaded.save(tmp_path / "again.npz")  # saving is a fixed point
    first, second = _arrays(path), _arrays(again)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].dtype == second[name].dtype
        assert np.array_equal(first[name], second[name])


def test_file_layout(tmp_path, data):
    X, labels = data
    model = _model("sgd_nesterov", "float32")
    model.fit(X, labels, epochs=2, batch_size=32, verbose=0)
    arrays = _arrays(model.save(tmp_path / "model"))
    n_params = model.count_params()
    assert sorted(arrays) == ["config", "counters", "opt_state", "params", "rng_state"]
    assert arrays["config"].shape == () and arrays["config"].dtype.kind == "U"
    assert arrays["params"].shape == (n_params,) and arrays["params"].dtype == np.float32
    assert arrays["opt_state"].shape == (3 * n_params + 1,)
    assert arrays["rng_state"].dtype == np.uint64 and arrays["counters"].dtype == np.int64
    config = json.loads(arrays["config"][()])
    assert config["format"] == "fastann.model" and config["format_version"] == 3
    assert config["dtype"] == "float32" and config["seed"] == 3
    assert config["input_dim"] == N_FEATURES
    layer = dict(config["layers"][0])
    assert layer.pop("name") == model.layers[0].name  # Keras' layer name is kept
    assert layer == {"units": 8, "activation": "leaky_relu",
                     "kernel_initializer": "he_normal", "init_scale": 0.01,
                     "negative_slope": 0.1}
    assert config["compile"]["loss"] == "sparse_categorical_crossentropy"
    assert config["compile"]["metrics"] == ["accuracy", "mae"]
    assert config["compile"]["optimizer"]["name"] == "sgd"
    assert config["compile"]["optimizer"]["momentum"] == 0.9


def test_built_but_not_compiled_model(tmp_path, data):
    X, labels = data
    model = _model("adam", "float32", compile=False)
    path = model.save(tmp_path / "model.npz")
    assert "opt_state" not in _arrays(path) and _config(path)["compile"] is None

    loaded = fa.load_model(path)
    _assert_same_state(loaded, model)
    assert loaded.loss is None and loaded.optimizer is None
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    loaded.fit(X, labels, epochs=1, verbose=0)


def test_unbuilt_model_cannot_be_saved(tmp_path):
    model = fa.Model([fa.Dense(1, activation="sigmoid")])
    with pytest.raises(RuntimeError, match="input size is not known"):
        model.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_suffix_is_appended_as_np_savez_does(tmp_path):
    model = _model()
    assert model.save(tmp_path / "model") == str(tmp_path / "model.npz")
    assert model.save(str(tmp_path / "other.npz")) == str(tmp_path / "other.npz")
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "other.npz"]
    # load_model finds "model.npz" from "model", as save wrote it
    _assert_same_state(fa.load_model(tmp_path / "model"), model)


def test_save_replaces_an_existing_file(tmp_path, data):
    X, labels = data
    model = _model()
    path = model.save(tmp_path / "model.npz")
    model.fit(X, labels, epochs=2, verbose=0)
    model.save(path)
    assert fa.load_model(path).epochs_trained == 2
    assert os.listdir(tmp_path) == ["model.npz"]


# --------------------------------------------------------------- exact resume
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["adam", "sgd_nesterov", "rmsprop"])
def test_resume_is_bit_identical(tmp_path, data, optimizer, dtype):
    """fit(10) == fit(4) + save + load + fit(6), with shuffled mini-batches."""
    X, labels = data
    options = dict(batch_size=10, shuffle=True, verbose=0)
    straight = _model(optimizer, dtype)
    straight.fit(X, labels, epochs=10, **options)

    first = _model(optimizer, dtype)
    first.fit(X, labels, epochs=4, **options)
    path = first.save(tmp_path / "checkpoint.npz")
    resumed = fa.load_model(path)
    history = resumed.fit(X, labels, epochs=6, **options)

    assert resumed.epochs_trained == 10 and history.epoch == list(range(6))  # Keras: per call
    assert np.array_equal(resumed._params, straight._params)
    assert np.array_equal(resumed._opt_state, straight._opt_state)
    assert np.array_equal(resumed._rng_state, straight._rng_state)
    assert np.array_equal(resumed._counters, straight._counters)
    assert history.history["loss"] == straight.history.history["loss"][4:]

    # The comparison is sharp: losing the optimizer state or the shuffling state changes
    # the weights.
    for broken in ("_opt_state", "_rng_state"):
        restarted = fa.load_model(path)
        getattr(restarted, broken)[:] = 0
        restarted.fit(X, labels, epochs=6, **options)
        assert not np.array_equal(restarted._params, straight._params), broken


# ------------------------------------------------------------------ atomicity
def _fail_in_savez(monkeypatch):
    def savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")
    monkeypatch.setattr(saving.np, "savez", savez)


def _fail_in_fsync(monkeypatch):
    def fsync(handle):
        raise OSError("I/O error")
    monkeypatch.setattr(saving.os, "fsync", fsync)


def _fail_in_replace(monkeypatch):
    def replace(source, target):
        raise KeyboardInterrupt
    monkeypatch.setattr(saving.os, "replace", replace)


@pytest.mark.parametrize("fail", [_fail_in_savez, _fail_in_fsync, _fail_in_replace])
def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, data, monkeypatch, fail):
    X, labels = data
    model = _model()
    path = model.save(tmp_path / "model.npz")
    before = open(path, "rb").read()
    model.fit(X, labels, epochs=1, verbose=0)

    fail(monkeypatch)
    with pytest.raises((OSError, KeyboardInterrupt)):
        model.save(path)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["model.npz"]
    assert open(path, "rb").read() == before
    assert fa.load_model(path).epochs_trained == 0


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    _fail_in_savez(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        _model().save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- bad files
@pytest.fixture
def saved(tmp_path, data):
    """A valid model file (Adam, float64, trained a little)."""
    X, labels = data
    model = _model("adam", "float64")
    model.fit(X, labels, epochs=2, batch_size=16, verbose=0)
    return model.save(tmp_path / "good.npz")


def _assert_rejected(path, match):
    """load_model raises a ValueError naming the file (and matching ``match``)."""
    with pytest.raises(ValueError, match=match) as error:
        fa.load_model(path)
    assert str(path) in str(error.value)
    assert "not a valid fastann model file" in str(error.value)


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -22, -1])
def test_truncated_file(tmp_path, saved, keep):
    content = open(saved, "rb").read()
    keep = int(len(content) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.npz"
    path.write_bytes(content[:keep])
    _assert_rejected(path, None)


def test_corrupted_bytes(tmp_path, saved):
    content = bytearray(open(saved, "rb").read())
    offset = content.find(b"params.npy") + 200  # inside the parameters' data
    content[offset] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(content))
    _assert_rejected(path, "CRC")


@pytest.mark.parametrize("content", [b"", os.urandom(4096), b"PK\x05\x06" + bytes(18)])
def test_random_bytes(tmp_path, content):
    path = tmp_path / "random.npz"
    path.write_bytes(content)
    _assert_rejected(path, None)


def test_plain_npy_file(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(10.0))
    _assert_rejected(path, "not a zip archive")


def test_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3), bias=np.zeros(1))
    _assert_rejected(path, "no 'config' array")


def test_foreign_npz_with_a_config(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, config=np.array(json.dumps({"learning_rate": 0.1})))
    _assert_rejected(path, "does not declare format")


@pytest.mark.parametrize("version", [0, 4, "1", 1.5, True, None])
def test_wrong_format_version(tmp_path, saved, version):
    config = _config(saved)
    config["format_version"] = version
    _assert_rejected(_rewrite(saved, tmp_path / "v.npz", config), "format version")


def _older_opt_state(opt_state, n_params, version):
    """``opt_state`` as a file of an earlier format holds it: two slots (the third is
    unused by the optimizers of those days), then Nadam's cache entry from version 2."""
    return np.concatenate([opt_state[:2 * n_params],
                           opt_state[3 * n_params:] if version == 2 else []])


@pytest.mark.parametrize("version, optimizer", [(1, "adam"), (1, "sgd"), (2, "nadam"),
                                                (2, "rmsprop")])
def test_older_files_load_and_continue(tmp_path, data, version, optimizer):
    """A file of an earlier format (version 1: two optimizer slots and no Nadam cache
    entry; version 2: two slots and the cache) loads and trains on exactly as the model
    it was saved from."""
    X, labels = data
    model = _model(optimizer)
    model.fit(X, labels, epochs=3, batch_size=16, verbose=0)
    saved = model.save(tmp_path / "now.npz")
    config = _config(saved)
    config["format_version"] = version
    old = _rewrite(saved, tmp_path / f"v{version}.npz", config,
                   opt_state=_older_opt_state(_arrays(saved)["opt_state"],
                                              model.count_params(), version))
    assert _arrays(old)["opt_state"].shape == (2 * model.count_params() + (version == 2),)
    loaded = fa.load_model(old)
    _assert_same_state(loaded, model)
    for twin in (model, loaded):
        twin.fit(X, labels, epochs=2, batch_size=16, verbose=0)
    _assert_same_state(loaded, model)


def test_version_1_files_with_weight_decay_are_refused(tmp_path, data):
    """weight_decay changed meaning (L2 in the gradient, then Keras' decoupled rule)."""
    model = _model("rmsprop")
    saved = model.save(tmp_path / "now.npz")
    config = _config(saved)
    config["format_version"] = 1
    old = _rewrite(saved, tmp_path / "v1.npz", config,
                   opt_state=_older_opt_state(_arrays(saved)["opt_state"],
                                              model.count_params(), 1))
    _assert_rejected(old, "weight_decay.*L2")


def _with(config, path, value):
    """config with the entry at ``path`` (a tuple of keys and indices) set to value."""
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return config


@pytest.mark.parametrize("where, value, match", [
    (("layers", 0, "activation"), "os.system", "unknown activation 'os.system'"),
    (("layers", 1, "kernel_initializer"), "numpy.random.seed", "unknown kernel_initializer"),
    (("compile", "loss"), "os.system", "unknown loss 'os.system'"),
    (("compile", "metrics"), ["accuracy", "os.system"], "unknown metric 'os.system'"),
    (("compile", "optimizer", "name"), "os.system", "os.system"),
    (("compile", "optimizer", "lr"), -1.0, "lr"),
    (("compile", "optimizer"), "adam", "compile.optimizer must be a dict"),
    (("compile", "loss"), "binary_crossentropy", "needs a 'sigmoid' output"),
    (("layers", 0, "units"), 0, "units"),
    (("layers", 0, "units"), True, "units"),
    (("layers", 0, "units"), 10**12, "must have shape"),
    (("layers", 0, "negative_slope"), "0.2", "negative_slope must be a number"),
    (("layers", 1, "init_scale"), -1, "init_scale"),
    (("layers",), [], "non-empty"),
    (("dtype",), "object", "dtype"),
    (("seed",), -1, "seed"),
    (("seed",), 2**40, "seed"),
    (("input_dim",), 2.0, "input_dim"),
    (("compile", "metrics"), "accuracy", "list of names"),
])
def test_bad_config_value(tmp_path, saved, where, value, match):
    config = _with(_config(saved), where, value)
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", config), match)


@pytest.mark.parametrize("where",
                         [("input_dim",), ("compile", "loss"), ("layers", 0, "units")])
def test_missing_config_key(tmp_path, saved, where):
    config = _config(saved)
    target = config
    for key in where[:-1]:
        target = target[key]
    del target[where[-1]]
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", config), "missing keys")


def test_unexpected_config_key(tmp_path, saved):
    config = _config(saved)
    config["layers"][0]["__class__"] = "os.system"
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", config), "unexpected keys")


@pytest.mark.parametrize("config, match", [
    (np.array("{not json"), "not valid JSON"),
    (np.array('{"format": NaN}'), "NaN"),
    (np.array(["{}", "{}"]), "0-d unicode"),
    (np.array(b"{}"), "0-d unicode"),
    (np.array(3), "0-d unicode"),
])
def test_bad_config_array(tmp_path, saved, config, match):
    arrays = _arrays(saved)
    arrays["config"] = config
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    _assert_rejected(path, match)


@pytest.mark.parametrize("name, make, match", [
    ("params", lambda a: a[:-1], "must have shape"),
    ("params", lambda a: np.append(a, 0.0), r"must have shape"),
    ("params", lambda a: a.astype(np.float32), "dtype float64"),
    ("params", lambda a: a.astype(">f8"), "dtype float64"),
    ("params", lambda a: a.reshape(1, -1), "must have shape"),
    ("opt_state", lambda a: a[: a.size // 2], "must have shape"),
    ("opt_state", lambda a: a.astype(np.float32), "dtype float64"),
    ("rng_state", lambda a: a.astype(np.int64), "dtype uint64"),
    ("rng_state", lambda a: np.append(a, a), "must have shape"),
    ("counters", lambda a: a[:2], "must have shape"),
    ("counters", lambda a: a.astype(np.float64), "dtype int64"),
])
def test_array_with_wrong_shape_or_dtype(tmp_path, saved, name, make, match):
    array = make(_arrays(saved)[name])
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", **{name: array}), match)


@pytest.mark.parametrize("name", ["params", "config", "rng_state", "extra"])
def test_object_array_is_refused(tmp_path, saved, name):
    """An npz holding a pickle: np.savez writes object arrays with pickle."""
    evil = np.empty(3, dtype=object)
    evil[:] = [print, "os.system", 1.0]
    _assert_rejected(_rewrite(saved, tmp_path / "evil.npz", **{name: evil}),
                     "pickled data|unexpected")


def test_object_array_never_unpickled(tmp_path, saved, monkeypatch):
    import pickle
    evil = np.empty(1, dtype=object)
    path = _rewrite(saved, tmp_path / "evil.npz", params=evil)

    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled data")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    _assert_rejected(path, "pickled data")


@pytest.mark.parametrize("name", ["params", "opt_state", "rng_state", "counters", "config"])
def test_missing_array(tmp_path, saved, name):
    match = "no 'config' array" if name == "config" else rf"missing \['{name}'\]"
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", **{name: None}), match)


def test_unexpected_array(tmp_path, saved):
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", extra=np.zeros(2)),
                     r"unexpected \['extra'\]")


def test_optimizer_state_without_a_compiled_model(tmp_path, saved):
    config = _config(saved)
    config["compile"] = None
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", config),
                     r"unexpected \['opt_state'\]")


@pytest.mark.parametrize("name, change, match", [
    ("params", lambda a: np.where(np.arange(a.size) == 3, np.nan, a), "NaN or infinite"),
    ("opt_state", lambda a: np.where(np.arange(a.size) == 0, np.inf, a), "NaN or infinite"),
    ("counters", lambda a: np.array([-1, a[1], a[2]]), "impossible values"),
    ("counters", lambda a: np.array([a[0], a[1], 1]), "impossible values"),
])
def test_impossible_values(tmp_path, saved, name, change, match):
    array = change(_arrays(saved)[name])
    _assert_rejected(_rewrite(saved, tmp_path / "bad.npz", **{name: array}), match)


def _npy_bytes(array, keep=None):
    """``array`` as .npy bytes, cut to the header and ``keep`` bytes of data if given."""
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    content = buffer.getvalue()
    return content if keep is None else content[:len(content) - array.nbytes + keep]


def _write_members(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name + ".npy", content)
    return path


def test_member_with_less_data_than_its_header_declares(tmp_path, saved):
    members = {name: _npy_bytes(array) for name, array in _arrays(saved).items()}
    members["params"] = _npy_bytes(_arrays(saved)["params"], keep=100)
    _assert_rejected(_write_members(tmp_path / "short.npz", members),
                     r"array 'params' declares shape \(123,\).*holds only 100 bytes")


def test_forged_huge_model_is_refused_before_allocating(tmp_path, saved):
    """A config and headers that agree on 10**12 parameters, with no data behind them."""
    arrays = _arrays(saved)
    config = _config(saved)
    config["layers"][0]["units"] = 10**11
    sizes = [N_FEATURES] + [layer["units"] for layer in config["layers"]]
    n_params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    members = {name: _npy_bytes(array) for name, array in arrays.items()}
    members.update(config=_npy_bytes(np.array(json.dumps(config))),
                   params=_header_only((n_params,)), opt_state=_header_only((2 * n_params + 1,)))
    _assert_rejected(_write_members(tmp_path / "huge.npz", members),
                     rf"'params' declares shape \({n_params},\).*holds only 0 bytes")


def _header_only(shape):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def test_compressed_file_loads(tmp_path, saved):
    """Any valid npz holding the right arrays loads, compressed or not."""
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **_arrays(saved))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("params.npy").compress_type == zipfile.ZIP_DEFLATED
    assert np.array_equal(fa.load_model(path)._params, fa.load_model(saved)._params)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fa.load_model(tmp_path / "nothing.npz")


# ------------------------------------------- schedules, callbacks, checkpoints
def test_resume_continues_a_learning_rate_schedule(tmp_path, data):
    X, labels = data
    schedule = fa.schedules.ExponentialDecay(0.02, decay_rate=0.5, decay_epochs=3)
    options = dict(batch_size=12, verbose=0)
    straight = _model()
    straight.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=schedule))
    straight.fit(X, labels, epochs=9, **options)

    first = _model()
    first.compile(loss="sparse_categorical_crossentropy", optimizer=fa.Adam(lr=schedule))
    first.fit(X, labels, epochs=5, **options)
    resumed = fa.load_model(first.save(tmp_path / "model.npz"))
    assert resumed.optimizer.get_config() == first.optimizer.get_config()
    assert resumed.optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    resumed.fit(X, labels, epochs=4, **options)
    assert np.array_equal(resumed._params, straight._params)


def test_changed_learning_rate_is_saved(tmp_path):
    model = _model("rmsprop")
    model.optimizer.lr = 0.000123  # as ReduceLROnPlateau does
    assert fa.load_model(model.save(tmp_path / "model.npz")).optimizer.lr == 0.000123


def test_custom_schedule_cannot_be_saved_and_leaves_no_file(tmp_path):
    class Halving(fa.schedules.LearningRateSchedule):
        def __call__(self, epoch):
            return 0.1 / 2 ** epoch

    model = _model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fa.SGD(lr=Halving()))
    with pytest.raises(NotImplementedError, match="custom schedule"):
        model.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_model_checkpoint_files_load_and_resume(tmp_path, data):
    """Every epoch's checkpoint loads, and resuming from one matches the run that wrote it."""
    X, labels = data
    options = dict(batch_size=16, verbose=0)
    model = _model("adam", "float32")
    checkpoint = fa.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"), monitor="loss")
    model.fit(X, labels, epochs=3, callbacks=[checkpoint], **options)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz", "ckpt-3.npz"]

    last = fa.load_model(tmp_path / "ckpt-3.npz")
    _assert_same_state(last, model)
    assert np.array_equal(last._opt_state, model._opt_state)

    resumed = fa.load_model(tmp_path / "ckpt-1.npz")
    assert resumed.epochs_trained == 1
    resumed.fit(X, labels, epochs=2, **options)
    _assert_same_state(resumed, model)


def test_best_only_checkpoint_loads(tmp_path, data):
    X, labels = data
    model = _model("sgd_nesterov")
    checkpoint = fa.ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss",
                                    save_best_only=True)
    model.fit(X, labels, epochs=4, validation_split=0.25, callbacks=[checkpoint], verbose=0)
    best = fa.load_model(tmp_path / "best.npz")
    assert 1 <= best.epochs_trained <= 4
    val_loss = best.evaluate(X[72:], labels[72:], verbose=0, return_dict=True)["loss"]
    assert val_loss == pytest.approx(checkpoint.best, rel=1e-12)
    assert os.listdir(tmp_path) == ["best.npz"]


@pytest.mark.parametrize("loss, target", [
    (fa.losses.Huber(delta=0.3), "values"),
    (fa.losses.BinaryCrossentropy(from_logits=True), "labels"),
])
def test_a_loss_objects_settings_survive_save_and_load(tmp_path, loss, target):
    """Huber's delta and from_logits are part of the compiled loss: a loaded model trains
    on with them, exactly as the saved one."""
    generator = np.random.default_rng(4)
    X = generator.normal(size=(40, 3))
    y = X[:, :1] * 2 if target == "values" else (X[:, 0] > 0).astype(int)
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(1)], input_dim=3,
                     dtype="float64", seed=1)
    model.compile(optimizer=fa.optimizers.Adam(learning_rate=0.01, clipvalue=0.5), loss=loss)
    model.fit(X, y, epochs=2, verbose=0, shuffle=False)
    loaded = fa.load_model(model.save(tmp_path / "m"))
    assert loaded.loss_spec == model.loss_spec and loaded.loss_spec.hyper  # not the table's defaults
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    before = model.fit(X, y, epochs=2, verbose=0, shuffle=False).history["loss"]
    after = loaded.fit(X, y, epochs=2, verbose=0, shuffle=False).history["loss"]
    assert before == after
