"""Keras 3 ``.keras`` archives both ways, against real Keras 3 (JAX backend).

fastann -> Keras: ``model.save("m.keras")`` loads in ``keras.saving.load_model`` and
predicts the same; with its optimizer state, one more epoch in Keras and in fastann
gives the same weights. Keras -> fastann: ``fastann.load_model`` reads a Keras model's
archive, weights and optimizer state. Bad archives raise ValueError naming the file.
"""
import io
import json
import os
import struct
import zipfile

import numpy as np
import pytest

import fastann as fa
from fastann import activations, layers as fastann_layers
from fastann.kernels.optimizers import N_SLOTS

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is first imported
h5py = pytest.importorskip("h5py")
if os.environ["KERAS_BACKEND"] == "jax":  # float64 models need JAX's 64-bit mode
    pytest.importorskip("jax").config.update("jax_enable_x64", True)
keras = pytest.importorskip("keras")

from fastann.export import keras_file  # noqa: E402

ACTIVATION_NAMES = sorted({spec.name for spec in activations.ACTIVATIONS.values()})
KERAS_NAMES = [n for n in ACTIVATION_NAMES if keras_file.TO_KERAS_ACTIVATION.get(n)]
# Keras' JAX backend returns float32 outputs from float64 layers here, so float64 models
# are compared to Keras' outputs as float32 ones are, and their weights exactly.
TOLERANCE = {"float32": 1e-6, "float64": 1e-6}


def _data(n_features=4, n=40, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_features)).astype(dtype)


def _keras_predict(path, X):
    model = keras.saving.load_model(path)
    return model, np.asarray(model.predict(X, verbose=0, batch_size=len(X)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", KERAS_NAMES)
def test_fastann_to_keras_every_activation(name, dtype, tmp_path):
    model = fa.Model([fa.Dense(6, activation=name), fa.Dense(3, activation=name)],
                     input_dim=4, dtype=dtype, seed=2)
    path = tmp_path / "m.keras"
    assert model.save(path) == str(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    X = _data(dtype=dtype)
    loaded, predicted = _keras_predict(path, X)
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dense"]
    for theirs, mine in zip(loaded.get_weights(), model.get_weights()):
        assert np.asarray(theirs).dtype == mine.dtype
        np.testing.assert_array_equal(np.asarray(theirs), mine)
    np.testing.assert_allclose(predicted, model.predict_proba(X), rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])


def test_step_has_no_keras_form(tmp_path):
    model = fa.Model([fa.Dense(2, activation="step")], input_dim=3)
    path = tmp_path / "m.keras"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="'step' activation, which Keras does not have"):
        model.save(path)
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_leaky_relu_slope_travels_as_a_layer(tmp_path):
    model = fa.Model([fa.Dense(5, activation="leaky_relu", negative_slope=0.05),
                      fa.Dense(1, activation="sigmoid")], input_dim=3, seed=0)
    path = model.save(tmp_path / "m.keras")
    X = _data(3)
    loaded, predicted = _keras_predict(path, X)
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "LeakyReLU", "Dense"]
    np.testing.assert_allclose(predicted, model.predict_proba(X), atol=1e-6)
    back = fa.load_model(path)
    assert back.layers[0].negative_slope == pytest.approx(0.05)
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), atol=1e-7)


