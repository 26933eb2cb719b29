"""The benchmark workloads, defined once for ``fastann bench`` and ``bench/``.

Each workload fixes its data, network, loss, optimizer and batching. ``build(name)``
returns a ``Workload`` whose ``model()`` and ``initial_weights()`` give fastann and
``fastann.reference`` the same starting point, and whose ``fit`` / ``reference_call``
run the same epochs on each side. Names are fixed: README, notes and benchmarks use them.

- and_gate: the AND truth table (4 rows); 2-4-1 relu/sigmoid, binary cross-entropy;
  full-batch SGD 0.1; float64.
- perceptron: the tutorial's 7 rows of 3 bits; 3-1 sigmoid, MSE; full-batch SGD 0.05;
  float64.
- keras_tutorial: ``np.random.seed(55)``, ``rand(1200, 2)``, ``y = x0 + x1 > 1``, the
  first 720 rows; 2-64-1 relu/sigmoid, binary cross-entropy; Adam 1e-3, batch 32,
  shuffled; float32.
- digits: scikit-learn's digits, standardised, 1,437 training rows; 64-128-10
  relu/softmax, sparse categorical cross-entropy; Adam 1e-3, batch 64, shuffled; float32.
- mnist_shape: synthetic standard normal (60000, 784), 10 uniform classes; 784-256-256-10
  relu/softmax, sparse categorical cross-entropy; SGD 0.01, batch 128; float32.

Both sides compile no metrics, so each epoch does the same work.
"""
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

import fastann

NAMES = ("and_gate", "perceptron", "keras_tutorial", "digits", "mnist_shape")

# fastann's loss name -> the reference's (the reference reads one-hot targets).
_REFERENCE_LOSS = {
    "binary_crossentropy": "binary_crossentropy",
    "mse": "mean_squared_error",
    "sparse_categorical_crossentropy": "categorical_crossentropy",
}


class MissingDependency(RuntimeError):
    """A workload needs an optional package (scikit-learn for ``digits``)."""


@dataclass
class Workload:
    """One workload: data (X, y as fastann takes them; Y one-hot/encoded for the
    reference), architecture and training options."""

    name: str
    X: np.ndarray  # (n_samples, n_features), the workload's dtype
    y: np.ndarray  # (n_samples,) labels or values, as a user passes them to fit
    units: tuple  # output units of each layer
    activations: tuple  # activation name of each layer
    loss: str  # fastann's name
    optimizer: str  # "sgd" or "adam"
    lr: float
    batch_size: object  # int, or None for the full batch
    shuffle: bool
    dtype: str
    seed: int
    initializer: str = "glorot_uniform"
    init_scale: float = 0.01
    note: str = ""
    _initial: list = field(default=None, repr=False)

    # ---------------------------------------------------------------- shapes
    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def sizes(self):
        """(n_features, units_1, ..., units_L)."""
        return (self.X.shape[1],) + tuple(self.units)

    @property
    def batch_rows(self):
        """Rows per batch, as ``Model.fit`` sizes its batches."""
        return self.n_samples if self.batch_size is None else min(self.batch_size,
                                                                  self.n_samples)

    @property
    def steps_per_epoch(self):
        if self.batch_size is None:
            return 1
        return -(-self.n_samples // self.batch_size)

    def flops_per_epoch(self):
        """Multiply-add FLOPs of one epoch's matrix products, counted exactly: forward
        2*n*n_in*n_out per layer, dW the same for every layer, dA_prev for all layers
        but the first (the input needs no gradient). Element-wise work is not counted."""
        products = [n_in * n_out for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        return 2 * self.n_samples * (2 * sum(products) + sum(products[1:]))

    def describe(self):
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        shuffled = ", shuffled" if self.shuffle else ""
        return (f"{'-'.join(map(str, self.sizes))} {'/'.join(self.activations)}, "
                f"{self.loss}, {self.optimizer} {self.lr:g}, {batch}{shuffled}, "
                f"{self.n_samples} rows, {self.dtype}")

    # ---------------------------------------------------------------- fastann
    def optimizer_instance(self):
        return {"sgd": fastann.SGD, "adam": fastann.Adam}[self.optimizer](lr=self.lr)

    def model(self):
        """A fresh compiled fastann Model at the workload's initial weights."""
        layers = [fastann.Dense(units, activation=activation,
                                kernel_initializer=self.initializer,
                                init_scale=self.init_scale)
                  for units, activation in zip(self.units, self.activations)]
        model = fastann.Model(layers, input_dim=self.X.shape[1], dtype=self.dtype,
                              seed=self.seed)
        model.compile(loss=self.loss, optimizer=self.optimizer_instance(), metrics=[])
        return model

    def fit(self, model, epochs):
        """Train ``model`` for ``epochs`` more epochs the way a user would; the History."""
        # batch_rows: None is the full batch here, and fit's None means 32 (Keras)
        return model.fit(self.X, self.y, epochs=epochs, batch_size=self.batch_rows,
                         shuffle=self.shuffle, verbose=0)

    def initial_weights(self):
        """[W1 (n_in, n_out), b1, ...] of a fresh model, and its shuffling state."""
        if self._initial is None:
            model = self.model()
            self._initial = [model.get_weights(), model.get_training_state().rng_state]
        weights, rng_state = self._initial
        return [w.copy() for w in weights], rng_state.copy()

    # -------------------------------------------------------------- reference
    @cached_property
    def Y(self):
        """The targets encoded (n_samples, n_out) in the workload's dtype, as the
        reference reads them."""
        n_out = self.units[-1]
        if self.loss == "sparse_categorical_crossentropy":
            Y = np.zeros((self.n_samples, n_out), self.dtype)
            Y[np.arange(self.n_samples), self.y.astype(np.int64)] = 1
            return Y
        return self.y.reshape(self.n_samples, n_out).astype(self.dtype)

    def reference_optimizer(self):
        from .. import reference

        return {"sgd": reference.SGD, "adam": reference.Adam}[self.optimizer](lr=self.lr)

    def reference_call(self, epochs, weights=None):
        """A no-argument function that runs ``fastann.reference.train`` for ``epochs``
        epochs from the initial weights (or ``weights``) and returns (weights, history).
        Everything it needs is prepared here, so timing the call times training only."""
        from .. import reference

        initial, rng_state = self.initial_weights()
        arguments = (initial if weights is None else [w.copy() for w in weights],
                     list(self.activations), self.X, self.Y, _REFERENCE_LOSS[self.loss],
                     self.reference_optimizer(), epochs)
        options = {"batch_size": self.batch_size, "shuffle": self.shuffle,
                   "rng_state": rng_state}
        return lambda: reference.train(*arguments, **options)


def reference_available():
    """None when ``fastann.reference`` can be imported, else the reason it cannot."""
    try:
        from .. import reference  # noqa: F401
    except ImportError as error:
        return f"fastann.reference is not importable ({error})"
    return None


# ------------------------------------------------------------------ the data
def _and_gate(rows):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    y = np.array([0, 0, 0, 1], np.float64)
    return Workload("and_gate", X, y, (4, 1), ("relu", "sigmoid"), "binary_crossentropy",
                    "sgd", 0.1, None, False, "float64", seed=42,
                    initializer="scaled_normal", init_scale=0.01,
                    note="weights randn*0.01 with seed 42, as the tutorial")


def _perceptron(rows):
    X = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1],
                  [0, 1, 0]], np.float64)
    y = np.array([1, 0, 0, 1, 1, 0, 1], np.float64)
    return Workload("perceptron", X, y, (1,), ("sigmoid",), "mse", "sgd", 0.05, None,
                    False, "float64", seed=42)


