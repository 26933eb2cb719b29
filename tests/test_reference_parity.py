"""Whole training runs: fastann's ``Model.fit`` (float64) and ``reference.train`` from the
same weights, data and hyper-parameters give the same per-epoch losses and final
weights to 1e-10 relative, after 1,000 epochs. And a transcription of the GeeksforGeeks
tutorial's AND-gate network agrees with fastann the same way.
"""
import numpy as np
import pytest

import fastann as fa
from fastann import reference

from cases import LOSS_CASES, PARITY_CASES
LOSS_IDS = [f"{loss}-{output}" for loss, output in LOSS_CASES]
PARITY_IDS = [f"{hidden}-{loss}-{output}" for hidden, loss, output in PARITY_CASES]
EPOCHS = 1000
N_SAMPLES = 12
RTOL = 1e-10
ATOL = 1e-13


def data(loss, n_out, make_targets, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(N_SAMPLES, 3))
    y, Y = make_targets(loss, N_SAMPLES, n_out, generator)
    return X, y, Y


def assert_same_run(model, history, trained, reference_history):
    np.testing.assert_allclose(history.history["loss"], reference_history["loss"], rtol=RTOL,
                               atol=ATOL)
    for actual, expected in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    # a run that went nowhere would agree trivially
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("batch_size", [None, 7], ids=["full-batch", "mini-batch"])
@pytest.mark.parametrize("hidden, loss, output", PARITY_CASES, ids=PARITY_IDS)
def test_sgd_runs_match(hidden, loss, output, batch_size, build_model, make_targets,
                        reference_loss):
    """Every activation, hidden and at the output (PARITY_CASES); mini-batches of 7 over
    12 rows end with a short one."""
    sizes = (3, 6, 3)
    activations = [hidden, output]
    X, y, Y = data(loss, sizes[-1], make_targets)
    # exp in the hidden layer makes SGD at 0.1 chaotic (runs 1e-16 apart drift apart)
    lr = 0.02 if "exponential" in (hidden, output) else 0.1
    model = build_model(sizes, activations, loss, optimizer=fa.SGD(lr=lr), seed=3)
    initial = model.get_weights()
    history = model.fit(X, y, epochs=EPOCHS, batch_size=batch_size, shuffle=False, verbose=0)
    trained, reference_history = reference.train(
        initial, activations, X, Y, reference_loss(loss), reference.SGD(lr=lr), EPOCHS,
        batch_size=batch_size)
    assert len(reference_history["loss"]) == EPOCHS
    assert_same_run(model, history, trained, reference_history)


# Learning rates stay where training is not chaotic. Near a minimum, Adam and RMSprop
# with a large step oscillate, and there any rounding difference grows exponentially:
# with Adam(lr=0.01) or RMSprop(lr=0.005) on these problems, the reference run against
# itself from initial weights 1e-14 apart ends 1e-4 to 1e-1 apart in the loss, so no
# two implementations could agree to 1e-10 there.
OPTIMIZERS = {
    "sgd-momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd-nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd-weight-decay": ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    "adam": ("Adam", dict(lr=0.003)),
    "adam-weight-decay": ("Adam", dict(lr=0.003, weight_decay=0.01)),
    "rmsprop": ("RMSprop", dict(lr=0.001)),
    "rmsprop-weight-decay": ("RMSprop", dict(lr=0.002, rho=0.8, epsilon=1e-6,
                                             weight_decay=0.01)),
}


@pytest.mark.parametrize("loss, output", [("binary_crossentropy", "sigmoid"),
                                          ("sparse_categorical_crossentropy", "softmax"),
                                          ("mean_squared_error", "linear")])