def _keras_model(name, dtype="float32", n_features=4):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((n_features,), dtype=dtype),
                              keras.layers.Dense(5, activation=name, dtype=dtype),
                              keras.layers.Dense(2, activation="softmax", dtype=dtype)])
    rng = np.random.default_rng(1)
    model.set_weights([rng.standard_normal(w.shape).astype(dtype) * 0.7
                       for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_to_fastann_every_activation(name, tmp_path):
    keras_name = keras_file.TO_KERAS_ACTIVATION[name]
    model = _keras_model(keras_name)
    path = tmp_path / "k.keras"
    model.save(path)
    loaded = fa.load_model(path)
    assert loaded.dtype == np.float32 and loaded.input_dim == 4
    assert loaded.layers[0].activation_spec.name == name
    X = _data()
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_keras_float64_model(tmp_path):
    model = _keras_model("tanh", dtype="float64")
    path = tmp_path / "k.keras"
    model.save(path)
    loaded = fa.load_model(path)
    assert loaded.dtype == np.float64
    for theirs, mine in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(mine, np.asarray(theirs))
    X = _data(dtype="float64")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_keras_layer_kinds(tmp_path):
    """Dropout, BatchNormalization and Activation: read when fastann has the layer kind,
    refused by name when it does not."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6),
                              keras.layers.BatchNormalization(epsilon=1e-2),
                              keras.layers.Activation("relu"), keras.layers.Dropout(0.3),
                              keras.layers.Dense(2, activation="sigmoid")])
    rng = np.random.default_rng(2)
    model.set_weights([rng.uniform(0.2, 1.2, w.shape).astype("float32")
                       for w in model.get_weights()])
    path = tmp_path / "k.keras"
    model.save(path)
    missing = [k for k in ("BatchNormalization", "Activation", "Dropout")
               if not hasattr(fastann_layers, k)]
    if missing:
        with pytest.raises(ValueError, match=f"k.keras.*this fastann has no {missing[0]}"):
            fa.load_model(path)
        return
    loaded = fa.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Dense", "BatchNormalization", "Activation", "Dropout", "Dense"]
    X = _data(3)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    again = tmp_path / "again.keras"
    loaded.save(again)
    np.testing.assert_allclose(_keras_predict(again, X)[1], model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_keras_regularizers(tmp_path):
    """An L2 kernel regularizer is read when fastann's Dense takes one, and otherwise
    refused by name."""
    import inspect

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        4, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01)),
        keras.layers.Dense(1)])
    path = tmp_path / "k.keras"
    model.save(path)
    if "kernel_regularizer" not in inspect.signature(fa.Dense).parameters:
        with pytest.raises(ValueError, match="layer 1 \\('dense', Dense\\): option "
                                             "kernel_regularizer=L2 is not supported"):
            fa.load_model(path)
        return
    loaded = fa.load_model(path)
    assert loaded.layers[0].kernel_regularizer is not None
    X = _data(3)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-6)


# fastann's, Keras', the groups of Keras' optimizer variables as fastann's slots (each
# group's slots interleaved per variable, then the next group), scalars after them
OPTIMIZERS = {
    "adam": (lambda: fa.Adam(lr=0.01), lambda: keras.optimizers.Adam(0.01), [(0, 1)], 0),
    "adam_amsgrad": (lambda: fa.Adam(lr=0.01, beta_2=0.8, amsgrad=True),
                     lambda: keras.optimizers.Adam(0.01, beta_2=0.8, amsgrad=True),
                     [(0, 1), (2,)], 0),
    "sgd_momentum": (lambda: fa.SGD(lr=0.05, momentum=0.9),
                     lambda: keras.optimizers.SGD(0.05, momentum=0.9), [(0,)], 0),
    "sgd_decay_clipvalue": (lambda: fa.SGD(lr=0.05, weight_decay=0.1, clipvalue=0.05),
                            lambda: keras.optimizers.SGD(0.05, weight_decay=0.1,
                                                         clipvalue=0.05), [], 0),
    "rmsprop": (lambda: fa.RMSprop(lr=0.01), lambda: keras.optimizers.RMSprop(0.01),
                [(0,)], 0),
    "rmsprop_momentum": (lambda: fa.RMSprop(lr=0.01, momentum=0.5),
                         lambda: keras.optimizers.RMSprop(0.01, momentum=0.5),
                         [(0,), (1,)], 0),
    "rmsprop_centered_momentum": (
        lambda: fa.RMSprop(lr=0.01, momentum=0.5, centered=True),
        lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        [(0,), (1,), (2,)], 0),
    "adamw_clipnorm": (lambda: fa.optimizers.AdamW(lr=0.01, weight_decay=0.05, clipnorm=0.1),
                       lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05,
                                                      clipnorm=0.1), [(0, 1)], 0),
    "nadam": (lambda: fa.optimizers.Nadam(lr=0.01, weight_decay=0.02, global_clipnorm=0.5),
              lambda: keras.optimizers.Nadam(0.01, weight_decay=0.02,
                                             global_clipnorm=0.5), [(0, 1)], 1),
}


def _keras_slots(slot_variables, groups):
    """{fastann slot: Keras' arrays of it, flattened and joined in variable order}."""
    n_variables = len(slot_variables) // max(sum(len(g) for g in groups), 1)
    order = [(s, v) for group in groups for v in range(n_variables) for s in group]
    return {s: np.concatenate([slot_variables[i].ravel() for i, (slot, v) in
                               enumerate(order) if slot == s])
            for group in groups for s in group}


def _regression(n=32):
    X = _data(3, n)
    return X, np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1).astype("float32")


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_state_fastann_to_keras(optimizer, tmp_path):
    make_fastann, _, groups, n_scalars = OPTIMIZERS[optimizer]
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(2)], input_dim=3, seed=3)
    model.compile(loss="mse", optimizer=make_fastann(), metrics=["mae"])
    X, y = _regression()
    model.fit(X, y, epochs=3, batch_size=None, shuffle=False, verbose=0)
    path = model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(path)
    assert int(loaded.optimizer.iterations.numpy()) == 3
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    config = loaded.optimizer.get_config()
    for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
        assert config[key] == (getattr(model.optimizer, key) or None)
    variables = [np.asarray(v) for v in loaded.optimizer.variables]
    slots = variables[2:len(variables) - n_scalars]
    n = model.count_params()
    for i in range(n_scalars):  # Nadam's u_product
        np.testing.assert_allclose(variables[len(variables) - n_scalars + i],
                                   model._opt_state[N_SLOTS * n + i], rtol=1e-6)
    for s, theirs in _keras_slots(slots, groups).items():
        np.testing.assert_allclose(theirs, model._opt_state[s * n:(s + 1) * n], rtol=1e-6,
                                   atol=1e-7)
    # the same rule from the same state: one more full-batch epoch agrees
    loaded.fit(X, y, epochs=1, batch_size=len(X), shuffle=False, verbose=0)
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False, verbose=0)
    for theirs, mine in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(np.asarray(theirs), mine, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_state_keras_to_fastann(optimizer, tmp_path):
    _, make_keras, groups, n_scalars = OPTIMIZERS[optimizer]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=make_keras(), loss="mean_squared_error", metrics=["mae"])
    X, y = _regression()
    model.fit(X, y, epochs=2, batch_size=len(X), shuffle=False, verbose=0)
    path = tmp_path / "k.keras"
    model.save(path)
    loaded = fa.load_model(path)
    assert loaded.loss_spec.name == "mean_squared_error" and loaded.metrics_names == ["loss", "mae"]
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    from fastann.kernels import train as train_kernels
    assert loaded._counters[train_kernels.STEPS] == 2
    variables = [np.asarray(v) for v in model.optimizer.variables]
    slots = variables[2:len(variables) - n_scalars]
    n = loaded.count_params()
    for i in range(n_scalars):  # Nadam's u_product
        assert loaded._opt_state[N_SLOTS * n + i] == variables[len(variables) - n_scalars + i]
    config = model.optimizer.get_config()
    for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
        assert (getattr(loaded.optimizer, key) or None) == config[key]
    for s, theirs in _keras_slots(slots, groups).items():
        np.testing.assert_array_equal(loaded._opt_state[s * n:(s + 1) * n], theirs)
    model.fit(X, y, epochs=1, batch_size=len(X), shuffle=False, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=None, shuffle=False, verbose=0)
    for theirs, mine in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-4, atol=1e-5)


