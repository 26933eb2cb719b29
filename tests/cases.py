"""What several test files share: the parameter grids of the gradient and parity tests
(every hidden activation, every loss with each output activation it can train), the
loader of the example scripts, the optimizer runs checked against the reference, and
the training-mode passes of any layer stack whose gradients are checked against finite
differences, JAX and PyTorch."""
import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

import fastann as fa
from fastann import activations, reference
from fastann.kernels import losses, network
from fastann.kernels.train import EVERY_FEATURE
from fastann.layout import Workspace

# every trainable activation of the library's table, so a new one cannot go untested
HIDDEN = activations.names(trainable_only=True)
LOSS_CASES = [("binary_crossentropy", "sigmoid")] + [
    ("mean_squared_error", name) for name in HIDDEN] + [
    ("categorical_crossentropy", "softmax"),
    ("sparse_categorical_crossentropy", "softmax"),
]
# (hidden, loss, output) for whole training runs: every activation as the hidden layer
# under each cross-entropy and linear-output MSE, and as the output layer under MSE
# after a tanh layer (the full hidden x loss product is the gradient tests' grid).
PARITY_CASES = [(hidden, loss, output) for hidden in HIDDEN for loss, output in LOSS_CASES
                if output in ("sigmoid", "softmax", "linear")] + [
    ("tanh", loss, output) for loss, output in LOSS_CASES
    if loss == "mean_squared_error" and output not in ("linear", "tanh")]


def load_example(name):
    """Import ``examples/<name>.py`` (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"fastann_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_optimizer_run_matches_reference(name, arguments, epochs, build_model,
                                           make_targets):
    """A small binary model trained with ``fastann.optimizers.<name>(**arguments)`` for
    ``epochs`` unshuffled epochs of batch 5: its losses and weights equal the NumPy
    reference's ``<name>`` rule to 1e-10, and the loss went down."""
    generator = np.random.default_rng(0)
    X = generator.normal(size=(12, 3))
    y, Y = make_targets("binary_crossentropy", 12, 2, generator)
    model = build_model((3, 5, 2), ["tanh", "sigmoid"], "binary_crossentropy",
                        optimizer=getattr(fa.optimizers, name)(**arguments), seed=2)
    initial = model.get_weights()
    history = model.fit(X, y, epochs=epochs, batch_size=5, shuffle=False, verbose=0)
    rule = getattr(reference, name)(**arguments)
    trained, expected = reference.train(initial, ["tanh", "sigmoid"], X, Y,
                                        "binary_crossentropy", rule, epochs, batch_size=5)
    np.testing.assert_allclose(history.history["loss"], expected["loss"], rtol=1e-10,
                               atol=1e-13)
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ----------------- the training-mode passes of any layer stack (Dropout, BatchNormalization)
def stacks():
    """(name, layers, loss, n_features) of the mixed stacks the gradients are checked on."""
    Dense, layers = fa.Dense, fa.layers
    return [
        ("bn_dropout_softmax",
         [Dense(5, activation="tanh"), layers.BatchNormalization(momentum=0.9),
          layers.Activation("sigmoid"), layers.Dropout(0.3, seed=7),
          Dense(3, activation="softmax")], "categorical_crossentropy", 4),
        ("no_bias_bn_no_center_sigmoid",
         [Dense(4, use_bias=False), layers.BatchNormalization(center=False),
          layers.Activation("tanh"), Dense(1, activation="sigmoid")],
         "binary_crossentropy", 3),
        ("input_bn_no_scale_dropout_last",
         [layers.BatchNormalization(scale=False), Dense(6, activation="relu"),
          layers.Dropout(0.5), Dense(2)], "mse", 3),
        ("activation_output_layer",
         [layers.Dropout(0.2), Dense(3, activation="leaky_relu", use_bias=False),
          Dense(1), layers.Activation("sigmoid")], "binary_crossentropy", 2),
    ]


def make_model(layers, loss, n_features, dtype="float64", seed=0, optimizer="sgd"):
    model = fa.Model(layers, input_dim=n_features, dtype=dtype, seed=seed)
    model.compile(loss=loss, optimizer=optimizer, metrics=[])
    return model


def problem(model, loss, n_samples=7, seed=1):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n_samples, model.input_dim))
    n_out = model.layout.sizes[-1]
    if loss == "categorical_crossentropy":
        Y = np.eye(n_out)[generator.integers(0, n_out, n_samples)]
    elif loss == "binary_crossentropy":
        Y = generator.integers(0, 2, (n_samples, n_out)).astype(float)
    else:
        Y = generator.normal(size=(n_samples, n_out))
    weight = generator.uniform(0.5, 1.5, n_samples)
    # weights away from 0 so BatchNormalization's gamma/beta and all units matter
    model.set_weights([w + generator.normal(scale=0.3, size=w.shape) if w.ndim == 2 or i
                       not in moving_indices(model) else w
                       for i, w in enumerate(model.get_weights())])
    return X, Y, weight


def moving_indices(model):
    return {i for i, w in enumerate(model.layout.weights) if not w.trainable}


def training_pass(model, X, Y, weight, rng_state, params=None, backward=True):
    """The training-mode mean loss, its gradient (n_params,) and the workspace, from the
    kernels' general passes, on copies of the model's moving statistics and of
    ``rng_state`` (so every call draws the same dropout mask). The layer table is the
    one ``fit`` gives the kernels (frozen layers marked)."""
    rows = X.shape[0]
    layout = model.layout
    table = model._network().layers
    work = Workspace(layout, rows, model.dtype)
    extras = layout.kernel_extras(model._moving.copy(), work, rng_state.copy(), model.dtype)
    params = model._params if params is None else params
    code = model.loss_spec.code
    network.forward_layers(work.Z, work.A, X, params, table, model._slopes, rows,
                           not losses.gives_dZ(code), EVERY_FEATURE, extras, True)
    loss_sum = network.output_loss(work.delta, work.Z, work.A, Y, weight, table, rows,
                                   code, model.loss_spec.hyper_vector(model.dtype), 1.0 / rows,
                                   EVERY_FEATURE)
    if backward:
        network.backward_layers(work.grads, work.delta, work.Z, work.A, X, params, table,
                                model._slopes, rows, code, EVERY_FEATURE, extras)
    return loss_sum / rows, work.grads.copy(), work


def dropout_masks(model, work, rows):
    """Each Dropout layer's mask as the kernels drew it (kept in its Z block)."""
    masks = {}
    for l, layer in enumerate(model.layers):
        if type(layer).__name__ == "Dropout":
            start = rows * model.layout.table[l, network.UNIT_OFFSET]
            n_out = model.layout.sizes[l + 1]
            masks[l] = work.Z[start:start + rows * n_out].reshape(rows, n_out).copy()
    return masks
