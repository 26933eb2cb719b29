"""Seeded fixtures and small helpers shared by the tests.

Helpers are handed out as fixtures (``build_model``, ``one_hot``, ...) rather than
imported, because ``bench/`` has a ``conftest.py`` of its own and ``import conftest``
would be ambiguous.
"""
import os

import numpy as np
import pytest

import fastann as fa
from fastann.kernels import train as train_kernels

# fastann's loss name -> the reference's (the reference reads one-hot targets).
REFERENCE_LOSS = {
    "binary_crossentropy": "binary_crossentropy",
    "mean_squared_error": "mean_squared_error",
    "mse": "mean_squared_error",
    "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "categorical_crossentropy",
}


@pytest.fixture
def reference_loss():
    """fastann's loss name -> the name ``fastann.reference`` uses."""
    return REFERENCE_LOSS.__getitem__


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _one_hot(labels, n_classes, dtype=np.float64):
    """(n,) integer labels -> (n, n_classes) one-hot rows."""
    labels = np.asarray(labels, np.int64)
    Y = np.zeros((labels.shape[0], n_classes), dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


@pytest.fixture
def one_hot():
    return _one_hot


def _make_targets(loss, n_samples, n_out, generator):
    """Targets for ``loss`` as a user passes them to ``fit`` (y) and encoded as the
    reference reads them (Y, float (n_samples, n_out))."""
    if loss == "binary_crossentropy":
        y = generator.integers(0, 2, (n_samples, n_out)).astype(np.float64)
        return y, y.copy()
    if loss in ("mean_squared_error", "mse"):
        y = generator.uniform(-0.5, 1.0, (n_samples, n_out))
        return y, y.copy()
    labels = generator.integers(0, n_out, n_samples)
    labels[:n_out] = np.arange(n_out)  # every class present
    Y = _one_hot(labels, n_out)
    if loss == "sparse_categorical_crossentropy":
        return labels, Y
    return Y, Y.copy()


@pytest.fixture
def make_targets():
    return _make_targets


def _build_model(sizes, activations, loss, optimizer="sgd", weights=None, dtype="float64",
                 seed=0, slopes=None, **dense_options):
    """A compiled Model of ``sizes`` = (n_features, units_1, ..., units_L), optionally
    loaded with ``weights`` ([W1, b1, ...]), with no metrics (so training does the same
    work as the reference)."""
    slopes = slopes or [0.2] * len(activations)
    layers = [fa.Dense(units, activation=activation, negative_slope=slope, **dense_options)
              for units, activation, slope in zip(sizes[1:], activations, slopes)]
    model = fa.Model(layers, input_dim=sizes[0], dtype=dtype, seed=seed)
    model.compile(loss=loss, optimizer=optimizer, metrics=[])
    if weights is not None:
        model.set_weights(weights)
    return model


@pytest.fixture
def build_model():
    return _build_model


def _random_weights(sizes, generator, scale=0.8, bias=0.3):
    """[W1, b1, ...] drawn from ``generator``: normal weights scaled by 1/sqrt(n_in)."""
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(generator.normal(0, scale / np.sqrt(n_in), (n_in, n_out)))
        weights.append(generator.normal(0, bias, n_out))
    return weights


@pytest.fixture
def random_weights():
    return _random_weights


def _flat(arrays):
    """[W1, b1, ...] -> the flat parameter vector (fastann's layout: W row-major, then b)."""
    return np.concatenate([np.ravel(a) for a in arrays])


@pytest.fixture
def flat():
    return _flat


@pytest.fixture
def kernel_calls(monkeypatch):
    """Records the learning rates of every ``train_epochs`` call, flattened: one per
    epoch (one per step for a step schedule)."""
    calls = []
    original = train_kernels.train_epochs

    def spy(*args):
        calls.append(np.array(args[-3].rates, copy=True).ravel())  # the Update's
        return original(*args)

    monkeypatch.setattr(train_kernels, "train_epochs", spy)
    return calls


@pytest.fixture(scope="session")
def keras_x64():
    """Keras 3 on its JAX backend with JAX's float64 on, for comparisons in float64
    (skips the test where either is missing or Keras runs on another backend)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("these comparisons run Keras on its JAX backend")
    return keras
