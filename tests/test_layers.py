"""Activation, Dropout, BatchNormalization and Dense without bias, in the fused loop.

Gradients of the training-mode loss (batch statistics, a fixed dropout mask: the same
random state before every evaluation) are checked against central finite differences
and against ``jax.grad`` (x64); the kernels against the NumPy versions in
``fastann.reference``; the moving statistics against Keras 3's rule and the inference
output against Keras itself; a run with Dropout and BatchNormalization against the same
run interrupted by save/load; float32 models stay float32.
"""
import os

import numpy as np
import pytest

import fastann as fa
from fastann import reference
from fastann.kernels import train as train_kernels
from fastann.kernels.dropout import dropout_forward
from fastann.kernels.normalization import batchnorm_backward, batchnorm_forward
from fastann.layers import Activation, BatchNormalization, Dense, Dropout
from cases import dropout_masks, make_model, problem, stacks, training_pass

EPS = 1e-6

def finite_differences(model, X, Y, weight, rng_state):
    params = model._params.copy()
    gradient = np.empty(params.shape[0])
    for i in range(params.shape[0]):
        saved = params[i]
        params[i] = saved + EPS
        up = training_pass(model, X, Y, weight, rng_state, params, backward=False)[0]
        params[i] = saved - EPS
        down = training_pass(model, X, Y, weight, rng_state, params, backward=False)[0]
        params[i] = saved
        gradient[i] = (up - down) / (2 * EPS)
    return gradient


@pytest.mark.parametrize("name, layers, loss, n_features", stacks(),
                         ids=[s[0] for s in stacks()])
def test_training_gradients_match_finite_differences(name, layers, loss, n_features):
    model = make_model(layers, loss, n_features)
    X, Y, weight = problem(model, loss)
    rng_state = np.array([12345], np.uint64)
    _, grads, work = training_pass(model, X, Y, weight, rng_state)
    numeric = finite_differences(model, X, Y, weight, rng_state)
    assert np.abs(grads).max() > 1e-3
    np.testing.assert_allclose(grads, numeric, rtol=1e-5, atol=1e-7)


def jax_loss(model, masks, X, Y, weight, loss):
    """The training-mode weighted mean loss as a function of the trainable weights (in
    the layout's order), written in jax.numpy."""
    import jax.numpy as jnp
    from jax.nn import log_softmax

    trainable = [w for w in model.layout.weights if w.trainable]
    functions = {"linear": lambda z: z, "relu": lambda z: jnp.maximum(z, 0),
                 "tanh": jnp.tanh, "sigmoid": lambda z: 1 / (1 + jnp.exp(-z)),
                 "leaky_relu": lambda z: jnp.where(z > 0, z, 0.2 * z)}

    def function(weights):
        named = {(w.layer, w.name): value for w, value in zip(trainable, weights)}
        A = jnp.asarray(X)
        logits = None
        for l, layer in enumerate(model.layers):
            kind = type(layer).__name__
            last = l == len(model.layers) - 1
            activation = layer.activation_spec.name
            if kind == "Dense":
                Z = A @ named[(l, "kernel")] + named.get((l, "bias"), 0.0)
            elif kind == "Activation":
                Z = A
            elif kind == "Dropout":
                A = A * masks[l]
                continue
            else:
                mean = A.mean(axis=0)
                variance = ((A - mean) ** 2).mean(axis=0)
                Z = (A - mean) / jnp.sqrt(variance + layer.epsilon)
                Z = Z * named.get((l, "gamma"), 1.0) + named.get((l, "beta"), 0.0)
            if last and activation in ("softmax", "sigmoid"):
                logits = Z
            A = Z if activation == "softmax" else functions[activation](Z)
        if loss == "categorical_crossentropy":
            row = -(Y * log_softmax(logits, axis=1)).sum(axis=1)
        elif loss == "binary_crossentropy":
            row = (jnp.logaddexp(0.0, logits) - Y * logits).mean(axis=1)
        else:
            row = ((A - Y) ** 2).mean(axis=1)
        return (weight * row).sum() / X.shape[0]

    return function, trainable


@pytest.mark.parametrize("name, layers, loss, n_features", stacks(),
                         ids=[s[0] for s in stacks()])
