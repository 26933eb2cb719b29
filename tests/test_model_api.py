"""The Model's public behaviour: resuming, seeding, weights in Keras' layout, predict,
evaluate, summary, History, progress output and Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import fastann as fa
from fastann import model as model_module
from fastann import reference

DTYPES = ["float64", "float32"]


def blobs(n_samples=40, n_features=3, n_classes=2, seed=0):
    random = np.random.default_rng(seed)
    X = random.normal(size=(n_samples, n_features))
    y = (X @ random.normal(size=(n_features, n_classes))).argmax(axis=1)
    return X, y


def binary_model(dtype="float64", seed=0, optimizer=None, input_dim=3, metrics=("accuracy",)):
    model = fa.Model([fa.Dense(5, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=input_dim, dtype=dtype, seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=optimizer or fa.Adam(lr=0.01),
                  metrics=list(metrics))
    return model


def assert_same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)


def weights_differ(a, b):
    return any(not np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


# -------------------------------------------------------------- resuming, seeds
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size, shuffle, optimizer", [
    (None, False, lambda: fa.SGD(lr=0.1, momentum=0.9)),
    (7, False, lambda: fa.RMSprop(lr=0.01)),
    (7, True, lambda: fa.Adam(lr=0.01)),  # the shuffling stream and Adam's step count go on
], ids=["full-batch-momentum", "mini-batch-rmsprop", "shuffled-adam"])
def test_continuing_fit_equals_one_longer_fit(dtype, batch_size, shuffle, optimizer):
    X, y = blobs()
    once = binary_model(dtype, optimizer=optimizer())
    long_history = once.fit(X, y, epochs=30, batch_size=batch_size, shuffle=shuffle, verbose=0)
    parts = binary_model(dtype, optimizer=optimizer())
    histories = [parts.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                           verbose=0) for epochs in (1, 9, 20)]
    assert parts.epochs_trained == once.epochs_trained == 30
    assert_same_weights(once, parts)
    joined = sum((h.history["loss"] for h in histories), [])
    assert joined == long_history.history["loss"]
    assert histories[2].epoch == list(range(20))  # Keras numbers each call from 0
    # and training did something
    assert long_history.history["loss"][-1] < long_history.history["loss"][0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_gives_bit_identical_runs_and_other_seeds_differ(dtype):
    X, y = blobs()

    def run(seed, weights=None):
        model = binary_model(dtype, seed=seed)
        if weights is not None:
            model.set_weights(weights)
        model.fit(X, y, epochs=20, batch_size=8, shuffle=True, verbose=0)
        return model

    first, second = run(seed=5), run(seed=5)
    assert_same_weights(first, second)
    assert first.history.history == second.history.history
    assert weights_differ(binary_model(dtype, seed=5), binary_model(dtype, seed=6))
    # same initial weights, other seed: only the shuffling differs, and that shows
    other = run(seed=6, weights=binary_model(dtype, seed=5).get_weights())
    assert weights_differ(first, other)


RUN_TWICE = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    import fastann as fa
    random = np.random.default_rng(0)
    X = random.normal(size=(40, 3))
    y = (X[:, 0] > X[:, 1]).astype(int)
    for dtype in ("float32", "float64"):
        model = fa.Model([fa.Dense(5, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                         input_dim=3, dtype=dtype, seed=11)
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(X, y, epochs=25, batch_size=8, verbose=0)
        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights()))
        print(dtype, digest.hexdigest())
""")


def test_same_seed_is_bit_identical_across_processes():
    outputs = []
    for hash_seed in ("1", "2"):  # nothing may depend on Python's hash randomisation
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", RUN_TWICE], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("float32 ") == outputs[0].count("float64 ") == 1


def test_seed_is_kept_and_drawn_when_omitted():
    assert binary_model(seed=123).seed == 123
    a = fa.Model([fa.Dense(2)], input_dim=2)
    assert isinstance(a.seed, int) and 0 <= a.seed < 2**32
    rebuilt = fa.Model([fa.Dense(2)], input_dim=2, seed=a.seed)
    assert_same_weights(a, rebuilt)


