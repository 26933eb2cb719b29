"""The losses added for Keras: kernels against the NumPy reference in both dtypes, values
and gradients against Keras 3's own loss classes (their gradient by jax autodiff, in
float64), whole-network gradients against central finite differences for every
trainable activation, and the loss objects' options."""
import os

import numpy as np
import pytest

import fastann as fa
from fastann import activations as activation_table
from fastann import losses as loss_table
from fastann import reference
from fastann.kernels import activations as activation_kernels
from fastann.kernels import losses as loss_kernels
from fastann.kernels import network
from fastann.layout import Workspace
from fastann.kernels.train import EVERY_FEATURE

# (id, fastann loss, output activation, reference name, reference options, Keras class
# and arguments, target kind); from_logits cases read a linear output's logits
CASES = [
    ("mae", "mae", "linear", "mean_absolute_error", {}, ("MeanAbsoluteError", {}), "real"),
    ("huber", loss_table.Huber(delta=0.7), "linear", "huber", {"delta": 0.7},
     ("Huber", {"delta": 0.7}), "real"),
    ("log_cosh", "log_cosh", "tanh", "log_cosh", {}, ("LogCosh", {}), "real"),
    ("poisson", "poisson", "softplus", "poisson", {}, ("Poisson", {}), "counts"),
    ("kl_divergence", "kl_divergence", "softmax", "kl_divergence", {}, ("KLDivergence", {}),
     "probabilities"),
    ("hinge", "hinge", "tanh", "hinge", {}, ("Hinge", {}), "signs"),
    ("squared_hinge", "squared_hinge", "linear", "squared_hinge", {}, ("SquaredHinge", {}),
     "signs"),
    ("focal", "binary_focal_crossentropy", "sigmoid", "binary_focal_crossentropy", {},
     ("BinaryFocalCrossentropy", {}), "binary"),
    ("focal-balanced-logits",
     loss_table.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5,
                                        from_logits=True), "linear",
     "binary_focal_crossentropy",
     {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5, "from_logits": True},
     ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5,
                                  "from_logits": True}), "binary"),
    ("bce-logits", loss_table.BinaryCrossentropy(from_logits=True), "linear",
     "binary_crossentropy", {"from_logits": True},
     ("BinaryCrossentropy", {"from_logits": True}), "binary"),
    ("cce-logits", loss_table.CategoricalCrossentropy(from_logits=True), "linear",
     "categorical_crossentropy", {"from_logits": True},
     ("CategoricalCrossentropy", {"from_logits": True}), "one_hot"),
]
IDS = [case[0] for case in CASES]
DTYPES = [np.float64, np.float32]


def targets(kind, rows, n_out, generator):
    if kind == "real":
        return generator.normal(size=(rows, n_out))
    if kind == "counts":
        return generator.poisson(1.5, (rows, n_out)).astype(np.float64)
    if kind == "probabilities":
        P = generator.random((rows, n_out)) + 0.05
        return P / P.sum(axis=1, keepdims=True)
    if kind == "signs":
        return generator.choice([-1.0, 1.0], (rows, n_out))
    if kind == "binary":
        return generator.integers(0, 2, (rows, n_out)).astype(np.float64)
    return np.eye(n_out)[generator.integers(0, n_out, rows)]


def kernel_loss(spec, output, Z, Y, weight):
    """(weighted loss sum, dZ) from the kernels, as training computes them."""
    dtype = Z.dtype.type
    A = np.empty_like(Z)
    activation_kernels.activation_forward(A, Z, activation_table.get(output).code, dtype(0.2),
                                          True)
    delta = np.full_like(Z, np.nan)
    fused = loss_kernels.gives_dZ(spec.code)
    A_given = np.full_like(Z, np.nan) if fused else A.copy()
    total = loss_kernels.loss_and_delta(delta, Z, A_given, Y, weight, spec.code,
                                        spec.hyper_vector(Z.dtype), dtype(1) / dtype(Z.shape[0]),
                                        EVERY_FEATURE.losses)
    # the output activation (to rounding: the focal kernel is compiled apart), or Z
    np.testing.assert_allclose(A_given, A, rtol=1e-6 if dtype is np.float32 else 1e-15)
    if not fused:
        activation_kernels.activation_backward(delta, Z, A, activation_table.get(output).code,
                                               dtype(0.2), True)
    return total, delta, A


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_kernels_match_reference(case, dtype, rng):
    _, loss, output, ref_name, options, _, kind = case
    spec = loss_table.get(loss)
    Z = rng.normal(0, 1.5, (7, 3)).astype(dtype)
    Y = targets(kind, 7, 3, rng).astype(dtype)
    weight = rng.uniform(0.2, 2.0, 7).astype(dtype)
    weight[2] = 0
    total, dZ, A = kernel_loss(spec, output, Z, Y, weight)
    assert dZ.dtype == dtype  # (a returned scalar is a Python float either way)
    as64 = [a.astype(np.float64) for a in (Z, A, Y, weight)]
    expected_total, expected_dZ = reference.loss_and_output_delta(ref_name, output, *as64,
                                                                  loss_options=options)
    tolerance = dict(rtol=2e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11,
                                                                            atol=1e-14)
    np.testing.assert_allclose(total, expected_total, **tolerance)
    np.testing.assert_allclose(dZ, expected_dZ, **tolerance)