def test_training_gradients_match_jax(name, layers, loss, n_features):
    import jax
    jax.config.update("jax_enable_x64", True)
    model = make_model(layers, loss, n_features)
    X, Y, weight = problem(model, loss, seed=2)
    rng_state = np.array([987654321], np.uint64)
    loss_value, grads, work = training_pass(model, X, Y, weight, rng_state)
    function, trainable = jax_loss(model, dropout_masks(model, work, X.shape[0]), X, Y,
                                   weight, loss)
    values = [model._params[w.offset:w.offset + w.size].reshape(w.shape) for w in trainable]
    jax_value, jax_grads = jax.value_and_grad(function)(values)
    np.testing.assert_allclose(loss_value, float(jax_value), rtol=1e-12)
    flat = np.concatenate([np.asarray(g).ravel() for g in jax_grads])
    np.testing.assert_allclose(grads, flat, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------- kernels vs reference
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_kernels_match_reference(training):
    generator = np.random.default_rng(3)
    rows, units = 9, 5
    X = generator.normal(2.0, 3.0, (rows, units))
    gamma, beta = generator.normal(size=units), generator.normal(size=units)
    moving_mean, moving_var = generator.normal(size=units), generator.uniform(0.5, 2, units)
    A, X_hat = np.empty((rows, units)), np.empty((rows, units))
    mean, inv_std = np.empty(units), np.empty(units)
    mm, mv = moving_mean.copy(), moving_var.copy()
    batchnorm_forward(A, X_hat, mean, inv_std, mm, mv, X, gamma, beta, 0.9, 1e-3, training)
    ref = reference.batchnorm_forward(X, gamma, beta, moving_mean, moving_var, 0.9, 1e-3,
                                      training)
    for got, want in zip((A, X_hat, inv_std, mm, mv), ref):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    if training:  # Keras 3's rule, written out
        np.testing.assert_allclose(mm, moving_mean * 0.9 + X.mean(0) * 0.1, rtol=1e-14)
        np.testing.assert_allclose(mv, moving_var * 0.9 + X.var(0) * 0.1, rtol=1e-14)
    else:
        np.testing.assert_array_equal(mm, moving_mean)
        dA = generator.normal(size=(rows, units))
        dX, sum_d, sum_dx = dA.copy(), np.empty(units), np.empty(units)
        _, X_hat_t, inv_t, _, _ = reference.batchnorm_forward(X, gamma, beta, moving_mean,
                                                              moving_var, 0.9, 1e-3, True)
        batchnorm_backward(dX, sum_d, sum_dx, X_hat_t, gamma, inv_t, True)
        want_dX, want_dgamma, want_dbeta = reference.batchnorm_backward(dA, X_hat_t, gamma,
                                                                        inv_t)
        np.testing.assert_allclose(dX, want_dX, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(sum_dx, want_dgamma, rtol=1e-12)
        np.testing.assert_allclose(sum_d, want_dbeta, rtol=1e-12)


def test_batchnorm_one_row_batch_gives_beta_not_nan():
    """Keras' behaviour: a single row has variance 0, so it normalises to 0."""
    X = np.array([[3.0, -1.0]])
    gamma, beta = np.array([2.0, 0.5]), np.array([0.25, -0.75])
    A, X_hat, mean, inv_std = np.empty((1, 2)), np.empty((1, 2)), np.empty(2), np.empty(2)
    batchnorm_forward(A, X_hat, mean, inv_std, np.zeros(2), np.ones(2), X, gamma, beta, 0.99,
                      1e-3, True)
    np.testing.assert_array_equal(A, beta[None])
    dA = np.array([[1.0, 2.0]])
    batchnorm_backward(dA, np.empty(2), np.empty(2), X_hat, gamma, inv_std, True)
    np.testing.assert_array_equal(dA, 0.0)


@pytest.mark.parametrize("salt", [0, 0x1234_5678_9ABC_DEF1])
def test_dropout_mask_matches_reference(salt):
    rows, units, rate = 40, 25, 0.3
    A_prev = np.random.default_rng(4).normal(size=(rows, units))
    A, mask = np.empty_like(A_prev), np.empty_like(A_prev)
    state = np.array([2024], np.uint64)
    dropout_forward(A, mask, A_prev, 1 / (1 - rate), np.uint64(salt),
                    np.uint64(int(rate * 2.0**53)), state)
    generator = reference.SplitMix64(2024)
    want = reference.dropout_mask((rows, units), rate, generator, salt)
    np.testing.assert_array_equal(mask, want)
    np.testing.assert_array_equal(A, reference.dropout_forward(A_prev, want))
    assert int(state[0]) == generator.state  # one draw per entry
    assert 0.2 < (mask == 0).mean() < 0.4


def test_dropout_seed_changes_the_mask_deterministically():
    def mask_of(seed):
        model = make_model([Dropout(0.5, seed=seed), Dense(1)], "mse", 6)
        X = np.ones((10, 6))
        _, _, work = training_pass(model, X, np.zeros((10, 1)), np.ones(10),
                                   np.array([5], np.uint64), backward=False)
        return dropout_masks(model, work, 10)[0]

    np.testing.assert_array_equal(mask_of(3), mask_of(3))
    assert not np.array_equal(mask_of(3), mask_of(None))
    assert not np.array_equal(mask_of(3), mask_of(4))


# ------------------------------------------------------------- whole models
def test_moving_statistics_follow_keras_rule_and_inference_uses_them():
    generator = np.random.default_rng(5)
    X = generator.normal(1.0, 2.0, (32, 3))
    y = generator.normal(size=32)
    model = make_model([BatchNormalization(momentum=0.8), Dense(1)], "mse", 3,
                       optimizer=fa.SGD(lr=0.01))
    model.fit(X, y, epochs=2, batch_size=None, shuffle=False, verbose=0)
    gamma, beta, moving_mean, moving_var, W, b = model.get_weights()
    mean, var = X.mean(0), X.var(0)
    np.testing.assert_allclose(moving_mean, (0 * 0.8 + mean * 0.2) * 0.8 + mean * 0.2,
                               rtol=1e-13)
    np.testing.assert_allclose(moving_var, (1 * 0.8 + var * 0.2) * 0.8 + var * 0.2,
                               rtol=1e-13)
    A = reference.batchnorm_forward(X, gamma, beta, moving_mean, moving_var, 0.8, 1e-3,
                                    training=False)[0]
    out = model.predict_proba(X)
    np.testing.assert_allclose(out, A @ W + b, rtol=1e-12)
    np.testing.assert_array_equal(model.get_weights()[2], moving_mean)  # inference: unchanged


def test_dropout_is_off_in_predict_evaluate_and_validation():
    generator = np.random.default_rng(6)
    X, y = generator.normal(size=(40, 4)), generator.normal(size=40)
    model = make_model([Dense(8, activation="relu"), Dropout(0.5), Dense(1)], "mse", 4,
                       optimizer=fa.SGD(lr=0.01))
    plain = make_model([Dense(8, activation="relu"), Dense(1)], "mse", 4)
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))
    history = model.fit(X[:30], y[:30], epochs=1, batch_size=10, verbose=0,
                        validation_data=(X[30:], y[30:]))
    plain.set_weights(model.get_weights())
    expected = plain.evaluate(X[30:], y[30:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-12)
    assert model.evaluate(X[30:], y[30:], verbose=0) == pytest.approx(expected, rel=1e-12)


def mixed_model(dtype="float64", seed=0, dense=Dense):
    no_bias = {"use_bias": False} if dense is Dense else {}
    layers = [dense(16, activation="relu"), BatchNormalization(), Dropout(0.25, seed=11),
              dense(8, **no_bias), Activation("tanh"), Dropout(0.1),
              dense(3, activation="softmax")]
    model = fa.Model(layers, input_dim=5, dtype=dtype, seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    return model


def mixed_data(n=60):
    generator = np.random.default_rng(7)
    X = generator.normal(size=(n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def test_resume_with_dropout_and_batchnorm_is_bit_identical(tmp_path):
    X, y = mixed_data()
    options = dict(batch_size=8, verbose=0, validation_split=0.2)
    # saving rebuilds fastann.Dense, which may not have use_bias yet
    whole = mixed_model(dense=fa.Dense)
    losses_whole = whole.fit(X, y, epochs=6, **options).history["loss"]
    first = mixed_model(dense=fa.Dense)
    losses = first.fit(X, y, epochs=3, **options).history["loss"]
    path = first.save(tmp_path / "half")
    resumed = fa.load_model(path)
    for a, b in zip(resumed.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(a, b)
    losses += resumed.fit(X, y, epochs=3, **options).history["loss"]
    assert losses == losses_whole
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    assert [type(layer) for layer in resumed.layers] == [type(layer) for layer in whole.layers]
    assert [layer for layer in resumed.layers if not isinstance(layer, fa.Dense)] == [
        layer for layer in whole.layers if not isinstance(layer, fa.Dense)]


def test_float32_model_stays_float32():
    X, y = mixed_data()
    model = mixed_model("float32")
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict_proba(X).dtype == np.float32
    assert model._moving.dtype == np.float32
    float32_signatures = [str(s) for s in train_kernels.train_epochs.signatures
                          if "float32" in str(s)]
    assert float32_signatures and not any("float64" in s for s in float32_signatures)


def test_weights_and_count_params_follow_keras():
    model = fa.Model([Dense(4, use_bias=False), BatchNormalization(), Activation("relu"),
                      Dropout(0.5), BatchNormalization(center=False), Dense(2)],
                     input_dim=3, dtype="float64", seed=0)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4,), (4,), (4, 2), (2,)]
    assert model.count_params() == 12 + 16 + 12 + 10
    assert model.layout.n_params == 12 + 8 + 4 + 10  # trainable only
    gamma, beta, moving_mean, moving_var = model.get_weights()[1:5]
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(moving_mean, 0)
    np.testing.assert_array_equal(moving_var, 1)
    # set_weights reaches the moving statistics too
    weights = model.get_weights()
    weights[3] = np.full(4, 0.5)
    model.set_weights(weights)
    np.testing.assert_array_equal(model.get_weights()[3], 0.5)


def test_optimizer_never_touches_moving_statistics():
    X, y = mixed_data()
    model = make_model([BatchNormalization(momentum=1.0), Dense(3, activation="softmax")],
                       "sparse_categorical_crossentropy", 5,
                       optimizer=fa.Adam(lr=0.1, weight_decay=0.5))
    model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    moving_mean, moving_var = model.get_weights()[2:4]  # momentum 1: never moves
    np.testing.assert_array_equal(moving_mean, 0)
    np.testing.assert_array_equal(moving_var, 1)


def test_keras_matches_counts_weights_and_inference():
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the installed backend (jax is in the
    import keras  # test extra); set before keras' first import

    X, y = mixed_data(20)
    model = mixed_model()
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    L, f64 = keras.layers, {"dtype": "float64"}
    reference_model = keras.Sequential(
        [keras.Input((5,), dtype="float64"), L.Dense(16, activation="relu", **f64),
         L.BatchNormalization(**f64), L.Dropout(0.25, **f64),
         L.Dense(8, use_bias=False, **f64), L.Activation("tanh", **f64),
         L.Dropout(0.1, **f64), L.Dense(3, activation="softmax", **f64)])
    assert reference_model.count_params() == model.count_params()
    assert [w.shape for w in reference_model.get_weights()] == [
        w.shape for w in model.get_weights()]
    reference_model.set_weights(model.get_weights())
    # Keras' jax backend runs parts of float64 layers in float32 (jax without x64):
    # float32-sized differences; a wrong rule (batch statistics, say) differs by far more
    np.testing.assert_allclose(reference_model.predict(X, verbose=0),
                               model.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_dense_only_networks_compile_the_dense_only_passes():
    model = make_model([fa.Dense(4, activation="relu"), fa.Dense(1)], "mse", 3)
    assert model.layout.plain and model._extras(model._workspace(4)) is None
    model.fit(np.ones((4, 3)), np.ones(4), epochs=1, verbose=0)
    assert any("none" in str(s) for s in train_kernels.train_epochs.signatures)
    mixed = make_model([Dense(4, use_bias=False), fa.Dense(1)], "mse", 3)
    assert not mixed.layout.plain


@pytest.mark.parametrize("make, match", [
    (lambda: Dropout(1.0), "rate must be a number in \\[0, 1\\); got 1.0"),
    (lambda: Dropout("0.5"), "rate"),
    (lambda: Dropout(0.5, noise_shape=(None, 1)), "support Dropout noise_shape=\\(None, 1\\)"),
    (lambda: Dropout(0.5, seed=-1), "seed"),
    (lambda: BatchNormalization(axis=0), "axis must be -1 or 1"),
    (lambda: BatchNormalization(momentum=1.5), "momentum must be in \\[0, 1\\]"),
    (lambda: BatchNormalization(epsilon=0), "epsilon must be > 0"),
    (lambda: BatchNormalization(center=1), "center must be True or False"),
    (lambda: BatchNormalization(gamma_initializer="glorot_uniform"), "gamma_initializer"),
    (lambda: Activation("nonsense"), "unknown activation 'nonsense'"),
])
def test_bad_layer_options(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unsupported_layer_type_is_refused():
    class Conv2D:
        pass

    with pytest.raises(TypeError, match="layers must be a list of fastann layers.*Conv2D"):
        fa.Model([Conv2D()], input_dim=3)


def test_refused_set_weights_leaves_the_model_as_it_was():
    model = make_model([Dense(3), BatchNormalization(), Dense(1)], "mse", 2)
    before = model.get_weights()
    weights = model.get_weights()
    weights[-3] = np.ones(5)  # layer 1's moving_variance, wrong shape
    with pytest.raises(ValueError, match=r"weights\[5\] \(layer 1 moving_variance\)"):
        model.set_weights(weights)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_a_diverging_epoch_rolls_back_the_moving_statistics():
    generator = np.random.default_rng(8)
    X, y = generator.normal(size=(32, 3)), generator.normal(size=32)
    model = make_model([BatchNormalization(momentum=0.5), Dense(4), Dense(1)], "mse", 3,
                       dtype="float32", optimizer=fa.SGD(lr=0.01))
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    before = model.get_weights()
    model.compile(loss="mse", optimizer=fa.SGD(lr=1e30), metrics=[])
    with pytest.raises(FloatingPointError, match="diverged"):
        model.fit(X + 5, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
