"""One neuron, four activations, as in Abhishek Hazra's "Artificial Neural Network and
Its Implementation From Scratch": output = activation(x . W + b) for a random neuron with
four inputs, under the step, sigmoid, tanh and ReLU activations.

The neuron is a ``Dense(1)`` layer whose weights are set with ``set_weights``; no
training is involved, so the step function (which cannot be trained: its derivative is
zero) may be used, through ``predict_proba``, which returns the raw output.

    python examples/neuron.py
"""
import numpy as np

import fastann as fa

INPUT_SIZE = 4
ACTIVATIONS = ("step", "sigmoid", "tanh", "relu")


def tutorial_neuron():
    """The tutorial's weights (4,), bias (1,) and input (1, 4): ``np.random.seed(42)``,
    then ``rand(4)``, ``rand(1)`` and ``rand(4)``."""
    random = np.random.RandomState(42)
    W = random.rand(INPUT_SIZE)
    b = random.rand(1)
    x = random.rand(INPUT_SIZE).reshape(1, INPUT_SIZE)
    return W, b, x


def neuron(activation, W, b, dtype="float64"):
    """A one-unit model computing ``activation(x @ W + b)``."""
    model = fa.Model([fa.Dense(1, activation=activation)], input_dim=W.shape[0], dtype=dtype)
    model.set_weights([W.reshape(-1, 1), b])  # Keras layout: W (n_in, n_out), b (n_out,)
    return model


def main(x=None, dtype="float64", quiet=False):
    """Print and return {activation: the neuron's output (n_samples, 1)} for input x
    (default: the tutorial's)."""
    W, b, tutorial_x = tutorial_neuron()
    x = tutorial_x if x is None else np.atleast_2d(x)
    if not quiet:
        print(f"Neuron's random weights = {W} , and random bias = {b}")
        print(f"Input to the Neuron : {x}")
    outputs = {}
    for activation in ACTIVATIONS:
        outputs[activation] = neuron(activation, W, b, dtype).predict_proba(x)
        if not quiet:
            print(f"{activation:>7} neuron's output value for given `x` : "
                  f"{outputs[activation][:, 0]}")
    return outputs


if __name__ == "__main__":
    main()
