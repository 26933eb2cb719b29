"""The AND gate, as in GeeksforGeeks' "Building Artificial Neural Networks (ANN) from
Scratch": a 2-4-1 network (ReLU hidden layer, sigmoid output) trained on the four rows of
the truth table by full-batch gradient descent on the binary cross-entropy.

The tutorial draws its weights with ``np.random.seed(42)`` and ``randn(...) * 0.01``;
``kernel_initializer="scaled_normal"`` with ``seed=42`` draws the very same numbers.

    python examples/and_gate.py            # prints the predictions: [0 0 0 1]
"""
import time

import numpy as np

import fastann as fa

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 0, 0, 1])  # x1 AND x2
EPOCHS = 10_000


def build(dtype="float64"):
    """The tutorial's network: 2 inputs, 4 ReLU units, 1 sigmoid unit, SGD at lr 0.1."""
    model = fa.Model([fa.Dense(4, activation="relu", kernel_initializer="scaled_normal",
                               init_scale=0.01),
                      fa.Dense(1, activation="sigmoid", kernel_initializer="scaled_normal",
                               init_scale=0.01)],
                     input_dim=2, dtype=dtype, seed=42)
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.1), metrics=["accuracy"])
    return model


def main(dtype="float64", quiet=False):
    """Train the AND gate; return the model and its History."""
    model = build(dtype)
    start = time.perf_counter()
    history = model.fit(X, y, epochs=EPOCHS, batch_size=len(X), verbose=0)  # full batch
    seconds = time.perf_counter() - start
    if not quiet:
        print(f"trained {EPOCHS:,} epochs in {seconds:.3f} s ({EPOCHS / seconds:,.0f} "
              "epochs/s; the first fit of a process also loads or compiles the kernels)")
        print(f"final loss: {history.history['loss'][-1]:.6f}")
        print("Predictions:", model.predict_classes(X))
    return model, history


if __name__ == "__main__":
    main()