def test_keras_options_fastann_lacks_leave_the_model_uncompiled(tmp_path):
    model = _keras_model("relu")
    model.compile(optimizer=keras.optimizers.Adam(use_ema=True), loss="mse")
    path = tmp_path / "k.keras"
    model.save(path)
    with pytest.warns(UserWarning, match="uncompiled.*Adam use_ema=True"):
        loaded = fa.load_model(path)
    assert loaded.loss is None


def test_unmapped_optimizer_is_not_written_as_keras_compile_settings(tmp_path):
    model = fa.Model([fa.Dense(2)], input_dim=3, seed=0)
    model.compile(loss="mse", optimizer=fa.optimizers.Adagrad(weight_decay=0.01))
    with pytest.warns(UserWarning, match="without compile settings.*'adagrad' optimizer"):
        path = model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as zf:
        assert "compile_config" not in json.loads(zf.read("config.json"))


# ---------------------------------------------------------------- bad archives
@pytest.fixture
def archive(tmp_path):
    model = fa.Model([fa.Dense(3, activation="relu"), fa.Dense(1)], input_dim=2, seed=0)
    path = model.save(tmp_path / "good.keras")
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(tmp_path, members, name="bad.keras"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def _with_config(archive, edit):
    config = json.loads(archive["config.json"])
    edit(config)
    return dict(archive, **{"config.json": json.dumps(config)})


def _layers(config):
    return config["config"]["layers"]


@pytest.mark.parametrize("edit, match", [
    (lambda c: _layers(c).insert(2, {"module": "keras.layers", "class_name": "Lambda",
                                     "config": {"function": "..."}}),
     "layer 2.*Lambda layer holds Python code"),
    (lambda c: _layers(c).insert(2, {"module": "keras.layers", "class_name": "Conv1D",
                                     "config": {"name": "conv"}}),
     "layer 2 \\('conv', Conv1D\\): fastann cannot read Conv1D layers"),
    (lambda c: _layers(c)[1].update(module="my_package.layers",
                                    registered_name="Custom>Dense"),
     "custom object 'Dense'.*never imports code"),
    (lambda c: c.update(class_name="Functional"), "Functional; fastann reads Sequential"),
    (lambda c: _layers(c)[1]["config"].update(kernel_constraint={"class_name": "NonNeg"}),
     "layer 1 \\('dense', Dense\\): option kernel_constraint=.* not supported"),
    (lambda c: _layers(c)[1]["config"].update(activation="crelu"),
     "layer 1.*activation 'crelu' is not one fastann has"),
    (lambda c: _layers(c)[1]["config"].update(units=7),
     "group 'layers/dense/vars'.*shape \\(2, 7\\)|dataset 'layers/dense/vars/0'"),
    (lambda c: _layers(c)[1]["config"]["dtype"]["config"].update(name="mixed_float16"),
     "dtype is 'mixed_float16'"),
    (lambda c: _layers(c)[0]["config"].update(batch_shape=[None, 8, 8]),
     "batch_shape must be \\[batch, n_features\\]"),
])
def test_config_problems_name_the_file_and_layer(tmp_path, archive, edit, match):
    path = _write(tmp_path, _with_config(archive, edit))
    with pytest.raises(ValueError, match="bad.keras.*" + match):
        fa.load_model(path)


def test_not_a_zip_and_truncated(tmp_path, archive):
    path = tmp_path / "bad.keras"
    path.write_bytes(b"\x89HDF\r\n" + bytes(100))
    with pytest.raises(ValueError, match="bad.keras.*not a zip archive"):
        fa.load_model(path)
    whole = _write(tmp_path, archive, "whole.keras").read_bytes()
    for keep in (len(whole) // 2, len(whole) - 30):
        path.write_bytes(whole[:keep])
        with pytest.raises(ValueError, match="bad.keras"):
            fa.load_model(path)


def test_missing_and_extra_members(tmp_path, archive):
    with pytest.raises(ValueError, match="no 'model.weights.h5'"):
        fa.load_model(_write(tmp_path, {"config.json": archive["config.json"]}))
    with pytest.raises(ValueError, match="members \\['evil.pkl'\\]"):
        fa.load_model(_write(tmp_path, dict(archive, **{"evil.pkl": b"\x80\x04."})))


def test_declared_sizes_are_checked_before_reading(tmp_path, archive):
    """A zip whose directory claims a member far larger than the file (a zip bomb's
    trick) is refused before anything is decompressed."""
    data = bytearray(_write(tmp_path, archive, "whole.keras").read_bytes())
    offset = data.find(b"PK\x01\x02")
    while offset != -1:  # patch every central-directory entry's uncompressed size
        struct.pack_into("<I", data, offset + 24, 2**31)
        offset = data.find(b"PK\x01\x02", offset + 4)
    path = tmp_path / "bad.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.keras.*declares 2147483648 bytes"):
        fa.load_model(path)


def _weights_with(archive, edit):
    buffer = io.BytesIO(archive["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        edit(h5)
    return dict(archive, **{"model.weights.h5": buffer.getvalue()})


@pytest.mark.parametrize("edit, match", [
    (lambda h5: (h5.__delitem__("layers/dense/vars/0"),
                 h5.__setitem__("layers/dense/vars/0", h5py.ExternalLink("/etc/passwd", "x"))),
     "ExternalLink; fastann reads plain datasets"),
    (lambda h5: (h5.__delitem__("layers/dense/vars/1"),
                 h5.create_dataset("layers/dense/vars/1", data=np.zeros(4, "f4"))),
     "dataset 'layers/dense/vars/1'.*shape \\(3,\\); got float32 of shape \\(4,\\)"),
    (lambda h5: h5["layers/dense/vars/1"].__setitem__(0, np.nan), "NaN or infinite"),
    (lambda h5: (h5.__delitem__("layers/dense/vars/1"),
                 h5.create_dataset("layers/dense/vars/1", data=np.array(["a", "b", "c"],
                                                                       dtype="S1"))),
     "must be numbers"),
    (lambda h5: h5.__delitem__("layers/dense_1"), "no group 'layers/dense_1/vars'"),
])
def test_weights_problems(tmp_path, archive, edit, match):
    path = _write(tmp_path, _weights_with(archive, edit))
    with pytest.raises(ValueError, match="bad.keras.*" + match):
        fa.load_model(path)


def test_old_npz_files_named_keras_still_load(tmp_path):
    model = fa.Model([fa.Dense(2)], input_dim=3, seed=0)
    from fastann.saving import save_model
    written = save_model(model, tmp_path / "old.keras")  # what save() wrote before
    assert written.endswith("old.keras.npz")
    loaded = fa.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        fa.load_model(tmp_path / "nothing.keras")


def test_unbuilt_model(tmp_path):
    with pytest.raises(ValueError, match="input size is not known"):
        fa.Model([fa.Dense(2)]).save(tmp_path / "m.keras")
    assert not os.listdir(tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_devices_are_refused_without_reading_them(tmp_path):
    link = tmp_path / "endless.keras"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="endless.keras.*character device"):
        fa.load_model(link)


def test_encrypted_members_are_refused(tmp_path, archive):
    data = bytearray(_write(tmp_path, archive, "whole.keras").read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        offset = data.find(signature)
        while offset != -1:  # set the "encrypted" flag bit of every header
            data[offset + flags_at] |= 1
            offset = data.find(signature, offset + 4)
    path = tmp_path / "bad.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.keras.*encrypted"):
        fa.load_model(path)


def test_metric_objects_travel_both_ways(tmp_path):
    """Metric objects with options and names of their own are written as Keras
    serializes them and read back from a Keras archive."""
    X = _data(3, 60)
    y = (X[:, 0] > 0).astype("float32")
    model = fa.Sequential([fa.layers.Dense(4, activation="tanh", input_shape=(3,)),
                           fa.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", fa.metrics.AUC(curve="PR", name="pr_auc"),
                           fa.metrics.Precision(thresholds=0.3)])
    model.fit(X, y, epochs=2, verbose=0)
    path = model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(path)
    theirs = dict(zip(model.metrics_names,
                      loaded.evaluate(X, y, verbose=0, batch_size=len(X))))
    ours = model.evaluate(X, y, verbose=0, return_dict=True)
    assert set(theirs) == set(ours) == {"loss", "accuracy", "pr_auc", "precision"}
    for name, value in ours.items():
        assert theirs[name] == pytest.approx(value, abs=1e-5), name
    loaded.save(tmp_path / "k.keras")
    back = fa.load_model(tmp_path / "k.keras")
    assert back.metrics_names == model.metrics_names
    assert back.evaluate(X, y, verbose=0, return_dict=True) == pytest.approx(ours, abs=1e-6)
