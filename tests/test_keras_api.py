"""Keras 3 semantics of fastann's model surface: signatures (checked against the installed
Keras 3), defaults, return types, Sequential building, configs, namespaces, seeds, and
clear refusals of what fastann does not support."""
import dataclasses
import inspect
import io
import json
import math
import re
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest

import fastann as fa
from fastann import layers
from fastann.layers import Dense


def blobs(n=60, n_features=3, seed=0):
    random = np.random.default_rng(seed)
    X = random.normal(size=(n, n_features))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    return X, y


def binary(seed=0, **kwargs):
    model = fa.Sequential([layers.Dense(8, activation="relu", input_shape=(3,)),
                           layers.Dense(1, activation="sigmoid")], seed=seed, **kwargs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


# ------------------------------------------------------------- signatures
def _parameters(function):
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()
            if p.name != "self" and p.kind is not p.VAR_KEYWORD]


@pytest.fixture(scope="module")
def keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("method", ["compile", "fit", "evaluate", "predict"])
def test_signatures_are_keras_3s(keras, method):
    ours = _parameters(getattr(fa.Model, method))
    theirs = _parameters(getattr(keras.Model, method))
    assert ours == theirs


def test_sequential_signature_is_keras_3s(keras):
    ours = [name for name, _ in _parameters(fa.Sequential.__init__)][:3]
    theirs = [name for name, _ in _parameters(keras.Sequential.__init__)]
    assert ours == theirs == ["layers", "trainable", "name"]


def test_positional_order_is_keras_order():
    X, y = blobs()
    model = fa.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1,
                                                                            activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", None, ["accuracy"])
    assert model.optimizer.name == "sgd" and model.loss == "binary_crossentropy"
    history = model.fit(X, y, 8, 3, 0)  # batch_size, epochs, verbose
    assert history.params == {"verbose": 0, "epochs": 3, "steps": math.ceil(60 / 8)}
    assert len(history.history["loss"]) == 3 == model.epochs_trained