# ------------------------------------------------------------------- weights
@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_in_keras_layout(dtype):
    model = fa.Model([fa.Dense(5, activation="relu"), fa.Dense(4, activation="tanh"),
                      fa.Dense(2)], input_dim=3, dtype=dtype, seed=0)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 5), (5,), (5, 4), (4,), (4, 2), (2,)]
    assert all(w.dtype == np.dtype(dtype) for w in weights)
    assert model.count_params() == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2
    assert all((w == 0).all() for w in weights[1::2])  # biases start at zero
    # the layout's meaning: output = tanh(relu(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    random = np.random.default_rng(1)
    new = [random.normal(size=w.shape) for w in weights]
    model.set_weights(new)
    X = random.normal(size=(6, 3))
    expected = np.tanh(np.maximum(X @ new[0] + new[1], 0) @ new[2] + new[3]) @ new[4] + new[5]
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_get_and_set_weights_round_trip_as_copies(dtype):
    model = binary_model(dtype)
    random = np.random.default_rng(2)
    new = [random.normal(size=w.shape) for w in model.get_weights()]
    model.set_weights(new)
    got = model.get_weights()
    for a, b in zip(got, new):
        np.testing.assert_array_equal(a, b.astype(dtype))
    expected = [w.copy() for w in got]
    new[0][:] = 99  # set_weights copied its input
    got[1][:] = 99  # get_weights handed out copies
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(a, b)
    before = model.get_weights()
    model.set_weights(model.get_weights())
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # the weights are the ones training starts from
    twin = binary_model(dtype, seed=1)
    twin.set_weights(model.get_weights())
    X, y = blobs()
    for m in (model, twin):
        m.fit(X, y, epochs=5, batch_size="full", verbose=0)
    assert_same_weights(model, twin)
    with pytest.raises(ValueError, match="read-only"):
        model.params[0] = 1.0


def test_set_weights_accepts_lists_and_integers():
    model = fa.Model([fa.Dense(2)], input_dim=2, seed=0)
    model.set_weights([[[1, 2], [3, 4]], [5, 6]])
    np.testing.assert_array_equal(model.predict_classes([[1, 1]]), [[9.0, 12.0]])


# ------------------------------------------------------------------- predict
def test_predict_thresholds_one_sigmoid_unit_at_one_half():
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=1, dtype="float64", seed=0)
    model.set_weights([np.array([[1.0]]), np.array([0.0])])
    X = np.array([[-2.0], [-1e-9], [0.0], [1e-9], [3.0]])
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (5, 1)
    labels = model.predict_classes(X)
    assert labels.shape == (5,) and labels.dtype.kind == "i"
    # exactly 0.5 is class 0, as in the tutorial's ``A2 > 0.5``
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(labels, (probabilities[:, 0] > 0.5).astype(int))


def test_predict_several_sigmoid_units_gives_a_label_per_unit():
    model = fa.Model([fa.Dense(3, activation="sigmoid")], input_dim=2, seed=0)
    X = np.random.default_rng(3).normal(size=(10, 2))
    labels = model.predict_classes(X)
    assert labels.shape == (10, 3)
    np.testing.assert_array_equal(labels, (model.predict_proba(X) > 0.5).astype(int))
    assert 0 < labels.sum() < 30


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_softmax_gives_the_argmax_class(dtype):
    model = fa.Model([fa.Dense(6, activation="relu"), fa.Dense(4, activation="softmax")],
                     input_dim=3, dtype=dtype, seed=0)
    X = np.random.default_rng(4).normal(size=(50, 3))
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (50, 4) and probabilities.dtype == np.dtype(dtype)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    classes = model.predict_classes(X)
    assert classes.shape == (50,)
    np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
    assert len(set(classes.tolist())) > 1


@pytest.mark.parametrize("activation", [None, "linear", "relu", "tanh"])
def test_predict_other_outputs_gives_the_raw_values(activation):
    model = fa.Model([fa.Dense(2, activation=activation)], input_dim=3, seed=0)
    X = np.random.default_rng(5).normal(size=(7, 3))
    np.testing.assert_array_equal(model.predict_classes(X), model.predict_proba(X))
    assert model.predict_classes(X).shape == (7, 2)


def test_predict_in_blocks_matches_row_by_row():
    """More rows than one block of the prediction buffers (1024)."""
    model = binary_model()
    X = np.random.default_rng(6).normal(size=(2500, 3))
    whole = model.predict_proba(X)
    np.testing.assert_array_equal(whole[2047:2050], model.predict_proba(X[2047:2050]))
    np.testing.assert_array_equal(whole[:1], model.predict_proba(X[:1]))
    np.testing.assert_array_equal(whole[-1:], model.predict_proba(X[-1:]))


