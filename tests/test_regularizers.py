"""Weight regularizers: gradients against central finite differences and the NumPy
reference, training runs against the reference and against scikit-learn's MLP (for
BatchMeanL2), penalties against Keras 3's own regularizers, and their options."""
import os

import numpy as np
import pytest

import fastann as fa
from fastann import reference, regularizers
from fastann.kernels import losses, network
from fastann.kernels.regularizers import add_penalty
from fastann.layout import Workspace
from fastann.kernels.train import EVERY_FEATURE

EPS = 1e-6

# (kernel, bias) regularizers per layer of a 3-5-4-2 network, and their reference tuples
CASES = {
    "l2-kernels": ([(regularizers.L2(0.05), None), (regularizers.L2(0.2), None),
                    (None, None)]),
    "l1-and-biases": ([(regularizers.L1(0.03), regularizers.L2(0.1)),
                       (regularizers.L1L2(l1=0.02, l2=0.04), regularizers.L1(0.05)),
                       (regularizers.L2(0.01), None)]),
    "batch-mean": ([(regularizers.BatchMeanL2(0.3), None),
                    (regularizers.BatchMeanL2(0.3), None),
                    (regularizers.BatchMeanL2(0.3), regularizers.L2(0.02))]),
}


def reference_tuples(pairs):
    rows = []
    for kernel_reg, bias_reg in pairs:
        k = kernel_reg.coefficients() if kernel_reg else (0.0, 0.0, 0.0)
        b = bias_reg.coefficients() if bias_reg else (0.0, 0.0, 0.0)
        rows.append(tuple(k) + tuple(b))
    return rows


def build(sizes, activations, loss, pairs, weights=None, optimizer="sgd", seed=0):
    layers = [fa.Dense(units, activation=activation, kernel_regularizer=k, bias_regularizer=b)
              for units, activation, (k, b) in zip(sizes[1:], activations, pairs)]
    model = fa.Model(layers, input_dim=sizes[0], dtype="float64", seed=seed)
    model.compile(loss=loss, optimizer=optimizer, metrics=[])
    if weights is not None:
        model.set_weights(weights)
    return model


def evaluated_loss(model, X, y):
    result = model.evaluate(X, y, return_dict=True) if _takes_return_dict(model) else \
        model.evaluate(X, y)
    return result["loss"]


def _takes_return_dict(model):
    import inspect
    return "return_dict" in inspect.signature(model.evaluate).parameters


def kernel_objective_gradient(model, X, Y):
    """The full-batch mean loss plus penalty and its gradient, from the kernels."""
    rows = X.shape[0]
    layout = model.layout
    work = Workspace(layout, rows, model.dtype)
    weight = np.ones(rows)
    network.forward(work.Z, work.A, X, model._params, layout.table, model._slopes, rows,
                    not losses.gives_dZ(model.loss_spec.code), EVERY_FEATURE)
    loss_sum = network.output_loss(work.delta, work.Z, work.A, Y, weight, layout.table, rows,
                                   model.loss_spec.code, model.loss_spec.hyper_vector(model.dtype),
                                   1.0 / rows, EVERY_FEATURE)
    network.backward(work.grads, work.delta, work.Z, work.A, X, model._params, layout.table,
                     model._slopes, rows, model.loss_spec.code, EVERY_FEATURE)
    penalty = add_penalty(work.grads, model._params, layout.table, model._regularization,
                          1.0 / rows, True)
    return loss_sum / rows + penalty, work.grads.copy()


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("loss, output", [("mean_squared_error", "linear"),
                                          ("binary_crossentropy", "sigmoid")])
