"""Keras 3's namespaces as fastann spells them: every name Keras has either exists or
raises NotSupportedError; the classes take Keras' arguments in Keras' positions (checked
against the installed Keras); the functions (activations, losses, metrics) compute
Keras' values with NumPy; and Keras' spellings go through Dense and compile."""
import inspect
import os

import numpy as np
import pytest

import fastann as fa
from fastann import (activations, backend, initializers, layers, losses, metrics,
                     regularizers, utils)

TOLERANCE = dict(rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


NAMESPACES = {"": fa, "layers": layers, "losses": losses, "metrics": metrics,
              "initializers": initializers, "regularizers": regularizers,
              "activations": activations, "utils": utils, "backend": backend}
# fastann.optimizers and fastann.callbacks are checked by their own tests.


def _keras_namespace(keras, path):
    return keras if not path else getattr(keras, path)


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_") and n != "src")


# ---------------------------------------------------------------- namespaces
@pytest.mark.parametrize("path", NAMESPACES)
def test_every_keras_name_exists_or_says_it_is_not_supported(keras, path):
    ours = NAMESPACES[path]
    missing = []
    for name in _public(_keras_namespace(keras, path)):
        try:
            getattr(ours, name)
        except fa.NotSupportedError as error:
            assert f"fastann does not support the Keras " in str(error)
        except AttributeError:
            missing.append(name)
    assert missing == []


@pytest.mark.parametrize("path", NAMESPACES)
def test_names_keras_lacks_are_plain_attribute_errors(path):
    module = NAMESPACES[path]
    with pytest.raises(AttributeError) as caught:
        module.no_such_name  # noqa: B018
    assert not isinstance(caught.value, fa.NotSupportedError)
    assert not hasattr(module, "no_such_name")
    assert set(module.KERAS_ONLY).isdisjoint(vars(module))  # a refused name is missing


def test_refused_names_keep_their_message_through_from_imports():
    with pytest.raises(fa.NotSupportedError, match="the Keras layer Conv2D"):
        from fastann.layers import Conv2D  # noqa: F401
    with pytest.raises(fa.NotSupportedError, match="the Keras API datasets"):
        from fastann import datasets  # noqa: F401
    for use in (lambda: fa.ops.sum, lambda: fa.config.floatx(),
                lambda: losses.CosineSimilarity(), lambda: metrics.F1Score(), lambda: activations.celu,
                lambda: initializers.Orthogonal(), lambda: regularizers.OrthogonalRegularizer,
                lambda: utils.Progbar, lambda: backend.set_floatx("float64")):
        with pytest.raises(fa.NotSupportedError, match="fastann does not support the Keras"):
            use()


# ---------------------------------------------------------------- signatures
def _arguments(function):
    """[(name, kind, default)] of ``function``'s explicit parameters (not self/**)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def _positional(arguments):
    return [name for name, kind, _ in arguments
            if kind in (inspect.Parameter.POSITIONAL_ONLY,
                        inspect.Parameter.POSITIONAL_OR_KEYWORD)]


def _fastann_classes():
    found = [("layers", cls) for cls in layers.LAYER_CLASSES.values()]
    found += [("losses", cls) for cls in losses.CLASSES.values()]
    found += [("metrics", cls) for cls in metrics._BY_CLASS_NAME.values()]
    found += [("initializers", cls) for cls in set(initializers._BY_CLASS_NAME.values())]
    found += [("regularizers", cls) for cls in regularizers.CLASSES.values()]
    return sorted(found, key=lambda item: (item[0], item[1].__name__))


@pytest.mark.parametrize("path, cls", _fastann_classes(),
                         ids=lambda item: getattr(item, "__name__", item))
def test_classes_take_keras_arguments_in_keras_positions(keras, path, cls):
    theirs_class = getattr(getattr(keras, path), cls.__name__, None)
    if theirs_class is None:
        pytest.skip(f"{cls.__name__} is fastann's own")
    theirs, ours = _arguments(theirs_class.__init__), _arguments(cls)
    # A positional call means what it means in Keras, as far as fastann's positions go
    # (fastann may add positions after Keras' last, or make Keras' last ones keywords).
    their_positions, our_positions = _positional(theirs), _positional(ours)
    shared = min(len(their_positions), len(our_positions))
    assert our_positions[:shared] == their_positions[:shared]
    defaults = {name: default for name, _, default in ours}
    for name, _, default in theirs:
        assert name in defaults, f"{cls.__name__} lacks Keras' {name}"
        if name != "name" and default is not inspect.Parameter.empty:
            # fastann's name=None is Keras' default name
            assert defaults[name] == default, name
    if path == "layers":  # Keras' base Layer keywords
        assert {"name", "trainable"} <= set(defaults)


@pytest.mark.parametrize("path, table", [("losses", losses.FUNCTIONS),
                                         ("metrics", metrics.FUNCTIONS),
                                         ("activations", activations._NAMED)])
def test_functions_have_keras_signatures(keras, path, table):
    compared = 0
    for name, function in table.items():
        theirs = getattr(getattr(keras, path), name, None)
        if theirs is None:  # fastann's own (step, identity)
            continue
        assert _arguments(function) == _arguments(theirs), name
        compared += 1
    assert compared >= len(table) - 2


def test_input_has_keras_signature(keras):
    assert _arguments(layers.Input) == _arguments(keras.Input)
    assert fa.Input is layers.Input


# ---------------------------------------------------------------- activations
def test_activations_compute_keras_values(keras):
    x = np.linspace(-7, 7, 24, dtype=np.float32).reshape(4, 6)
    for name in activations.names():
        if not hasattr(keras.activations, name):
            continue
        ours = activations.get(name)
        assert ours is getattr(activations, name) and ours.__name__ == name
        np.testing.assert_allclose(ours(x), keras.activations.get(name)(x), **TOLERANCE,
                                   err_msg=name)
        assert ours(x).dtype == np.float32 and ours(x).shape == x.shape
    np.testing.assert_allclose(activations.leaky_relu(x, negative_slope=0.1),
                               keras.activations.leaky_relu(x, negative_slope=0.1), **TOLERANCE)
    np.testing.assert_allclose(activations.softmax(x[0]), keras.activations.softmax(x[0]),
                               **TOLERANCE)
    with pytest.raises(fa.NotSupportedError, match=r"max_value=6 in activations.relu"):
        activations.relu(x, max_value=6)
    with pytest.raises(TypeError):
        activations.relu(x, slope=1)  # not a Keras argument either


def test_activation_get_serialize_and_layer_arguments(keras):
    assert activations.get(None) is activations.linear
    assert activations.get("ReLU") is activations.relu
    assert activations.get(keras.activations.relu) is activations.relu
    assert activations.serialize(activations.relu) == "relu"
    assert activations.deserialize("sigmoid") is activations.sigmoid
    assert activations.deserialize({"class_name": "function", "config": "tanh"}) is \
        activations.tanh
    for given in (activations.relu, keras.activations.relu, "relu"):
        layer = layers.Dense(3, activation=given, name="d")
        assert layer == layers.Dense(3, activation="relu", name="d")
        assert layer.get_config()["activation"] == "relu"
        assert layers.Activation(given).activation == "relu"
    def my_relu(x):
        return np.maximum(x, 0)

    with pytest.raises(fa.NotSupportedError, match=r"a callable activation \(my_relu\)"):
        layers.Dense(3, activation=my_relu)
    with pytest.raises(fa.NotSupportedError, match=r"a callable activation \(hard_silu\)"):
        layers.Dense(3, activation=keras.activations.hard_silu)


# --------------------------------------------------------------------- losses
def _loss_cases(generator):
    """(function name, keyword arguments, y_true, y_pred) for every loss function."""
    probabilities = generator.uniform(0.05, 0.95, (6, 3))
    softmax = probabilities / probabilities.sum(axis=1, keepdims=True)
    labels = generator.integers(0, 3, 6)
    binary = (generator.uniform(size=(6, 3)) > 0.5).astype(float)
    values = generator.normal(size=(6, 3))
    return [
        ("binary_crossentropy", {}, binary, probabilities),
        ("binary_crossentropy", {"from_logits": True}, binary, values),
        ("categorical_crossentropy", {}, np.eye(3)[labels], softmax),
        ("categorical_crossentropy", {"from_logits": True}, np.eye(3)[labels], values),
        ("sparse_categorical_crossentropy", {}, labels, softmax),
        ("sparse_categorical_crossentropy", {"from_logits": True}, labels, values),
        ("binary_focal_crossentropy", {}, binary, probabilities),
        ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": 0.4,
                                       "gamma": 1.5}, binary, probabilities),
        ("binary_focal_crossentropy", {"from_logits": True}, binary, values),
        ("mean_squared_error", {}, values, values[::-1]),
        ("mean_absolute_error", {}, values, values[::-1]),
        ("huber", {}, values, 2 * values[::-1]),
        ("huber", {"delta": 0.5}, values, 2 * values[::-1]),
        ("log_cosh", {}, values, values[::-1]),
        ("poisson", {}, np.abs(values), probabilities),
        ("kl_divergence", {}, softmax[::-1], softmax),
        ("hinge", {}, binary, values),
        ("squared_hinge", {}, binary, values),
    ]


def test_loss_functions_compute_keras_per_sample_losses(keras, rng):
    names = set()
    for name, options, y_true, y_pred in _loss_cases(rng):
        ours = getattr(losses, name)(y_true, y_pred, **options)
        theirs = np.asarray(getattr(keras.losses, name)(y_true, y_pred, **options))
        np.testing.assert_allclose(ours, theirs, **TOLERANCE, err_msg=f"{name} {options}")
        assert ours.shape == (6,)
        names.add(name)
    assert names == set(losses.FUNCTIONS)
    # shapes as Keras squeezes them: (n,) targets for (n, 1) outputs, one sample as 1-D
    y, p = np.array([1.0, 2.0]), np.array([[1.5], [2.0]])
    np.testing.assert_allclose(losses.mean_squared_error(y, p),
                               keras.losses.mean_squared_error(y, p), **TOLERANCE)
    assert losses.mean_squared_error(y, p[:, 0]).shape == ()


def test_loss_objects_are_callable_as_keras_batch_losses(keras, rng):
    weight = rng.uniform(0.5, 2.0, 6)
    for name, options, y_true, y_pred in _loss_cases(rng):
        class_name = {cls._entry: cls.__name__ for cls in losses.CLASSES.values()}[name]
        ours = getattr(losses, class_name)(**options)
        theirs = getattr(keras.losses, class_name)(**options)
        for sample_weight in (None, weight):
            assert float(ours(y_true, y_pred, sample_weight)) == pytest.approx(
                float(theirs(y_true, y_pred, sample_weight)), rel=1e-6, abs=1e-6)
        config = ours.get_config()  # Keras' keys (and Huber's delta, which Keras omits)
        assert all(config[key] == value for key, value in theirs.get_config().items())


def test_loss_keywords_at_keras_defaults_are_accepted_others_refused():
    accepted = [losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1,
                                          reduction="sum_over_batch_size", name="bce",
                                          dtype="float32"),
                losses.MeanSquaredError(name="mse", reduction="sum_over_batch_size",
                                        dtype=None),
                losses.SparseCategoricalCrossentropy(ignore_class=None),
                losses.Huber(1.0, "sum_over_batch_size", "h")]
    assert [loss.name for loss in accepted] == ["bce", "mse", "sparse_categorical_crossentropy",
                                                "h"]
    assert losses.Huber().name == "huber_loss"
    for make, option in [(lambda: losses.BinaryCrossentropy(label_smoothing=0.1),
                          "label_smoothing=0.1"),
                         (lambda: losses.MeanSquaredError(reduction=None), "reduction=None"),
                         (lambda: losses.Huber(reduction="none"), "reduction='none'"),
                         (lambda: losses.SparseCategoricalCrossentropy(ignore_class=0),
                          "ignore_class=0"),
                         (lambda: losses.CategoricalCrossentropy(axis=0), "axis=0"),
                         (lambda: losses.binary_crossentropy([[1]], [[0.5]],
                                                             label_smoothing=0.2),
                          "label_smoothing=0.2")]:
        with pytest.raises(fa.NotSupportedError, match=f"does not support {option}"):
            make()


def test_loss_get_serialize_deserialize():
    assert losses.get(losses.binary_crossentropy) is losses.LOSSES["binary_crossentropy"]
    assert losses.get(losses.MeanSquaredError) is losses.LOSSES["mean_squared_error"]
    assert losses.get("mse")(np.ones((2, 1)), np.zeros((2, 1))).tolist() == [1.0, 1.0]
    assert losses.deserialize("mse") is losses.mean_squared_error
    huber = losses.Huber(0.5)
    assert losses.deserialize(losses.serialize(huber)) == huber
    assert losses.serialize(losses.hinge) == "hinge"
    with pytest.raises(fa.NotSupportedError, match=r"a callable loss \(<lambda>\)"):
        losses.get(lambda y, p: 0)


# -------------------------------------------------------------------- metrics
def test_metric_functions_compute_keras_values(keras, rng):
    probabilities = rng.uniform(size=(8, 4))
    labels = rng.integers(0, 4, 8)
    one_hot = np.eye(4)[labels]
    binary = (rng.uniform(size=(8, 1)) > 0.5).astype(float)
    cases = [("binary_accuracy", {}, binary, probabilities[:, :1]),
             ("binary_accuracy", {"threshold": 0.3}, binary, probabilities[:, :1]),
             ("categorical_accuracy", {}, one_hot, probabilities),
             ("sparse_categorical_accuracy", {}, labels, probabilities),
             ("top_k_categorical_accuracy", {"k": 2}, one_hot, probabilities),
             ("sparse_top_k_categorical_accuracy", {"k": 2}, labels, probabilities),
             ("mean_squared_error", {}, one_hot, probabilities),
             ("mean_absolute_error", {}, one_hot, probabilities)]
    for name, options, y_true, y_pred in cases:
        ours = getattr(metrics, name)(y_true, y_pred, **options)
        theirs = np.asarray(getattr(keras.metrics, name)(y_true, y_pred, **options))
        np.testing.assert_allclose(ours, theirs, **TOLERANCE, err_msg=name)
        assert ours.shape == theirs.shape
    assert {case[0] for case in cases} == set(metrics.FUNCTIONS)
    assert metrics.mean_squared_error is losses.mean_squared_error  # as in Keras
    assert metrics.get(keras.metrics.binary_accuracy) == "binary_accuracy"
    assert metrics.serialize(metrics.top_k_categorical_accuracy) == "top_k_categorical_accuracy"
    assert isinstance(metrics.deserialize("auc"), metrics.AUC)


def test_metric_objects_have_keras_stateful_api(keras, rng):
    scores = rng.uniform(size=(40, 1))
    truth = (rng.uniform(size=(40, 1)) < scores).astype(float)
    classes = rng.uniform(size=(40, 5))
    labels = rng.integers(0, 5, 40)
    cases = [("AUC", {}, truth, scores), ("AUC", {"curve": "PR"}, truth, scores),
             ("Precision", {}, truth, scores), ("Recall", {"thresholds": 0.3}, truth, scores),
             ("BinaryAccuracy", {}, truth, scores),
             ("RootMeanSquaredError", {}, truth, scores),
             ("MeanAbsoluteError", {}, truth, scores),
             ("CategoricalAccuracy", {}, np.eye(5)[labels], classes),
             ("SparseCategoricalAccuracy", {}, labels, classes),
             ("TopKCategoricalAccuracy", {"k": 2}, np.eye(5)[labels], classes),
             ("SparseTopKCategoricalAccuracy", {"k": 2}, labels, classes)]
    for class_name, options, y_true, y_pred in cases:
        ours = getattr(metrics, class_name)(**options)
        theirs = getattr(keras.metrics, class_name)(**options)
        for start in (0, 25):  # two batches, then the whole set
            ours.update_state(y_true[start:start + 25], y_pred[start:start + 25])
            theirs.update_state(y_true[start:start + 25], y_pred[start:start + 25])
        assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6,
                                                     abs=1e-6), class_name
        ours.reset_state()
        assert float(ours.result()) == 0.0
        assert float(ours(y_true, y_pred)) == pytest.approx(float(theirs.result()), rel=1e-6,
                                                            abs=1e-6)
    with pytest.raises(fa.NotSupportedError, match="sample_weight in update_state"):
        metrics.AUC().update_state(truth, scores, sample_weight=np.ones(40))


# ------------------------------------------------------------ initializers
def test_initializer_spellings_and_constants_match_keras(keras):
    assert initializers.glorot_uniform is initializers.GlorotUniform
    assert initializers.constant is initializers.Constant
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get(initializers.HeNormal), initializers.HeNormal)
    for ours, theirs in [(initializers.Constant(0.1), keras.initializers.Constant(0.1)),
                         (initializers.Zeros(), keras.initializers.Zeros()),
                         (initializers.Ones(), keras.initializers.Ones()),
                         (initializers.Identity(2.0), keras.initializers.Identity(2.0))]:
        np.testing.assert_allclose(ours((3, 4)), theirs((3, 4)), **TOLERANCE)
        config = ours.get_config()  # Keras' keys (and Identity's gain, which Keras omits)
        assert all(config[key] == value for key, value in theirs.get_config().items())
        assert initializers.deserialize(initializers.serialize(ours)) == ours
    # the named ones are VarianceScaling presets, with Keras' configs
    for name in ("GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                 "LecunNormal"):
        ours, theirs = getattr(initializers, name)(seed=3), getattr(keras.initializers, name)()
        preset = initializers.VarianceScaling(*type(ours).PRESET, seed=3)
        np.testing.assert_array_equal(ours((20, 30)), preset((20, 30)))
        assert (theirs.scale, theirs.mode, theirs.distribution) == type(ours).PRESET
    spread = initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=0)
    assert spread((400, 500)).std() == pytest.approx(np.sqrt(2.0 / 500), rel=0.02)
    keras_config = keras.initializers.VarianceScaling().get_config()
    assert initializers.VarianceScaling.from_config(keras_config) == \
        initializers.VarianceScaling()
    with pytest.raises(fa.NotSupportedError, match="input_axes=0 in GlorotUniform"):
        initializers.GlorotUniform(input_axes=0)
    with pytest.raises(fa.NotSupportedError, match=r"a callable kernel_initializer"):
        layers.Dense(2, kernel_initializer=lambda shape, dtype=None: np.zeros(shape))


def test_constant_initializer_builds_a_dense_layer():
    model = fa.Sequential([fa.Input(shape=(3,)),
                           layers.Dense(2, kernel_initializer=initializers.Constant(0.1),
                                        bias_initializer=initializers.constant(-0.5))], seed=0)
    kernel, bias = model.get_weights()
    np.testing.assert_array_equal(kernel, np.full((3, 2), 0.1, np.float32))
    np.testing.assert_array_equal(bias, [-0.5, -0.5])
    again = fa.Sequential.from_config(model.get_config())
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), model.get_weights()))
    norm = layers.BatchNormalization(gamma_initializer=initializers.Ones(),
                                     beta_initializer="Zeros")
    assert (norm.gamma_initializer, norm.beta_initializer) == ("ones", "zeros")
    with pytest.raises(fa.NotSupportedError, match="gamma_initializer='glorot_uniform'"):
        layers.BatchNormalization(gamma_initializer="glorot_uniform")


# ------------------------------------------------------------ regularizers
def test_regularizer_spellings_match_keras(keras):
    w = np.linspace(-1, 1, 12).reshape(3, 4)
    for ours, theirs in [(regularizers.l2(0.01), keras.regularizers.l2(0.01)),
                         (regularizers.l1(0.02), keras.regularizers.l1(0.02)),
                         (regularizers.l1_l2(l1=0.1, l2=0.2), keras.regularizers.l1_l2(l1=0.1,
                                                                                       l2=0.2))]:
        assert ours(w) == pytest.approx(float(theirs(w)), rel=1e-6)
        assert ours.get_config() == pytest.approx(theirs.get_config())
    assert regularizers.l2 is regularizers.L2
    assert regularizers.get("L1L2") == regularizers.L1L2()
    assert regularizers.get(regularizers.L2) == regularizers.L2()
    layer = layers.Dense(2, kernel_regularizer=regularizers.l2(0.01))
    assert layer.kernel_regularizer == regularizers.L2(0.01)


# ------------------------------------------------------------------- layers
def test_layer_keywords_at_keras_defaults_are_accepted_others_refused():
    dense = layers.Dense(4, "relu", True, "glorot_uniform", "zeros", None, None, None, None,
                         None, None, None, None, dtype=None,
                         trainable=True, autocast=True, name="hidden")
    assert dense == layers.Dense(4, "relu", name="hidden") and dense.trainable
    assert "kernel_constraint" not in dense.get_config()  # Keras' defaults are no state
    layers.BatchNormalization(beta_regularizer=None, renorm=False, synchronized=False)
    layers.Dropout(0.5, None, None, trainable=True)
    layers.Flatten(data_format="channels_last")
    refused = [(lambda: layers.Dense(4, kernel_constraint="non_neg"), "kernel_constraint"),
               (lambda: layers.Dense(4, activity_regularizer="l2"), "activity_regularizer"),
               (lambda: layers.Dense(4, lora_rank=4), "lora_rank=4"),
               (lambda: layers.Dense(4, dtype="float64"), "dtype='float64'.*model's dtype"),
               (lambda: layers.BatchNormalization(renorm=True), "renorm=True"),
               (lambda: layers.Dropout(0.5, noise_shape=(None, 1)), "noise_shape"),
               (lambda: layers.Flatten("channels_first"), "data_format='channels_first'"),
               (lambda: fa.Input(shape=(3,), tensor=object()), "input_tensor="),
               (lambda: fa.Input(shape=(3,), optional=True), "optional=True")]
    for make, option in refused:
        with pytest.raises(fa.NotSupportedError, match=option):
            make()


def test_trainable_is_the_one_field_a_layer_changes():
    """``layer.trainable`` and ``model.trainable`` are Keras' settable flags (the model's
    sets every layer's); a non-bool is refused; every other field stays frozen."""
    dense = layers.Dense(4)
    model = fa.Sequential([fa.Input((3,)), dense])
    dense.trainable = False
    assert dense.trainable is False and model.trainable is True
    model.trainable = False
    assert model.trainable is False and dense.trainable is False
    model.trainable = True
    assert dense.trainable is True
    for owner, label in ((dense, "Dense.trainable"), (model, "model.trainable")):
        with pytest.raises(TypeError, match=rf"{label} must be True or False; got 'no'"):
            owner.trainable = "no"
        assert owner.trainable is True
    with pytest.raises(TypeError, match="Dense trainable must be True or False"):
        layers.Dense(4, trainable=1)
    with pytest.raises(AttributeError):  # other fields stay frozen
        dense.units = 5


def test_input_takes_keras_batch_shape():
    assert fa.Input(batch_shape=(None, 4)).shape == (4,)
    layer = layers.InputLayer(batch_shape=(16, 2, 3))
    assert layer.shape == (2, 3) and layer.batch_size == 16
    assert fa.Input((3,), None, "float32", False, False).shape == (3,)
    model = fa.Sequential([fa.Input(batch_shape=(None, 4)), layers.Dense(1)])
    assert model.input_dim == 4
    with pytest.raises(ValueError, match="shape= .* or batch_shape=, not both"):
        fa.Input(shape=(4,), batch_shape=(None, 4))


def test_layer_serialize_round_trips():
    layer = layers.Dense(3, activation="tanh", name="d")
    assert layers.deserialize(layers.serialize(layer)) == layer


# ------------------------------------------------------------------ compile
def test_compile_takes_loss_and_metric_functions_as_the_built_ins(keras, rng):
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(float)

    def trained(loss, metrics_given, activation):
        model = fa.Sequential([layers.Dense(4, activation=activation, input_shape=(3,)),
                               layers.Dense(1, activation="sigmoid")], seed=1, dtype="float64")
        model.compile(optimizer="adam", loss=loss, metrics=metrics_given)
        history = model.fit(X, y, epochs=2, batch_size=8, verbose=0)
        return model, history

    by_name, names_history = trained("binary_crossentropy", ["binary_accuracy", "mae"], "relu")
    for loss, given, activation in [
            (losses.binary_crossentropy, [metrics.binary_accuracy, metrics.mean_absolute_error],
             activations.relu),
            (keras.losses.binary_crossentropy,
             [keras.metrics.binary_accuracy, keras.metrics.mean_absolute_error],
             keras.activations.relu),
            (losses.BinaryCrossentropy(), ["binary_accuracy", "mean_absolute_error"], "relu")]:
        model, history = trained(loss, given, activation)
        assert model.loss_spec is by_name.loss_spec
        assert [w.tolist() for w in model.get_weights()] == \
            [w.tolist() for w in by_name.get_weights()]
        np.testing.assert_array_equal(history.history["loss"], names_history.history["loss"])
        assert set(history.history) >= {"loss", "binary_accuracy"}
    # the loss function computes what evaluate reports
    loss = by_name.evaluate(X, y, verbose=0)[0]
    per_sample = losses.binary_crossentropy(y, by_name.predict(X, verbose=0))
    assert loss == pytest.approx(per_sample.mean(), rel=1e-9)
    def my_loss(y_true, y_pred):
        return 0.0

    model = fa.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    with pytest.raises(fa.NotSupportedError, match=r"a callable loss \(my_loss\)"):
        model.compile(loss=my_loss)
    with pytest.raises(fa.NotSupportedError, match=r"a callable metric \(<lambda>\)"):
        model.compile(loss="mse", metrics=[lambda t, p: 0.0])


# ------------------------------------------------------------------ backend
def test_backend_clear_session_floatx_epsilon(keras):
    layers.Dense(1)
    backend.clear_session()
    assert layers.Dense(1).name == "dense" and layers.Dense(1).name == "dense_1"
    utils.clear_session(free_memory=False)
    assert layers.Dense(1).name == "dense"
    assert backend.floatx() == keras.backend.floatx() == np.dtype(fa.Sequential().dtype).name
    assert backend.epsilon() == pytest.approx(keras.backend.epsilon())
    assert backend.image_data_format() == keras.backend.image_data_format()
