"""The Keras tutorial's classifier, with fastann: is a point of the unit square above the
line x0 + x1 = 1?

1,200 random points (seed 55), 75/25 train/test split; Dense(64, relu) + Dense(1,
sigmoid), binary cross-entropy, Adam, batches of 32, 25 epochs, the last 20% of the
training rows held out for validation. Prints Keras' per-epoch lines, the test accuracy,
and the training speed of fastann next to the plain-NumPy reference (``fastann.reference``)
on the same training, measured in this run.

    python examples/keras_tutorial.py
"""
import time

import numpy as np

import fastann as fa
from fastann import reference

EPOCHS = 25
BATCH_SIZE = 32
VALIDATION_SPLIT = 0.2


def make_data():
    """(X_train, y_train, X_test, y_test): the tutorial's points and 75/25 split."""
    np.random.seed(55)
    X = np.random.rand(1200, 2)
    y = (X[:, 0] + X[:, 1] > 1).astype(np.int64)
    n_train = int(0.75 * X.shape[0])
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def build_model(seed=55, metrics=("accuracy",)):
    model = fa.Model([fa.Dense(64, activation="relu"), fa.Dense(1, activation="sigmoid")],
                     input_dim=2, seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=fa.Adam(), metrics=list(metrics))
    return model


def epochs_per_second(X, y, repeats=3):
    """Epochs/s of fastann and of the reference on the same training: the rows ``fit``
    trains on (validation excluded), 25 epochs, batches of 32, shuffled, Adam, float32,
    no metrics. fastann's compile time is excluded by a warm-up; best of ``repeats``."""
    build_model(metrics=()).fit(X, y, epochs=1, batch_size=BATCH_SIZE, verbose=0)  # compile
    fastann_best = reference_best = float("inf")
    for _ in range(repeats):
        model = build_model(metrics=())
        weights, rng_state = model.get_weights(), int(model._rng_state[0])
        started = time.perf_counter()
        model.fit(X, y, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
        fastann_best = min(fastann_best, time.perf_counter() - started)
        Y = y.reshape(-1, 1).astype(np.float32)
        started = time.perf_counter()
        reference.train(weights, ["relu", "sigmoid"], X.astype(np.float32), Y,
                        "binary_crossentropy", reference.Adam(), EPOCHS,
                        batch_size=BATCH_SIZE, shuffle=True, rng_state=rng_state)
        reference_best = min(reference_best, time.perf_counter() - started)
    return EPOCHS / fastann_best, EPOCHS / reference_best


def main(verbose=2, timing=True):
    """Train, print, and return {"test_accuracy", "history", and with ``timing``
    "fastann_epochs_per_s", "reference_epochs_per_s"}."""
    X_train, y_train, X_test, y_test = make_data()
    model = build_model()
    history = model.fit(X_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE,
                        validation_split=VALIDATION_SPLIT, verbose=verbose)
    test = model.evaluate(X_test, y_test)
    result = {"test_accuracy": test["accuracy"], "history": history.history}
    if verbose:
        print(f"Test loss: {test['loss']:.4f} - test accuracy: {test['accuracy']:.4f}")
    if timing:
        n_fit = int(X_train.shape[0] * (1 - VALIDATION_SPLIT))
        fastann_speed, reference_speed = epochs_per_second(X_train[:n_fit], y_train[:n_fit])
        result.update(fastann_epochs_per_s=fastann_speed, reference_epochs_per_s=reference_speed)
        if verbose:
            print(f"Training speed ({n_fit} rows, batches of {BATCH_SIZE}): fastann "
                  f"{fastann_speed:,.0f} epochs/s, NumPy reference {reference_speed:,.0f} "
                  f"epochs/s ({fastann_speed / reference_speed:.1f}x)")
    return result


if __name__ == "__main__":
    main()
