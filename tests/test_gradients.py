"""Gradients against central finite differences, and one SGD step worked by hand.

The finite differences are taken on the model's packed flat parameter vector, of the
loss the kernels compute (``Model.evaluate``: the weighted mean loss). The gradient of
the backward kernels (``network.forward`` + ``output_loss`` + ``backward``) and
``reference.gradients`` are both checked against them, for every trainable activation
in the hidden layers times every loss (mean squared error under several outputs), with
non-uniform sample weights, a zero among them.
"""
import numpy as np
import pytest

import fastann as fa
from fastann import activations as activation_table
from fastann import reference
from fastann.kernels import losses, network
from fastann.layout import Workspace
from fastann.kernels.train import EVERY_FEATURE

from cases import HIDDEN, LOSS_CASES
KINK_MARGIN = 1e-3  # no pre-activation of a kinked layer this close to 0
EPS = 1e-6
N_SAMPLES = 6
SAMPLE_WEIGHT = np.array([0.5, 2.0, 1.0, 0.0, 1.5, 0.75])


def kernel_loss_and_gradient(model, X, Y, weight):
    """The batch's mean loss and its gradient (n_params,) from the network kernels."""
    rows = X.shape[0]
    layout = model.layout
    work = Workspace(layout, rows, model.dtype)
    # as training runs it: a cross-entropy computes the output activation in output_loss
    output_activation = not losses.gives_dZ(model.loss_spec.code)
    network.forward(work.Z, work.A, X, model._params, layout.table, model._slopes, rows,
                    output_activation, EVERY_FEATURE)
    loss_sum = network.output_loss(work.delta, work.Z, work.A, Y, weight, layout.table, rows,
                                   model.loss_spec.code, model.loss_spec.hyper_vector(model.dtype),
                                   1.0 / rows, EVERY_FEATURE)
    network.backward(work.grads, work.delta, work.Z, work.A, X, model._params, layout.table,
                     model._slopes, rows, model.loss_spec.code, EVERY_FEATURE)
    return loss_sum / rows, work.grads.copy()


def finite_differences(model, X, y, weight):
    """Central differences of ``model.evaluate``'s loss along every flat parameter."""
    params = model._params  # the packed parameter vector the kernels read
    gradient = np.empty(params.shape[0])
    for i in range(params.shape[0]):
        saved = params[i]
        params[i] = saved + EPS
        up = model.evaluate(X, y, sample_weight=weight, verbose=0, return_dict=True)["loss"]
        params[i] = saved - EPS
        down = model.evaluate(X, y, sample_weight=weight, verbose=0, return_dict=True)["loss"]
        params[i] = saved
        gradient[i] = (up - down) / (2 * EPS)
    return gradient


def kink_distance(weights, activations, X, slopes=None):
    """Smallest distance of a pre-activation from a kink of its layer's activation
    (the kinks come from the activation table)."""
    Zs, _ = reference.forward(weights, activations, X, slopes)
    distances = [np.abs(Z - kink).min() for Z, name in zip(Zs, activations)
                 for kink in activation_table.get(name).kinks]
    return min(distances, default=np.inf)


def draw_problem(sizes, activations, loss, seed, flat, random_weights, make_targets,
                 slopes=None):
    """X, y, encoded Y and weights, redrawn until no kinked pre-activation is within
    KINK_MARGIN of 0 (so finite differences never straddle a kink)."""
    generator = np.random.default_rng(seed)
    for _ in range(200):
        X = generator.normal(size=(N_SAMPLES, sizes[0]))
        weights = random_weights(sizes, generator)
        y, Y = make_targets(loss, N_SAMPLES, sizes[-1], generator)
        if kink_distance(weights, activations, X, slopes) > KINK_MARGIN:
            return X, y, Y, weights
    raise AssertionError("no draw kept its distance from the kinks")


def check_gradients(model, activations, X, y, Y, weights, loss_name, flat, slopes=None):
    weight = SAMPLE_WEIGHT[:X.shape[0]]
    numeric = finite_differences(model, X, y, weight)
    assert np.abs(numeric).max() > 1e-3, "a flat loss surface checks nothing"

    loss, analytic = kernel_loss_and_gradient(model, X, Y, weight)
    np.testing.assert_allclose(loss, model.evaluate(X, y, sample_weight=weight, verbose=0, return_dict=True)["loss"],
                               rtol=1e-13)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)

    reference_loss, grads = reference.gradients(weights, activations, X, Y, loss_name,
                                                sample_weight=weight, slopes=slopes)
    assert [g.shape for g in grads] == [w.shape for w in weights]
    np.testing.assert_allclose(reference_loss, loss, rtol=1e-12)
    np.testing.assert_allclose(flat(grads), numeric, rtol=1e-5, atol=1e-8)
    # and kernels and reference agree far more tightly than either with the differences
    np.testing.assert_allclose(analytic, flat(grads), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss, output", LOSS_CASES, ids=[f"{l}-{o}" for l, o in LOSS_CASES])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_match_finite_differences(hidden, loss, output, build_model, flat,
                                            random_weights, make_targets, reference_loss):
    sizes = (3, 5, 4, 3)
    activations = [hidden, hidden, output]
    X, y, Y, weights = draw_problem(sizes, activations, loss, 1, flat, random_weights,
                                    make_targets)
    model = build_model(sizes, activations, loss, weights=weights)
    check_gradients(model, activations, X, y, Y, weights, reference_loss(loss), flat)