def test_predict_works_before_compile_once_input_dim_is_known():
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")],
                     input_dim=2, seed=0)
    assert model.loss is None
    labels = model.predict_classes([[0, 0], [1, 1]])
    assert labels.shape == (2,)
    assert model.predict_proba(np.ones((3, 2))).shape == (3, 1)


# ------------------------------------------------------------------- inputs
def test_input_dim_is_taken_from_the_first_fit():
    X, y = blobs(n_features=5)
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")],
                     seed=0)
    model.compile(loss="binary_crossentropy")
    assert not model.built and model.input_dim is None
    model.fit(X, y, epochs=2, verbose=0)
    assert model.built and model.input_dim == 5
    assert [w.shape for w in model.get_weights()] == [(5, 4), (4,), (4, 1), (1,)]
    # the same as a model told its input size
    told = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(1, activation="sigmoid")],
                    input_dim=5, seed=0)
    told.compile(loss="binary_crossentropy")
    told.fit(X, y, epochs=2, verbose=0)
    assert_same_weights(model, told)
    with pytest.raises(ValueError, match="x has 3 features but the model expects 5"):
        model.fit(X[:, :3], y, verbose=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lists_and_integer_arrays_are_accepted(dtype):
    X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    y = [0, 0, 0, 1]
    runs = []
    for X_given, y_given in [(X, y), (np.array(X, np.int64), np.array(y, np.int32)),
                             (np.array(X, bool), np.array(y, bool)),
                             (np.array(X, float), np.array(y, float))]:
        model = binary_model(dtype, input_dim=2)
        history = model.fit(X_given, y_given, epochs=5, batch_size="full", verbose=0)
        runs.append((model, history.history["loss"]))
        assert model.predict_classes(X_given).shape == (4,)
        assert set(model.evaluate(X_given, y_given, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    for model, losses in runs[1:]:
        assert_same_weights(model, runs[0][0])
        assert losses == runs[0][1]


def test_non_contiguous_and_float32_input_to_a_float64_model():
    X, y = blobs(n_samples=20)
    wide = np.zeros((20, 6))
    wide[:, ::2] = X
    a, b = binary_model(), binary_model()
    a.fit(X, y, epochs=3, verbose=0)
    b.fit(wide[:, ::2], y, epochs=3, verbose=0)  # a strided view
    assert_same_weights(a, b)
    np.testing.assert_array_equal(a.predict_proba(np.asfortranarray(X)), a.predict_proba(X))


@pytest.mark.parametrize("loss, output, units, y_column", [
    ("binary_crossentropy", "sigmoid", 1, True),
    ("mse", "linear", 1, False),
    ("sparse_categorical_crossentropy", "softmax", 3, False),
])
def test_y_as_n_or_n_by_1_trains_identically(loss, output, units, y_column):
    X, labels = blobs(n_classes=3 if units == 3 else 2)
    y = labels if loss != "mse" else X.sum(axis=1)
    runs = []
    for given in (y, y.reshape(-1, 1)):
        model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(units, activation=output)],
                         input_dim=3, seed=0)
        model.compile(loss=loss, optimizer=fa.SGD(lr=0.1))
        history = model.fit(X, given, epochs=4, batch_size=8, verbose=0)
        runs.append((model, history.history, model.evaluate(X, given, verbose=0, return_dict=True)))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][2] == runs[1][2]