@pytest.mark.parametrize("case", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_optimizer_runs_match(case, loss, output, build_model, make_targets, reference_loss):
    class_name, options = case
    sizes = (3, 8, 3)
    activations = ["tanh", output]
    X, y, Y = data(loss, sizes[-1], make_targets, seed=1)
    model = build_model(sizes, activations, loss, optimizer=getattr(fa, class_name)(**options),
                        seed=4)
    initial = model.get_weights()
    history = model.fit(X, y, epochs=EPOCHS, batch_size=5, shuffle=False, verbose=0)
    trained, reference_history = reference.train(
        initial, activations, X, Y, reference_loss(loss),
        getattr(reference, class_name)(**options), EPOCHS, batch_size=5)
    assert_same_run(model, history, trained, reference_history)


@pytest.mark.parametrize("batch_size", [1, 5, 11, 12, 100])
def test_shuffled_runs_match(batch_size, build_model, make_targets):
    """Shuffled mini-batches follow the model's SplitMix64 stream (no shuffling when one
    batch holds every row: batch 12 and 100 of 12 rows)."""
    sizes = (3, 5, 1)
    activations = ["relu", "sigmoid"]
    X, y, Y = data("binary_crossentropy", 1, make_targets, seed=2)
    model = build_model(sizes, activations, "binary_crossentropy", optimizer=fa.Adam(lr=0.01),
                        seed=5)
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    epochs = EPOCHS // 4 if batch_size == 1 else EPOCHS  # 12 steps an epoch
    history = model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    trained, reference_history = reference.train(
        initial, activations, X, Y, "binary_crossentropy", reference.Adam(lr=0.01), epochs,
        batch_size=batch_size, shuffle=True, rng_state=rng_state)
    assert_same_run(model, history, trained, reference_history)
    if batch_size < N_SAMPLES:  # the stream was used (the unshuffled run differs)
        _, unshuffled = reference.train(initial, activations, X, Y, "binary_crossentropy",
                                        reference.Adam(lr=0.01), epochs, batch_size=batch_size)
        assert not np.allclose(unshuffled["loss"], reference_history["loss"], rtol=1e-6)


def test_resumed_fit_matches_one_reference_run_per_call(build_model, make_targets):
    """A second ``fit`` carries on the weights, the optimizer's state (its step count
    too) and the shuffling stream; the reference follows from the state read between."""
    sizes = (3, 6, 3)
    activations = ["tanh", "softmax"]
    X, y, Y = data("sparse_categorical_crossentropy", 3, make_targets, seed=3)
    model = build_model(sizes, activations, "sparse_categorical_crossentropy",
                        optimizer=fa.Adam(lr=0.01), seed=6)
    weights = model.get_weights()
    optimizer = reference.Adam(lr=0.01)
    for _ in range(2):
        rng_state = int(model._rng_state[0])
        history = model.fit(X, y, epochs=EPOCHS // 2, batch_size=5, verbose=0)
        weights, reference_history = reference.train(
            weights, activations, X, Y, "categorical_crossentropy", optimizer, EPOCHS // 2,
            batch_size=5, shuffle=True, rng_state=rng_state)
        assert_same_run(model, history, weights, reference_history)
    assert optimizer.iterations == EPOCHS * 3  # 3 batches an epoch


@pytest.mark.parametrize("loss, output", LOSS_CASES, ids=LOSS_IDS)
def test_sample_weighted_runs_match(loss, output, build_model, make_targets, reference_loss):
    sizes = (3, 6, 3)
    activations = ["sigmoid", output]
    X, y, Y = data(loss, sizes[-1], make_targets, seed=4)
    weight = np.random.default_rng(5).uniform(0, 3, N_SAMPLES)
    weight[[2, 9]] = 0.0
    model = build_model(sizes, activations, loss, optimizer=fa.SGD(lr=0.05, momentum=0.5),
                        seed=7)
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    history = model.fit(X, y, epochs=EPOCHS, batch_size=5, shuffle=True, verbose=0,
                        sample_weight=weight)
    trained, reference_history = reference.train(
        initial, activations, X, Y, reference_loss(loss),
        reference.SGD(lr=0.05, momentum=0.5), EPOCHS, batch_size=5, shuffle=True,
        rng_state=rng_state, sample_weight=weight)
    assert_same_run(model, history, trained, reference_history)


@pytest.mark.parametrize("reduction, code", [("mean_with_sample_weight", 1), ("sum", 2)])
def test_reductions_with_penalties_match(reduction, code, make_targets):
    """Each shuffled batch's loss divided by its weight sum (or not divided), negative
    and zero weights, a shorter last batch, and penalties: batch-mean L2 (divided as the
    loss is) on one kernel, Keras' L2 on the other; the epoch loss as Keras logs it."""
    activations = ["tanh", "sigmoid"]
    X, y, Y = data("binary_crossentropy", 2, make_targets, seed=6)
    weight = np.random.default_rng(8).uniform(-0.5, 3, N_SAMPLES)
    weight[3] = 0.0
    lr = 0.05 if code == 1 else 0.01
    model = fa.Sequential([fa.Input((3,)),
                           fa.Dense(5, activation="tanh",
                                    kernel_regularizer=fa.regularizers.BatchMeanL2(0.3)),
                           fa.Dense(2, activation="sigmoid",
                                    kernel_regularizer=fa.regularizers.L2(0.01))],
                          dtype="float64", seed=9)
    model.compile(optimizer=fa.SGD(lr=lr, momentum=0.5),
                  loss=fa.losses.BinaryCrossentropy(reduction=reduction))
    initial = model.get_weights()
    rng_state = int(model._rng_state[0])
    history = model.fit(X, y, epochs=EPOCHS // 4, batch_size=5, shuffle=True, verbose=0,
                        sample_weight=weight)
    trained, reference_history = reference.train(
        initial, activations, X, Y, "binary_crossentropy",
        reference.SGD(lr=lr, momentum=0.5), EPOCHS // 4, batch_size=5, shuffle=True,
        rng_state=rng_state, sample_weight=weight, loss_options={"reduction": code},
        regularization=[(0, 0, 0.3, 0, 0, 0), (0, 0.01, 0, 0, 0, 0)])
    assert_same_run(model, history, trained, reference_history)
    expected = reference.evaluate_loss(
        model.get_weights(), activations, X, Y, "binary_crossentropy", weight,
        regularization=[(0, 0, 0.3, 0, 0, 0), (0, 0.01, 0, 0, 0, 0)],
        loss_options={"reduction": code}, batch_size=4)
    assert model.evaluate(X, y, batch_size=4, sample_weight=weight, verbose=0) == \
        pytest.approx(expected, rel=RTOL)


def test_leaky_relu_slopes_match(build_model, make_targets):
    sizes = (3, 6, 4, 1)
    activations = ["leaky_relu", "leaky_relu", "leaky_relu"]
    slopes = [0.05, 0.3, 0.1]
    X, y, Y = data("mean_squared_error", 1, make_targets, seed=5)
    model = build_model(sizes, activations, "mse", optimizer=fa.SGD(lr=0.05), seed=8,
                        slopes=slopes)
    initial = model.get_weights()
    history = model.fit(X, y, epochs=EPOCHS, batch_size="full", verbose=0)
    trained, reference_history = reference.train(
        initial, activations, X, Y, "mean_squared_error", reference.SGD(lr=0.05), EPOCHS,
        slopes=slopes)
    assert_same_run(model, history, trained, reference_history)


# ------------------------------------------- the GeeksforGeeks tutorial, transcribed
# "Building Artificial Neural Networks (ANN) from Scratch" (GeeksforGeeks, 2025), its
# code as published: weights (n_out, n_in), data (features, samples), AND gate, a 2-4-1
# relu/sigmoid network, binary cross-entropy, full-batch gradient descent, lr 0.1.

def initialize_parameters(input_size, hidden_size, output_size):
    np.random.seed(42)  # For reproducibility
    parameters = {
        "W1": np.random.randn(hidden_size, input_size) * 0.01,
        "b1": np.zeros((hidden_size, 1)),
        "W2": np.random.randn(output_size, hidden_size) * 0.01,
        "b2": np.zeros((output_size, 1)),
    }
    return parameters


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def relu(Z):
    return np.maximum(0, Z)


def relu_derivative(Z):
    return (Z > 0).astype(int)


def forward_propagation(X, parameters):
    W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache


def compute_cost(Y, A2):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
    return np.squeeze(cost)


def backward_propagation(X, Y, parameters, cache):
    m = X.shape[1]
    W2 = parameters["W2"]
    dZ2 = cache["A2"] - Y
    dW2 = np.dot(dZ2, cache["A1"].T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = np.dot(W2.T, dZ2) * relu_derivative(cache["Z1"])
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    return grads


def update_parameters(parameters, grads, learning_rate):
    for key in parameters.keys():
        parameters[key] -= learning_rate * grads["d" + key]
    return parameters


def train_neural_network(X, Y, input_size, hidden_size, output_size, epochs=1000,
                         learning_rate=0.01):
    """The tutorial's loop, keeping the initial parameters and every epoch's cost
    instead of printing every hundredth."""
    parameters = initialize_parameters(input_size, hidden_size, output_size)
    initial = {key: value.copy() for key, value in parameters.items()}
    costs = []
    for i in range(epochs):
        A2, cache = forward_propagation(X, parameters)
        cost = compute_cost(Y, A2)
        grads = backward_propagation(X, Y, parameters, cache)
        parameters = update_parameters(parameters, grads, learning_rate)
        costs.append(float(cost))
    return initial, parameters, costs


def test_geeksforgeeks_and_gate_tutorial_matches():
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])
    Y = np.array([[0, 0, 0, 1]])
    state = np.random.get_state()
    try:  # the tutorial seeds NumPy's global generator: leave it as it was
        initial, trained, costs = train_neural_network(
            X, Y, input_size=2, hidden_size=4, output_size=1, epochs=EPOCHS, learning_rate=0.1)
    finally:
        np.random.set_state(state)

    model = fa.Model([fa.Dense(4, activation="relu", kernel_initializer="scaled_normal",
                               init_scale=0.01),
                      fa.Dense(1, activation="sigmoid", kernel_initializer="scaled_normal",
                               init_scale=0.01)],
                     input_dim=2, dtype="float64", seed=42)
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.1), metrics=[])
    # same random stream, layer by layer: the very same initial weights, transposed
    start = model.get_weights()
    np.testing.assert_array_equal(start[0], initial["W1"].T)
    np.testing.assert_array_equal(start[2], initial["W2"].T)
    np.testing.assert_array_equal(start[1], initial["b1"][:, 0])

    history = model.fit(X.T, Y[0], epochs=EPOCHS, batch_size="full", shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], costs, rtol=RTOL)
    W1, b1, W2, b2 = model.get_weights()
    for actual, expected in [(W1, trained["W1"].T), (b1, trained["b1"][:, 0]),
                             (W2, trained["W2"].T), (b2, trained["b2"][:, 0])]:
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    assert costs[-1] < costs[0]

    # and the reference, from the tutorial's initial weights
    weights = [initial["W1"].T, initial["b1"][:, 0], initial["W2"].T, initial["b2"][:, 0]]
    ref_weights, ref_history = reference.train(
        weights, ["relu", "sigmoid"], X.T.astype(float), Y.T.astype(float),
        "binary_crossentropy", reference.SGD(lr=0.1), EPOCHS)
    np.testing.assert_allclose(ref_history["loss"], costs, rtol=RTOL)
    for actual, expected in zip(ref_weights, model.get_weights()):
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