def test_gradients_match_finite_differences_and_reference(case, loss, output, flat,
                                                          random_weights, make_targets):
    sizes = (3, 5, 4, 2)
    activations = ["tanh", "sigmoid", output]
    generator = np.random.default_rng(3)
    X = generator.normal(size=(9, 3))
    weights = random_weights(sizes, generator)
    y, Y = make_targets(loss, 9, 2, generator)
    pairs = CASES[case]
    model = build(sizes, activations, loss, pairs, weights)
    # no weight within 1e-3 of L1's kink
    assert np.abs(model._params).min() > 1e-3

    params = model._params
    numeric = np.empty(params.shape[0])
    for i in range(params.shape[0]):
        saved = params[i]
        params[i] = saved + EPS
        up = evaluated_loss(model, X, y)
        params[i] = saved - EPS
        down = evaluated_loss(model, X, y)
        params[i] = saved
        numeric[i] = (up - down) / (2 * EPS)

    objective, analytic = kernel_objective_gradient(model, X, Y)
    np.testing.assert_allclose(objective, evaluated_loss(model, X, y), rtol=1e-13)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)

    tuples = reference_tuples(pairs)
    ref_loss, grads = reference.gradients(weights, activations, X, Y, loss,
                                          regularization=tuples)
    np.testing.assert_allclose(ref_loss, objective, rtol=1e-12)
    np.testing.assert_allclose(flat(grads), analytic, rtol=1e-10, atol=1e-14)
    assert reference.evaluate_loss(weights, activations, X, Y, loss,
                                   regularization=tuples) == pytest.approx(objective,
                                                                           rel=1e-12)
    # and the penalty is not nothing: without it the loss differs
    unregularized, _ = reference.gradients(weights, activations, X, Y, loss)
    assert objective - unregularized > 1e-3


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_training_matches_reference_with_a_shorter_last_batch(case, random_weights,
                                                              make_targets):
    """20 rows in batches of 7: the last batch has 6 rows, so BatchMeanL2's divisor
    changes within the epoch; the reported loss includes each batch's penalty."""
    sizes = (3, 5, 4, 2)
    activations = ["relu", "tanh", "linear"]
    generator = np.random.default_rng(5)
    X = generator.normal(size=(20, 3))
    weights = random_weights(sizes, generator)
    y, Y = make_targets("mean_squared_error", 20, 2, generator)
    pairs = CASES[case]
    model = build(sizes, activations, "mean_squared_error", pairs, weights,
                  optimizer=fa.SGD(lr=0.05, momentum=0.5))
    history = model.fit(X, y, epochs=4, batch_size=7, shuffle=False, verbose=0)
    trained, ref_history = reference.train(
        weights, activations, X, Y, "mean_squared_error", reference.SGD(lr=0.05, momentum=0.5),
        epochs=4, batch_size=7, regularization=reference_tuples(pairs))
    np.testing.assert_allclose(history.history["loss"], ref_history["loss"], rtol=1e-11)
    for got, expected in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


def test_validation_loss_includes_the_penalty_over_the_rows_scored(random_weights,
                                                                  make_targets):
    sizes = (3, 4, 1)
    generator = np.random.default_rng(8)
    X = generator.normal(size=(30, 3))
    y, _ = make_targets("binary_crossentropy", 30, 1, generator)
    pairs = [(regularizers.BatchMeanL2(0.5), regularizers.L2(0.1)),
             (regularizers.L1(0.02), None)]
    model = build(sizes, ["tanh", "sigmoid"], "binary_crossentropy", pairs,
                  random_weights(sizes, generator))
    history = model.fit(X[:20], y[:20], epochs=1, batch_size=6, verbose=0,
                        validation_data=(X[20:], y[20:]))
    val_loss = history.history["val_loss"][0]
    assert val_loss == pytest.approx(evaluated_loss(model, X[20:], y[20:]), rel=1e-12)
    weights = model.get_weights()
    tuples = reference_tuples(pairs)
    expected = reference.evaluate_loss(weights, ["tanh", "sigmoid"], X[20:],
                                       y[20:].reshape(-1, 1), "binary_crossentropy",
                                       regularization=tuples)
    assert val_loss == pytest.approx(expected, rel=1e-12)
    # evaluate in blocks counts the batch-mean term once, over every row scored
    penalty, _ = reference.penalty_and_gradients(weights, tuples, 10)
    assert penalty > 0.01