def _keras_tutorial(rows):
    state = np.random.get_state()
    try:  # the tutorial seeds NumPy's global generator; leave it as it was
        np.random.seed(55)
        X = np.random.rand(1200, 2)
    finally:
        np.random.set_state(state)
    y = (X[:, 0] + X[:, 1] > 1).astype(np.float32)
    n = 720 if rows is None else min(rows, 720)
    return Workload("keras_tutorial", X[:n].astype(np.float32), y[:n], (64, 1),
                    ("relu", "sigmoid"), "binary_crossentropy", "adam", 1e-3, 32, True,
                    "float32", seed=0, note="the first 720 of the 1,200 seeded rows")


def _digits(rows):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise MissingDependency(
            "digits needs scikit-learn (pip install 'fastann[bench]')") from error
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42)
    X_train = StandardScaler().fit_transform(X_train)  # 1,437 rows
    n = X_train.shape[0] if rows is None else min(rows, X_train.shape[0])
    return Workload("digits", X_train[:n].astype(np.float32), y_train[:n].astype(np.int64),
                    (128, 10), ("relu", "softmax"), "sparse_categorical_crossentropy",
                    "adam", 1e-3, 64, True, "float32", seed=0,
                    note="train_test_split(test_size=0.2, random_state=42), StandardScaler")


def _mnist_shape(rows):
    n = 60000 if rows is None else min(rows, 60000)
    generator = np.random.default_rng(0)
    X = generator.standard_normal((n, 784), dtype=np.float32)
    y = generator.integers(0, 10, n)
    return Workload("mnist_shape", X, y, (256, 256, 10), ("relu", "relu", "softmax"),
                    "sparse_categorical_crossentropy", "sgd", 0.01, 128, False, "float32",
                    seed=0, note="synthetic: standard normal features, uniform labels")


_BUILDERS = {"and_gate": _and_gate, "perceptron": _perceptron,
             "keras_tutorial": _keras_tutorial, "digits": _digits,
             "mnist_shape": _mnist_shape}


def build(name, rows=None):
    """The workload called ``name``; ``rows`` caps its training rows (for quick runs).

    Raises ``MissingDependency`` when an optional package it needs is missing.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown workload {name!r}; expected one of {', '.join(NAMES)}")
    return _BUILDERS[name](rows)


def synthetic(n_features, hidden, n_classes, rows, batch_size, seed=0):
    """A scaling-study workload: normal features, uniform labels,
    n_features-hidden-n_classes relu/softmax, SGD 0.01, float32, no shuffling."""
    generator = np.random.default_rng(seed)
    X = generator.standard_normal((rows, n_features), dtype=np.float32)
    y = generator.integers(0, n_classes, rows)
    return Workload(f"synthetic_{n_features}-{hidden}-{n_classes}", X, y,
                    (hidden, n_classes), ("relu", "softmax"),
                    "sparse_categorical_crossentropy", "sgd", 0.01, batch_size, False,
                    "float32", seed=seed)
