"""A single sigmoid neuron (no hidden layer), as in Nagesh Singh Chauhan's "Build an
Artificial Neural Network (ANN) from scratch": three binary features, seven people,
mean squared error, gradient descent at lr 0.05 for 25,000 full-batch epochs.

    python examples/perceptron.py          # [1, 0, 0] -> class 0, [0, 1, 0] -> class 1

The tutorial prints 0.0103 and 0.9944 for those two points; this prints about 0.12 and
0.92. Same classes, smaller steps: the tutorial's update sums the gradient over the seven
rows instead of averaging it, drops MSE's factor 2, and applies the sigmoid's derivative to
the sigmoid's output a second time, while fastann descends the mean squared error exactly.
"""
import time

import numpy as np

import fastann as fa

X = np.array([[0, 1, 0],
              [0, 0, 1],
              [1, 0, 0],
              [1, 1, 0],
              [1, 1, 1],
              [0, 1, 1],
              [0, 1, 0]], dtype=float)
y = np.array([1, 0, 0, 1, 1, 0, 1])
EPOCHS = 25_000
QUERIES = np.array([[1, 0, 0], [0, 1, 0]], dtype=float)  # the tutorial's two predictions


def build(dtype="float64"):
    model = fa.Model([fa.Dense(1, activation="sigmoid")], input_dim=3, dtype=dtype, seed=42)
    model.compile(loss="mse", optimizer=fa.SGD(lr=0.05))
    return model


def main(dtype="float64", quiet=False):
    """Train the perceptron; return the model and its History."""
    model = build(dtype)
    start = time.perf_counter()
    history = model.fit(X, y, epochs=EPOCHS, batch_size=len(X), verbose=0)
    seconds = time.perf_counter() - start
    if not quiet:
        print(f"trained {EPOCHS:,} epochs in {seconds:.3f} s ({EPOCHS / seconds:,.0f} "
              "epochs/s; the first fit of a process also loads or compiles the kernels)")
        print(f"final loss (MSE): {history.history['loss'][-1]:.6f}")
        for point, probability, label in zip(QUERIES, model.predict_proba(QUERIES)[:, 0],
                                             model.predict_classes(QUERIES)):
            print(f"{point.astype(int).tolist()} -> {probability:.8f}, classified as {label}")
    return model, history


if __name__ == "__main__":
    main()