@pytest.mark.parametrize("loss, output", [("binary_crossentropy", "sigmoid"),
                                          ("mean_squared_error", "linear"),
                                          ("mean_squared_error", "leaky_relu")])
def test_gradients_single_output_and_per_layer_slopes(loss, output, build_model, flat,
                                                      random_weights, make_targets,
                                                      reference_loss):
    """One output unit (the narrow kernels' loops), and leaky ReLU slopes that differ by
    layer, so a slope read from the wrong layer shows."""
    sizes = (4, 6, 3, 1)
    activations = ["leaky_relu", "leaky_relu", output]
    slopes = [0.05, 0.3, 0.15]
    X, y, Y, weights = draw_problem(sizes, activations, loss, 2, flat, random_weights,
                                    make_targets, slopes)
    model = build_model(sizes, activations, loss, weights=weights, slopes=slopes)
    check_gradients(model, activations, X, y, Y, weights, reference_loss(loss), flat, slopes)


def test_hand_worked_sgd_step(build_model):
    """One full-batch SGD step of a 2-2-1 network (relu hidden, linear output, MSE),
    worked out by hand.

    W1 = [[0.5, -0.5], [0.25, 0.5]], b1 = [0, 0.5], W2 = [[1], [-2]], b2 = [0.5]
    X = [[1, 2], [2, -1]], y = [0.5, 1], sample weights [1, 2], lr = 0.1.

    Forward
      row 1: Z1 = (0.5 + 0.5 + 0, -0.5 + 1 + 0.5) = (1, 1),    A1 = (1, 1)
             out = 1 - 2 + 0.5 = -0.5,  error = -0.5 - 0.5 = -1
      row 2: Z1 = (1 - 0.25 + 0, -1 - 0.5 + 0.5) = (0.75, -1),  A1 = (0.75, 0)
             out = 0.75 + 0.5 = 1.25,   error = 1.25 - 1 = 0.25
      loss = (1 * (-1)**2 + 2 * 0.25**2) / 2 rows = (1 + 0.125) / 2 = 0.5625
    Backward (dZ = 2 * w * error / (rows * n_out))
      dZ2 = (2*1*(-1)/2, 2*2*0.25/2) = (-1, 0.5)
      dW2 = A1.T @ dZ2 = (1*(-1) + 0.75*0.5, 1*(-1) + 0*0.5) = (-0.625, -1),  db2 = -0.5
      dA1 = dZ2 @ W2.T: row 1 (-1, 2), row 2 (0.5, -1)
      dZ1 = dA1 * (Z1 > 0): row 1 (-1, 2), row 2 (0.5, 0)
      dW1 = X.T @ dZ1 = [[1*(-1) + 2*0.5, 1*2 + 2*0], [2*(-1) + (-1)*0.5, 2*2 + (-1)*0]]
          = [[0, 2], [-2.5, 4]],  db1 = (-0.5, 2)
    Update (w -= 0.1 * dw)
      W1 = [[0.5, -0.7], [0.5, 0.1]], b1 = [0.05, 0.3], W2 = [[1.0625], [-1.9]], b2 = [0.55]
    """
    weights = [np.array([[0.5, -0.5], [0.25, 0.5]]), np.array([0.0, 0.5]),
               np.array([[1.0], [-2.0]]), np.array([0.5])]
    X = np.array([[1.0, 2.0], [2.0, -1.0]])
    y = np.array([0.5, 1.0])
    sample_weight = np.array([1.0, 2.0])
    expected = [np.array([[0.5, -0.7], [0.5, 0.1]]), np.array([0.05, 0.3]),
                np.array([[1.0625], [-1.9]]), np.array([0.55])]

    model = build_model((2, 2, 1), ["relu", "linear"], "mse", optimizer=fa.SGD(lr=0.1),
                        weights=weights)
    history = model.fit(X, y, epochs=1, batch_size="full", shuffle=False, verbose=0,
                        sample_weight=sample_weight)
    assert history.history["loss"] == [pytest.approx(0.5625, rel=1e-15)]
    for actual, wanted in zip(model.get_weights(), expected):
        np.testing.assert_allclose(actual, wanted, rtol=1e-15, atol=1e-16)

    trained, reference_history = reference.train(
        weights, ["relu", "linear"], X, y[:, None], "mean_squared_error",
        reference.SGD(lr=0.1), epochs=1, sample_weight=sample_weight)
    assert reference_history["loss"] == [pytest.approx(0.5625, rel=1e-15)]
    for actual, wanted in zip(trained, expected):
        np.testing.assert_allclose(actual, wanted, rtol=1e-15, atol=1e-16)
    np.testing.assert_array_equal(weights[0], [[0.5, -0.5], [0.25, 0.5]])  # not mutated
