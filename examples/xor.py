"""XOR needs a hidden layer.

XOR is not linearly separable: no line splits {(0, 1), (1, 0)} from {(0, 0), (1, 1)}, so
a network without a hidden layer (logistic regression, one sigmoid unit) gets at most
three of the four rows right, however long it trains. A hidden layer of four tanh units
learns it in a few thousand epochs.

    python examples/xor.py
"""
import time

import numpy as np

import fastann as fa

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0])  # x1 XOR x2
EPOCHS = 5_000


def build(hidden_units, dtype="float64", seed=0):
    """A 2-(hidden_units)-1 network, or 2-1 logistic regression for hidden_units=0."""
    hidden = [fa.Dense(hidden_units, activation="tanh")] if hidden_units else []
    model = fa.Model(hidden + [fa.Dense(1, activation="sigmoid")], input_dim=2, dtype=dtype,
                     seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.5), metrics=["accuracy"])
    return model


def main(dtype="float64", quiet=False):
    """Train with and without a hidden layer; return {"hidden": model, "linear": model}."""
    models = {"hidden": build(4, dtype), "linear": build(0, dtype)}
    for name, model in models.items():
        start = time.perf_counter()
        history = model.fit(X, y, epochs=EPOCHS, batch_size=len(X), verbose=0)
        seconds = time.perf_counter() - start
        if not quiet:
            layers = "a hidden layer of 4 tanh units" if name == "hidden" else "no hidden layer"
            print(f"with {layers} ({EPOCHS:,} epochs, {EPOCHS / seconds:,.0f} epochs/s): "
                  f"loss {history.history['loss'][-1]:.4f}, accuracy "
                  f"{history.history['accuracy'][-1]:.2f}, predictions {model.predict_classes(X)} "
                  f"(target {y})")
    return models


if __name__ == "__main__":
    main()
