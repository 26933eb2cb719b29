"""What several test files share: the parameter grids of the gradient and parity tests
(every hidden activation, every loss with each output activation it can train) and the
loader of the example scripts."""
import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

HIDDEN = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]
LOSS_CASES = [
    ("binary_crossentropy", "sigmoid"),
    ("mean_squared_error", "linear"),
    ("mean_squared_error", "relu"),
    ("mean_squared_error", "leaky_relu"),
    ("mean_squared_error", "sigmoid"),
    ("mean_squared_error", "tanh"),
    ("mean_squared_error", "softmax"),
    ("categorical_crossentropy", "softmax"),
    ("sparse_categorical_crossentropy", "softmax"),
]


def load_example(name):
    """Import ``examples/<name>.py`` (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"fastann_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