# ------------------------------------------------------------------ evaluate
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, output, units", [
    ("binary_crossentropy", "sigmoid", 1),
    ("mse", "linear", 2),
    ("categorical_crossentropy", "softmax", 3),
    ("sparse_categorical_crossentropy", "softmax", 3),
])
def test_evaluate_matches_the_reference(dtype, loss, output, units):
    random = np.random.default_rng(7)
    n = 2100  # more than one block of evaluation buffers
    X = random.normal(size=(n, 3)).astype(dtype)
    labels = random.integers(0, max(units, 2), n)
    if loss == "binary_crossentropy":
        y, Y = labels, labels.reshape(-1, 1).astype(float)
    elif loss == "mse":
        y = random.normal(size=(n, units))
        Y = y
    else:
        Y = np.eye(units)[labels]
        y = labels if loss.startswith("sparse") else Y
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(units, activation=output)],
                     input_dim=3, dtype=dtype, seed=0)
    metrics = ["accuracy"] if loss != "mse" else ["mae", "mse"]
    model.compile(loss=loss, metrics=metrics)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    sample_weight = random.uniform(0, 2, n)

    for given_weight in (None, sample_weight):
        result = model.evaluate(X, y, sample_weight=given_weight, verbose=0, return_dict=True)
        assert set(result) == {"loss"} | set(metrics)
        assert all(isinstance(v, float) for v in result.values())
        reference_loss = "mean_squared_error" if loss == "mse" else (
            "categorical_crossentropy" if "categorical" in loss else loss)
        Zs, As = reference.forward(weights, ["tanh", output], X.astype(np.float64))
        loss_sum, _ = reference.loss_and_output_delta(reference_loss, output, Zs[-1], As[-1], Y,
                                                      given_weight)
        rtol = 1e-10 if dtype == "float64" else 1e-4
        assert result["loss"] == pytest.approx(loss_sum / n, rel=rtol)
        A = As[-1]
        if loss == "binary_crossentropy":
            assert result["accuracy"] == pytest.approx(np.mean((A[:, 0] > 0.5) == labels),
                                                       rel=rtol)
        elif loss == "mse":
            assert result["mae"] == pytest.approx(np.abs(A - Y).mean(), rel=rtol)
            assert result["mse"] == pytest.approx(((A - Y) ** 2).mean(), rel=rtol)
        else:
            assert result["accuracy"] == pytest.approx(np.mean(A.argmax(1) == labels), rel=rtol)


