"""What several test files share: the parameter grids of the gradient and parity tests
(every hidden activation, every loss with each output activation it can train) and the
loader of the example scripts."""
import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

from fastann import activations

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
