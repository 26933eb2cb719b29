"""What several test files share: the parameter grids of the gradient and parity tests
(every hidden activation, every loss with each output activation it can train) and the
loader of the example scripts, and the optimizer runs checked against the reference."""
import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

import fastann as fa
from fastann import activations, reference

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