def test_evaluate_equals_the_last_epochs_validation_values():
    X, y = blobs()
    model = binary_model(metrics=["accuracy", "mae"])
    history = model.fit(X[:30], y[:30], epochs=6, batch_size=8,
                        validation_data=(X[30:], y[30:]), verbose=0)
    result = model.evaluate(X[30:], y[30:], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(result["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == pytest.approx(result["accuracy"], rel=1e-12)
    assert history.history["val_mae"][-1] == pytest.approx(result["mae"], rel=1e-12)


# ---------------------------------------------------------- summary, History
def test_summary_prints_layers_and_parameter_counts(capsys):
    model = fa.Model([fa.Dense(4, activation="relu", name="hidden"),
                      fa.Dense(3, activation="softmax", name="out")], dtype="float64")
    model.summary()
    unbuilt = capsys.readouterr().out
    assert "unknown until the input size is known" in unbuilt
    assert "hidden (Dense)" in unbuilt and "?" in unbuilt

    model = fa.Sequential([fa.Input(shape=(30,)), fa.Dense(40, activation="relu", name="h"),
                           fa.Dense(3, activation="softmax", name="o")], name="net",
                          dtype="float64")
    model.summary()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == 'Model: "net"'
    first = next(line for line in lines if "h (Dense)" in line)
    second = next(line for line in lines if "o (Dense)" in line)
    assert "(None, 40)" in first and first.split()[-2] == "1,240"
    assert "(None, 3)" in second and second.split()[-2] == "123"
    assert " Total params: 1,363 (10.65 KB)" in out  # float64: 8 bytes each
    assert " Trainable params: 1,363 (10.65 KB)" in out
    assert " Non-trainable params: 0 (0.00 B)" in out and "Optimizer" not in out
    assert model.count_params() == 1363
    printed = []
    model.summary(print_fn=printed.append)  # the whole text at once, as Keras 3
    assert printed == [out.rstrip("\n")]


OPTIMIZERS_IN_SUMMARY = {  # Keras 3's optimizer variables per weight, plus its counters
    "adam": lambda library: "adam",
    "sgd": lambda library: library.optimizers.SGD(),
    "sgd_momentum": lambda library: library.optimizers.SGD(momentum=0.9),
    "amsgrad": lambda library: library.optimizers.Adam(amsgrad=True),
    "nadam": lambda library: library.optimizers.Nadam(),
    "rmsprop_centered": lambda library: library.optimizers.RMSprop(centered=True),
    "rmsprop_momentum_centered": lambda library: library.optimizers.RMSprop(
        momentum=0.5, centered=True),
    "adagrad": lambda library: library.optimizers.Adagrad(),
    "adamax": lambda library: library.optimizers.Adamax(),
}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS_IN_SUMMARY))
def test_summary_is_keras_table(capsys, optimizer):
    """The same text as Keras 3's summary, before and after the optimizer's first step."""
    keras = pytest.importorskip("keras")
    X, y = np.random.default_rng(0).random((16, 3)), np.arange(16) % 2
    texts = {}
    for name, library in (("fastann", fa), ("keras", keras)):
        model = library.Sequential([library.Input(shape=(3,)),
                                    library.layers.Dense(4, activation="relu", name="h"),
                                    library.layers.Dense(1, activation="sigmoid", name="o")],
                                   name="net")
        model.compile(optimizer=OPTIMIZERS_IN_SUMMARY[optimizer](library),
                      loss="binary_crossentropy")
        printed = []
        model.summary(print_fn=printed.append, line_length=76)
        model.fit(X.astype("float32"), y, epochs=1, verbose=0)
        model.summary(print_fn=printed.append, line_length=76)
        texts[name] = ["\n".join(line.rstrip() for line in text.strip("\n").splitlines())
                       for text in printed]
    assert texts["fastann"] == texts["keras"]
    if optimizer == "adam":
        assert "Optimizer params: 44 (176.00 B)" in texts["fastann"][1]


@pytest.mark.parametrize("line_length", [76, 60])
def test_summary_wraps_long_cells_as_keras(line_length):
    """A name and type longer than their column wrap at the space; a word longer than
    the column is cut with an ellipsis, as rich draws Keras' table."""
    keras = pytest.importorskip("keras")
    texts = {}
    for name, library in (("fastann", fa), ("keras", keras)):
        model = library.Sequential([
            library.Input(shape=(3,)), library.layers.Dense(4, name="dense"),
            library.layers.BatchNormalization(name="batch_normalization"),
            library.layers.Dense(1, name="a_very_long_layer_name_for_the_summary_table")],
            name="net")
        printed = []
        model.summary(print_fn=printed.append, line_length=line_length)
        texts[name] = "\n".join(line.rstrip() for line in printed[0].strip("\n").splitlines())
    assert texts["fastann"] == texts["keras"]
    assert "│ (BatchNormalization)" in texts["fastann"]


def test_history_has_one_value_per_epoch_per_key():
    X, y = blobs()
    model = binary_model(metrics=["accuracy", "mae"])
    history = model.fit(X, y, epochs=37, batch_size=8, validation_split=0.25, verbose=0)
    assert model.history is history
    assert set(history.history) == {"loss", "accuracy", "mae", "val_loss", "val_accuracy",
                                    "val_mae"}
    for values in history.history.values():
        assert len(values) == 37 and all(isinstance(v, float) for v in values)
        assert np.isfinite(values).all()
    assert history.epoch == list(range(37))
    assert all(0 <= v <= 1 for v in history.history["val_accuracy"])
    # accuracies of 30 training rows and 10 validation rows are multiples of 1/30 and 1/10
    assert all(abs(v * 30 - round(v * 30)) < 1e-9 for v in history.history["accuracy"])
    assert all(abs(v * 10 - round(v * 10)) < 1e-9 for v in history.history["val_accuracy"])
    no_metrics = binary_model(metrics=[]).fit(X, y, epochs=3, verbose=0)
    assert list(no_metrics.history) == ["loss"]


def test_verbose_2_prints_keras_lines_per_epoch_and_0_prints_nothing(capsys):
    X, y = blobs()
    model = binary_model()
    model.fit(X, y, epochs=5, verbose=0)
    assert capsys.readouterr().out == ""
    history = model.fit(X, y, epochs=12, batch_size=8, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 24
    steps = -(-int(len(X) * 0.75) // 8)
    for epoch in range(1, 13):
        head, line = lines[2 * epoch - 2], lines[2 * epoch - 1]
        assert head == f"Epoch {epoch}/12"
        assert re.fullmatch(rf"{steps}/{steps} - \d+s - \d+(us|ms|s)/step - accuracy: \S+ - "
                            r"loss: \S+ - val_accuracy: \S+ - val_loss: \S+", line), line
        assert f"loss: {history.history['loss'][epoch - 1]:.4f}" in line


def test_verbose_1_draws_a_live_line_on_a_terminal(capsys, monkeypatch):
    X, y = blobs()
    monkeypatch.setattr(model_module, "_is_terminal", lambda: True)
    binary_model().fit(X, y, epochs=300, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("\rEpoch ") and "Epoch 300/300" in out and "epochs/s" in out
    assert out.endswith("\n") and out.count("\n") == 1


# --------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("batch_size, shuffle", [(None, False), (8, True)])
def test_ctrl_c_stops_fit_with_the_weights_of_the_last_completed_epoch(batch_size, shuffle):
    X, y = blobs(n_samples=64, n_features=8)

    def build():
        model = fa.Model([fa.Dense(16, activation="relu"), fa.Dense(1, activation="sigmoid")],
                         input_dim=8, dtype="float64", seed=3)
        model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.01, momentum=0.9),
                      metrics=["accuracy"])
        return model

    build().fit(X, y, epochs=2, batch_size=batch_size, verbose=0)  # compile outside the timing
    model = build()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            timer.start()
            history = model.fit(X, y, epochs=10**9, batch_size=batch_size, shuffle=shuffle,
                                verbose=0)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped from fit")
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)

    done = model.epochs_trained
    assert 0 < done < 10**9
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert messages == [f"fit interrupted: the model keeps the weights of epoch {done}, and "
                        "History holds the epochs up to it"]
    assert len(history.history["loss"]) == len(history.history["accuracy"]) == done
    assert history.epoch == list(range(done))
    assert model.history is history

    fresh = build()
    fresh_history = fresh.fit(X, y, epochs=done, batch_size=batch_size, shuffle=shuffle,
                              verbose=0)
    assert_same_weights(model, fresh)
    assert fresh_history.history == history.history
    # and training goes on from there as if never interrupted
    for m in (model, fresh):
        m.fit(X, y, epochs=3, batch_size=batch_size, shuffle=shuffle, verbose=0)
    assert_same_weights(model, fresh)


@pytest.fixture
def python_sigint_handler():
    """Python's own SIGINT handler for the test, the previous one restored after. A
    process started in the background by a non-interactive shell inherits SIGINT
    ignored, and Python then installs no handler (nor does fit, see below): .ci/run
    launched that way failed the test below (the handler was SIG_IGN)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class InterruptAt(fa.Callback):
    """Raises SIGINT ``times`` times at the end of epoch ``epoch``."""

    def __init__(self, epoch, times=1):
        self.epoch, self.times, self.finished = epoch, times, False

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)
            self.finished = True  # the Python code under way is not cut short


def _interruptible_model():
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=2, seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    return model, np.eye(4)[:, :2] + 0.5, np.array([0, 1, 0, 1])


def test_ctrl_c_between_kernel_calls_is_deferred_and_a_second_one_still_raises(
        python_sigint_handler):
    """A SIGINT that arrives while fit is in Python (here: in a callback) stops training
    after that chunk; the handler fit installs is removed afterwards."""
    model, X, y = _interruptible_model()
    once = InterruptAt(2)
    with pytest.warns(RuntimeWarning, match="fit interrupted"):
        history = model.fit(X, y, epochs=100, verbose=0, callbacks=[once])
    assert once.finished
    assert model.epochs_trained == len(history.history["loss"]) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    with pytest.raises(KeyboardInterrupt):  # the second one raises, History is kept
        model.fit(X, y, epochs=100, verbose=0, callbacks=[InterruptAt(0, times=2)])
    assert len(model.history.history["loss"]) == 1 and model.epochs_trained == 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_leaves_an_ignored_or_custom_sigint_alone():
    """A program that ignores SIGINT, or handles it itself, keeps its handler: fit
    installs none and trains on."""
    model, X, y = _interruptible_model()
    seen = []
    for handler in (signal.SIG_IGN, lambda signum, frame: seen.append(signum)):
        previous = signal.signal(signal.SIGINT, handler)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no "fit interrupted"
                history = model.fit(X, y, epochs=5, verbose=0, callbacks=[InterruptAt(1)])
            assert signal.getsignal(signal.SIGINT) is handler
        finally:
            signal.signal(signal.SIGINT, previous)
        assert len(history.history["loss"]) == 5
    assert seen == [signal.SIGINT]


def test_divergence_in_the_first_epoch_leaves_empty_history_keys_and_ends_callbacks(capsys):
    X = np.random.default_rng(0).normal(size=(8, 2)) * 1e200
    model = fa.Model([fa.Dense(1)], input_dim=2, dtype="float64", seed=0)
    model.compile(loss="mse", optimizer=fa.SGD(lr=0.1), metrics=["mae"])
    ended = []

    class Ends(fa.Callback):
        def on_train_end(self, logs=None):
            ended.append(True)

    with pytest.raises(FloatingPointError, match="diverged"):
        model.fit(X, np.ones(8), epochs=3, verbose=1, callbacks=[Ends()])
    assert model.epochs_trained == 0
    assert model.history.history == {"loss": [], "mae": []}
    assert ended == [True]