def test_compile_defaults_and_keywords_in_any_order():
    model = fa.Sequential([layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    assert model.optimizer.name == "rmsprop"  # Keras' default
    assert model.metrics_names == ["loss"]  # Keras adds no metric
    model.compile(metrics="accuracy", loss="binary_crossentropy", optimizer=fa.SGD(0.1),
                  run_eagerly=False, steps_per_execution=4, jit_compile=True,
                  auto_scale_loss=False, weighted_metrics=None)
    assert model.metrics_names == ["loss", "accuracy"] and model.optimizer.lr == 0.1
    assert model.get_compile_config()["loss"] == "binary_crossentropy"


def test_batch_size_none_is_32_and_full_batch_has_spellings():
    X, y = blobs(n=100)
    runs = {}
    for key, batch_size in [("none", None), ("32", 32), ("full", "full"), ("len", len(X))]:
        model = binary(seed=5)
        history = model.fit(X, y, batch_size=batch_size, epochs=2, verbose=0)
        runs[key] = (model, history.params["steps"])
    assert runs["none"][1] == runs["32"][1] == 4 and runs["full"][1] == runs["len"][1] == 1
    assert same_weights(runs["none"][0], runs["32"][0])
    assert same_weights(runs["full"][0], runs["len"][0])
    assert not same_weights(runs["none"][0], runs["full"][0])


def test_verbose_accepts_booleans_and_auto():
    X, y = blobs()
    out = io.StringIO()
    with redirect_stdout(out):
        binary().fit(X, y, epochs=2, verbose=False)
    assert out.getvalue() == ""
    for verbose in (True, "auto", 1):
        out = io.StringIO()
        with redirect_stdout(out):
            history = binary().fit(X, y, epochs=2, verbose=verbose)
        assert out.getvalue().startswith("Epoch 1/2\n") and history.params["verbose"] == verbose  # as given, as Keras


def test_initial_epoch_trains_the_epochs_left_and_numbers_them_as_keras():
    X, y = blobs()
    model = binary()
    out = io.StringIO()
    with redirect_stdout(out):
        history = model.fit(X, y, epochs=5, initial_epoch=3, verbose=2)
    assert model.epochs_trained == 2 and len(history.history["loss"]) == 2
    heads = [line for line in out.getvalue().splitlines() if line.startswith("Epoch")]
    assert heads == ["Epoch 4/5", "Epoch 5/5"]
    assert len(binary().fit(X, y, epochs=2, initial_epoch=2, verbose=0).history["loss"]) == 0


def test_evaluate_returns_a_float_a_list_or_a_dict():
    X, y = blobs()
    model = binary()
    model.fit(X, y, epochs=3, verbose=0)
    values = model.evaluate(X, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2
    loss, accuracy = values
    assert model.evaluate(X, y, verbose=0, return_dict=True) == {"loss": loss,
                                                                 "accuracy": accuracy}
    regression = fa.Sequential([layers.Dense(1, input_dim=3)], seed=0)
    regression.compile(optimizer="sgd", loss="mse")
    result = regression.evaluate(X, y, verbose=0)
    assert isinstance(result, float)
    out = io.StringIO()
    with redirect_stdout(out):
        model.evaluate(X, y, batch_size=20)
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - accuracy: \S+ - loss: \S+\n",
                        out.getvalue())


def test_predict_returns_outputs_in_the_model_dtype():
    X, y = blobs()
    for dtype in ("float32", "float64"):
        model = binary(dtype=dtype)
        model.fit(X, y, epochs=2, verbose=0)
        out = model.predict(X, verbose=0)
        assert out.dtype == np.dtype(dtype) and out.shape == (60, 1)
        assert ((out > 0) & (out < 1)).all()
        np.testing.assert_array_equal(out, model.predict_proba(X))
        np.testing.assert_array_equal(model.predict_classes(X), (out[:, 0] > 0.5).astype(int))
    softmax = fa.Sequential([layers.Dense(3, activation="softmax", input_dim=3)], seed=0)
    rows = softmax.predict(X, verbose=0)
    np.testing.assert_allclose(rows.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(softmax.predict_classes(X), rows.argmax(axis=1))


def test_a_100000_epoch_run_prints_a_bounded_number_of_lines():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([0, 0, 0, 1])
    model = fa.Sequential([layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(optimizer=fa.SGD(0.1), loss="binary_crossentropy")
    out = io.StringIO()
    with redirect_stdout(out):
        model.fit(X, y, epochs=100_000, batch_size=4)
    lines = out.getvalue().splitlines()
    heads = [int(re.fullmatch(r"Epoch (\d+)/100000", line).group(1)) for line in lines[0::2]]
    assert all(re.fullmatch(r"1/1 - \d+s - .*loss: \S+", line) for line in lines[1::2])
    assert heads[:30] == list(range(1, 31)) and heads[-1] == 100_000
    assert heads == sorted(heads) and len(heads) < 400


# ------------------------------------------------------------- Sequential
def test_sequential_is_the_model_class_with_add_pop_and_input():
    model = fa.Sequential(name="net")
    assert isinstance(model, fa.Model) and model.layers == () and model.name == "net"
    model.add(fa.Input(shape=(3,)))
    model.add(layers.Dense(4, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.input_dim == 3 and model.count_params() == 4 * 4 + 5
    popped = model.pop()
    assert popped.units == 1 and model.count_params() == 16
    model.add(layers.Dense(2, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    X, y = blobs()
    model.fit(X, y.astype(int), epochs=1, verbose=0)
    assert model.predict(X, verbose=0).shape == (60, 2)


def test_first_layer_input_shape_or_input_dim_and_model_keywords():
    a = fa.Sequential([layers.Dense(2, input_shape=(3,))], seed=1, dtype="float64")
    b = fa.Sequential([layers.Dense(2, input_dim=3)], seed=1, dtype="float64")
    c = fa.Model([layers.Dense(2)], input_dim=3, dtype="float64", seed=1)
    assert a.input_dim == b.input_dim == c.input_dim == 3 and a.dtype == np.float64
    assert same_weights(a, b) and same_weights(a, c)
    with pytest.raises(ValueError, match=r"input_shape=\(2,\) and input_dim=3 disagree"):
        layers.Dense(1, input_shape=(2,), input_dim=3)


def test_set_random_seed_makes_unseeded_models_reproducible():
    X, y = blobs()
    runs = []
    for _ in range(2):
        fa.utils.set_random_seed(7)
        data_noise = np.random.rand(3)
        first, second = binary(seed=None), binary(seed=None)
        first.fit(X, y, epochs=3, verbose=0)
        runs.append((data_noise, first, second))
    (noise_a, a1, a2), (noise_b, b1, b2) = runs
    np.testing.assert_array_equal(noise_a, noise_b)  # NumPy's global generator too
    assert a1.seed == b1.seed and a2.seed == b2.seed and a1.seed != a2.seed
    assert same_weights(a1, b1) and same_weights(a2, b2)
    with pytest.raises(ValueError, match=r"set_random_seed seed must be an int"):
        fa.utils.set_random_seed(-1)


def test_flatten_reshapes_multi_axis_samples():
    X, y = blobs(n_features=6)
    flat = fa.Sequential([fa.Input(shape=(2, 3)), layers.Flatten(),
                          layers.Dense(1, activation="sigmoid")], seed=3)
    plain = fa.Sequential([layers.Dense(1, activation="sigmoid", input_dim=6)], seed=3)
    for model in (flat, plain):
        model.compile(optimizer="adam", loss="binary_crossentropy")
    flat.fit(X.reshape(-1, 2, 3), y, epochs=2, verbose=0)
    plain.fit(X, y, epochs=2, verbose=0)
    assert same_weights(flat, plain)
    np.testing.assert_array_equal(flat.predict(X.reshape(-1, 2, 3), verbose=0),
                                  plain.predict(X, verbose=0))
    assert flat.input_shape == (None, 2, 3) and len(flat.layers) == 2
    with pytest.raises(ValueError, match=r"x must have samples of shape \(2, 3\)"):
        flat.predict(X.reshape(-1, 3, 2), verbose=0)
    with pytest.raises(fa.NotSupportedError, match=r"saving a model with a Flatten"):
        flat.save("never-written.npz")
    assert not __import__("os").path.exists("never-written.npz")


# ---------------------------------------------------------- weights, config
def test_weights_of_the_model_and_of_each_layer():
    model = binary()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 8), (8,), (8, 1), (1,)]
    assert all(np.array_equal(a, b) for a, b in zip(model.weights, weights))
    hidden = model.layers[0]
    kernel, bias = hidden.get_weights()
    np.testing.assert_array_equal(kernel, weights[0])
    hidden.set_weights([np.ones((3, 8)), np.full(8, 0.5)])
    assert (model.get_weights()[0] == 1).all() and (model.get_weights()[1] == 0.5).all()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"must have shape \(8,\)"):
        hidden.set_weights([np.ones((3, 8)), np.ones(3)])
    assert same_weights(model, type("M", (), {"get_weights": lambda self: before})())
    with pytest.raises(RuntimeError, match=r"not part of a built model"):
        layers.Dense(2).get_weights()


def test_get_config_from_config_and_json_round_trip():
    model = binary(seed=11, dtype="float64")
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["layers"][0] == {"class_name": "Dense", "config": model.layers[0].get_config()}
    again = fa.Sequential.from_config(config)
    assert type(again) is fa.Sequential and again.layers == model.layers
    assert same_weights(again, fa.Sequential.from_config(config)) and same_weights(again, model)
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Sequential"
    rebuilt = fa.models.model_from_json(text)
    assert rebuilt.get_config() == config and same_weights(rebuilt, model)
    clone = fa.models.clone_model(model)
    assert clone.get_config() == config
    with pytest.raises(ValueError, match=r"unknown keys \['bogus'\]"):
        layers.Dense.from_config({"units": 1, "bogus": 2})
    with pytest.raises(fa.NotSupportedError, match=r"the layer class 'Conv2D'"):
        layers.Layer.from_config({"class_name": "Conv2D", "config": {}})


def test_a_new_layer_field_appears_in_the_config_by_itself():
    @dataclasses.dataclass(frozen=True)
    class TaggedDense(Dense):
        tag: str = "x"

    layer = TaggedDense(2, tag="hello")
    config = layer.get_config()
    assert config["tag"] == "hello" and config["units"] == 2
    assert layers.Layer.from_config({"class_name": "TaggedDense", "config": config}) == layer
    del layers.LAYER_CLASSES["TaggedDense"]


def test_state_attributes_keras_reads():
    X, y = blobs()
    model = binary()
    assert model.stop_training is False and model.history is None
    history = model.fit(X, y, epochs=2, verbose=0)
    assert model.history is history and model.optimizer.name == "adam"
    assert model.loss == "binary_crossentropy"
    state = model.get_training_state()
    assert state.epochs == 2 and state.params.shape == (model.count_params(),)
    model.fit(X, y, epochs=3, verbose=0)
    twin = binary()
    twin.set_training_state(state)
    twin.fit(X, y, epochs=3, verbose=0)
    assert same_weights(model, twin)


# ------------------------------------------------------------- namespaces
def test_keras_namespaces_import_as_in_keras():
    from fastann.callbacks import BackupAndRestore, CSVLogger, EarlyStopping  # noqa: F401
    from fastann.layers import Dense, Flatten, Input, InputLayer  # noqa: F401
    from fastann.models import Sequential, load_model, model_from_json  # noqa: F401
    from fastann.optimizers import SGD, Adam, RMSprop  # noqa: F401
    from fastann.utils import set_random_seed, to_categorical
    for name in ("layers", "optimizers", "losses", "metrics", "callbacks", "activations",
                 "initializers", "models", "utils"):
        assert inspect.ismodule(getattr(fa, name))
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert fa.Sequential is Sequential and fa.layers.Dense is Dense


# ------------------------------------------------------------ unsupported
@pytest.mark.parametrize("name", ["Conv2D", "LSTM", "Embedding", "MaxPooling2D"])
def test_keras_only_layers_say_fastann_does_not_support_them(name):
    with pytest.raises(fa.NotSupportedError, match=rf"fastann does not support the Keras "
                                                   rf"layer {name}"):
        getattr(layers, name)
    with pytest.raises(AttributeError):
        layers.NoSuchThing  # noqa: B018


def test_functional_api_and_refused_calls_leave_the_model_unchanged():
    with pytest.raises(fa.NotSupportedError, match=r"the functional API"):
        layers.Dense(2)(fa.Input(shape=(3,)))
    with pytest.raises(fa.NotSupportedError, match=r"the functional API"):
        fa.Model(fa.Input(shape=(3,)))
    X, y = blobs()
    model = binary()
    model.fit(X, y, epochs=2, verbose=0)
    weights, optimizer, epochs = model.get_weights(), model.optimizer, model.epochs_trained
    refusals = [
        lambda: model.compile(optimizer="adam", loss=lambda t, p: 0),
        lambda: model.compile(optimizer="adam", loss="mse", loss_weights=[0.5]),
        lambda: model.compile(optimizer="adam", loss="mse", run_eagerly=True),
        lambda: model.compile(optimizer="adam", loss="binary_crossentropy",
                              metrics=[lambda t, p: 0]),
        lambda: model.fit(X, y, steps_per_epoch=2, verbose=0),
        lambda: model.fit(X, y, validation_freq=2, verbose=0),
        lambda: model.predict(X, steps=1),
        lambda: model.evaluate(X, y, callbacks=[fa.Callback()]),
    ]
    for refused in refusals:
        with pytest.raises(fa.NotSupportedError, match=r"fastann does not support"):
            refused()
    assert same_weights(model, type("M", (), {"get_weights": lambda self: weights})())
    assert model.optimizer is optimizer and model.epochs_trained == epochs
    assert model.loss == "binary_crossentropy"


def test_utils_normalize_is_keras(keras):
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    for axis, order in ((-1, 2), (1, 1), (-1, np.inf)):
        np.testing.assert_allclose(fa.utils.normalize(x, axis, order),
                                   keras.utils.normalize(x, axis, order), rtol=1e-12)
    with pytest.raises(ValueError, match="normalize axis"):
        fa.utils.normalize(x, axis=2)


def test_compile_without_metrics_evaluates_to_the_loss_alone(keras):
    """Keras adds no metric of its own: evaluate returns a float, History has the loss."""
    X = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    y = (X[:, 0] > 0).astype("float32")
    for loss in ("binary_crossentropy", "mse"):
        model = fa.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
        model.compile(optimizer="adam", loss=loss)
        history = model.fit(X, y, epochs=2, verbose=0, validation_split=0.25)
        assert sorted(history.history) == ["loss", "val_loss"]
        assert isinstance(model.evaluate(X, y, verbose=0), float)