def test_batch_mean_l2_matches_scikit_learn_mlp(random_weights):
    """One epoch of scikit-learn's MLPClassifier (SGD, no momentum, alpha, mini-batches
    with a shorter last one) against fastann with BatchMeanL2(alpha) on every kernel:
    the same loss_ and the same weights."""
    from sklearn.neural_network import MLPClassifier

    generator = np.random.default_rng(11)
    X = generator.normal(size=(23, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    sizes = (3, 4, 1)
    weights = random_weights(sizes, generator)
    alpha, lr = 0.7, 0.2
    clf = MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", solver="sgd",
                        alpha=alpha, batch_size=5, learning_rate_init=lr, momentum=0.0,
                        nesterovs_momentum=False, shuffle=False, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])  # initialises; then load our weights in place
    for target, value in zip(clf.coefs_ + clf.intercepts_, weights[0::2] + weights[1::2]):
        target[...] = value
    clf.partial_fit(X, y)

    pairs = [(regularizers.BatchMeanL2(alpha), None)] * 2
    model = build(sizes, ["tanh", "sigmoid"], "binary_crossentropy", pairs, weights,
                  optimizer=fa.SGD(lr=lr))
    history = model.fit(X, y, epochs=1, batch_size=5, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(clf.loss_, rel=1e-10)
    got = model.get_weights()
    for index, (coef, intercept) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        np.testing.assert_allclose(got[2 * index], coef, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(got[2 * index + 1], intercept, rtol=1e-10, atol=1e-13)


@pytest.fixture(scope="module")
def keras_regularizers():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    return keras.regularizers


@pytest.mark.parametrize("name, ours, theirs", [
    ("L1", regularizers.L1(0.03), ("L1", {"l1": 0.03})),
    ("L2", regularizers.L2(0.2), ("L2", {"l2": 0.2})),
    ("L1L2", regularizers.L1L2(l1=0.01, l2=0.05), ("L1L2", {"l1": 0.01, "l2": 0.05})),
    ("l2-string", regularizers.get("l2"), ("get", "l2")),
    ("l1-string", regularizers.get("l1"), ("get", "l1")),
])
def test_penalties_and_configs_match_keras(name, ours, theirs, keras_regularizers):
    kind, argument = theirs
    if kind == "get":
        keras_reg = keras_regularizers.get(argument)
    else:
        keras_reg = getattr(keras_regularizers, kind)(**argument)
    w = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    assert ours(w) == pytest.approx(float(np.asarray(keras_reg(w))), rel=1e-5)
    assert ours.get_config() == pytest.approx(keras_reg.get_config())
    assert type(ours).from_config(ours.get_config()) == ours


def test_identifiers_and_bad_input():
    assert regularizers.get("l1_l2") == regularizers.L1L2(0.0, 0.0)
    assert regularizers.get("L2") == regularizers.L2(0.01)
    assert regularizers.get(None) is None
    config = regularizers.serialize(regularizers.L1L2(l1=0.1, l2=0.2))
    assert config == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    assert regularizers.deserialize(config) == regularizers.L1L2(l1=0.1, l2=0.2)
    assert regularizers.get(config) == regularizers.L1L2(l1=0.1, l2=0.2)
    layer = fa.Dense(3, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    assert layer.kernel_regularizer == regularizers.L2(0.01)
    assert layer.bias_regularizer == regularizers.L1(0.5)
    with pytest.raises(ValueError, match=r"L2 l2 must be a finite number >= 0; got -1"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match=r"BatchMeanL2 alpha must be a finite number"):
        regularizers.BatchMeanL2(float("nan"))
    with pytest.raises(ValueError, match=r"unknown kernel_regularizer 'l3'; expected one of"):
        fa.Dense(3, kernel_regularizer="l3")
    with pytest.raises(fa.NotSupportedError, match=r"a callable bias_regularizer \(<lambda>\)"
                                                   r".* name a built-in one: \['batch_mean_l2'"):
        fa.Dense(3, bias_regularizer=lambda w: 0.0)
    with pytest.raises(TypeError, match=r"bias_regularizer must be None, a name .* got int"):
        fa.Dense(3, bias_regularizer=3)
    with pytest.raises(ValueError, match=r"needs its alpha"):
        fa.Dense(3, kernel_regularizer="batch_mean_l2")
    with pytest.raises(ValueError, match=r"L1 config has unknown keys \['l2'\]"):
        regularizers.L1.from_config({"l2": 0.1})
    with pytest.raises(ValueError, match=r"unknown regularizer class_name 'Orthogonal'"):
        regularizers.deserialize({"class_name": "Orthogonal", "config": {}})


def test_unregularized_model_reports_the_same_loss_as_before(build_model, make_targets):
    """All-zero coefficients change nothing: the loss is the data loss."""
    generator = np.random.default_rng(1)
    X = generator.normal(size=(10, 3))
    y, Y = make_targets("mean_squared_error", 10, 1, generator)
    model = build_model((3, 4, 1), ["tanh", "linear"], "mean_squared_error")
    assert not model._regularization.any()
    weights = model.get_weights()
    expected = reference.evaluate_loss(weights, ["tanh", "linear"], X, Y, "mean_squared_error")
    assert evaluated_loss(model, X, y) == pytest.approx(expected, rel=1e-13)