@pytest.fixture(scope="module")
def keras_and_jax():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("needs Keras on the jax backend for autodiff")
    import jax
    jax.config.update("jax_enable_x64", True)
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # Keras computes its losses in floatx
    yield keras, jax
    keras.config.set_floatx(floatx)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_gradients_match_keras(case, keras_and_jax, rng):
    """Keras 3's loss class on the same outputs: its batch mean equals fastann's, and
    jax.grad of it (float64) equals fastann's gradient at the output's Z."""
    keras, jax = keras_and_jax
    import jax.numpy as jnp
    _, loss, output, _, _, (class_name, arguments), kind = case
    spec = loss_table.get(loss)
    Z = rng.normal(0, 1.5, (6, 3))
    Y = targets(kind, 6, 3, rng)
    weight = np.ones(6)
    total, dZ, A = kernel_loss(spec, output, Z, Y, weight)
    keras_loss = getattr(keras.losses, class_name)(**arguments)
    keras_y = Y
    if class_name == "Hinge" or class_name == "SquaredHinge":
        keras_y = Y  # -1/1 labels: Keras converts only 0/1
    forward = {"linear": lambda z: z, "tanh": jnp.tanh, "softplus": jax.nn.softplus,
               "softmax": lambda z: jax.nn.softmax(z, axis=-1),
               "sigmoid": jax.nn.sigmoid}[output]

    def batch_mean(z):
        return keras_loss(jnp.asarray(keras_y), forward(z))

    value = float(batch_mean(jnp.asarray(Z)))
    gradient = np.asarray(jax.grad(batch_mean)(jnp.asarray(Z)))
    # Keras clips probabilities at 1e-7 where fastann works from logits: moderate Z only
    # Keras' losses round through float32 somewhere even under floatx float64 (its
    # MeanAbsoluteError is 1e-8 relative off NumPy's), hence float32-sized tolerances
    assert total / 6 == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(dZ, gradient, rtol=1e-5, atol=1e-8)


def _network_gradient(model, X, Y):
    rows = X.shape[0]
    work = Workspace(model.layout, rows, model.dtype)
    spec = model.loss_spec
    network.forward(work.Z, work.A, X, model._params, model.layout.table, model._slopes, rows,
                    not loss_kernels.gives_dZ(spec.code), EVERY_FEATURE)
    total = network.output_loss(work.delta, work.Z, work.A, Y, np.ones(rows),
                                model.layout.table, rows, spec.code,
                                spec.hyper_vector(model.dtype), 1.0 / rows, EVERY_FEATURE)
    network.backward(work.grads, work.delta, work.Z, work.A, X, model._params,
                     model.layout.table, model._slopes, rows, spec.code, EVERY_FEATURE)
    return total / rows, work.grads.copy()


def _evaluate(model, X, y):
    result = model.evaluate(X, y)
    return result["loss"] if isinstance(result, dict) else (
        result[0] if isinstance(result, list) else result)


@pytest.mark.parametrize("hidden", activation_table.names(trainable_only=True))
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_network_gradients_match_finite_differences(case, hidden, flat, random_weights):
    _, loss, output, ref_name, options, _, kind = case
    sizes = (3, 4, 3)
    generator = np.random.default_rng(4)
    kinks = activation_table.get(hidden).kinks
    for _ in range(100):  # keep clear of the hidden activation's kinks
        X = generator.normal(size=(5, 3))
        weights = random_weights(sizes, generator)
        Z1 = X @ weights[0] + weights[1]
        if all(np.abs(Z1 - k).min() > 1e-3 for k in kinks):
            break
    Y = targets(kind, 5, 3, generator)
    model = fa.Model([fa.Dense(4, activation=hidden), fa.Dense(3, activation=output)],
                     input_dim=3, dtype="float64", seed=0)
    model.compile(loss=loss, optimizer="sgd", metrics=[])
    model.set_weights(weights)
    params = model._params
    numeric = np.empty(params.shape[0])
    for i in range(params.shape[0]):
        saved = params[i]
        params[i] = saved + 1e-6
        up = _evaluate(model, X, Y)
        params[i] = saved - 1e-6
        down = _evaluate(model, X, Y)
        params[i] = saved
        numeric[i] = (up - down) / 2e-6
    assert np.abs(numeric).max() > 1e-4, "a flat loss surface checks nothing"
    value, analytic = _network_gradient(model, X, Y)
    assert value == pytest.approx(_evaluate(model, X, Y), rel=1e-12)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    ref_value, grads = reference.gradients(weights, [hidden, output], X, Y, ref_name,
                                           loss_options=options)
    assert ref_value == pytest.approx(value, rel=1e-11)
    np.testing.assert_allclose(flat(grads), analytic, rtol=1e-9, atol=1e-13)


def test_loss_objects_and_bad_input():
    assert loss_table.get("mae") is loss_table.LOSSES["mean_absolute_error"]
    assert loss_table.get(loss_table.Huber(2.0)).hyper_vector(np.float64)[
        loss_kernels.DELTA] == 2.0
    assert loss_table.get("Huber").name == "huber"
    spec = loss_table.get(loss_table.SparseCategoricalCrossentropy(from_logits=True))
    assert spec.output_activation == "linear" and spec.accuracy == "categorical"
    assert loss_table.Huber.from_config(loss_table.Huber(0.5).get_config()) == \
        loss_table.Huber(0.5)
    # hinge converts 0/1 labels to -1/1 as Keras does
    np.testing.assert_array_equal(loss_table.hinge_targets(np.array([0, 1, 1]), 1, np.float64),
                                  [[-1], [1], [1]])
    with pytest.raises(ValueError, match=r"Huber delta must be a finite number > 0; got -1"):
        loss_table.Huber(-1)
    with pytest.raises(ValueError, match=r"alpha must be a finite number >= 0 and <= 1"):
        loss_table.BinaryFocalCrossentropy(alpha=2)
    with pytest.raises(TypeError, match=r"from_logits must be True or False"):
        loss_table.BinaryCrossentropy(from_logits="yes")
    with pytest.raises(fa.NotSupportedError, match=r"a callable loss \(<lambda>\)"):
        loss_table.get(lambda y, p: 0)
    model = fa.Model([fa.Dense(2, activation="sigmoid")], input_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"needs a 'linear' output layer"):
        model.compile(loss=loss_table.BinaryCrossentropy(from_logits=True), optimizer="sgd")


def test_from_logits_model_trains_and_predicts_logits():
    generator = np.random.default_rng(0)
    X = generator.normal(size=(64, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(float)
    model = fa.Model([fa.Dense(8, activation="gelu"), fa.Dense(1)], dtype="float64", seed=1)
    model.compile(loss=loss_table.BinaryCrossentropy(from_logits=True),
                  optimizer=fa.Adam(lr=0.05), metrics=[])
    history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    logits = model.predict_proba(X)
    assert ((logits > 0)[:, 0] == (y == 1)).mean() > 0.9
    assert (np.abs(logits) > 1).any()  # logits, not probabilities


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "mean_with_sample_weight",
                                       "sum"])
def test_reductions_train_and_evaluate_as_keras(reduction, keras_and_jax):
    """Keras 3 fits the same float64 network from the same weights, with sample weights
    (negative and zero ones too) and a shorter last batch: the same weights after three
    epochs, the same logged losses, the same evaluate; the loss object on arrays too."""
    keras, _ = keras_and_jax
    generator = np.random.default_rng(4)
    X = generator.normal(size=(23, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.float64)
    weight = generator.uniform(-0.3, 2.0, 23)
    weight[:2] = 0.0
    ours = fa.Sequential([fa.Input((3,)), fa.Dense(4, activation="tanh"),
                          fa.Dense(1, activation="sigmoid")], dtype="float64", seed=2)
    ours.compile(optimizer=fa.SGD(0.05), loss=loss_table.BinaryCrossentropy(reduction=reduction))
    theirs = keras.Sequential([keras.Input((3,), dtype="float64"),
                               keras.layers.Dense(4, activation="tanh", dtype="float64"),
                               keras.layers.Dense(1, activation="sigmoid", dtype="float64")])
    theirs.compile(optimizer=keras.optimizers.SGD(0.05),
                   loss=keras.losses.BinaryCrossentropy(reduction=reduction))
    theirs.set_weights(ours.get_weights())
    fits = [model.fit(X, y, batch_size=8, epochs=3, shuffle=False, sample_weight=weight,
                      verbose=0) for model in (ours, theirs)]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)  # Keras' clipping: ~1e-7
    np.testing.assert_allclose(fits[0].history["loss"], fits[1].history["loss"], rtol=1e-6)
    scores = [model.evaluate(X, y, batch_size=5, sample_weight=weight, verbose=0)
              for model in (ours, theirs)]
    assert scores[0] == pytest.approx(scores[1], rel=1e-6)
    outputs = ours.predict(X[:7], verbose=0)
    assert float(ours.loss(y[:7], outputs, weight[:7])) == pytest.approx(
        float(theirs.loss(y[:7], outputs, weight[:7])), rel=1e-6)
