"""Metrics added for Keras: root mean squared error (finished per epoch inside the loop)
and a single metric string, checked against NumPy and against Keras 3's own metric."""
import os

import numpy as np
import pytest

import fastann as fa


def _metrics(model, X, y):
    result = model.evaluate(X, y)
    return result


def test_rmse_is_the_root_of_the_epoch_mean_in_fit_and_evaluate():
    generator = np.random.default_rng(0)
    X = generator.normal(size=(37, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.1 * generator.normal(size=37)
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(1)], input_dim=3,
                     dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=["root_mean_squared_error", "mse"])
    result = _metrics(model, X, y)
    values = result if isinstance(result, dict) else dict(zip(model.metrics_names,
                                                              result))
    error = model.predict_proba(X)[:, 0] - y
    assert values["root_mean_squared_error"] == pytest.approx(np.sqrt((error**2).mean()),
                                                              rel=1e-12)
    assert values["mse"] == pytest.approx((error**2).mean(), rel=1e-12)
    # in fit the training metric is over the epoch's batches (weights changing), the
    # validation one over the end-of-epoch weights: the root of the mean, not a mean of roots
    history = model.fit(X, y, epochs=1, batch_size=36, shuffle=False, verbose=0,
                        validation_data=(X, y))
    h = history.history
    assert h["root_mean_squared_error"][0] == pytest.approx(np.sqrt(h["mse"][0]), rel=1e-12)
    assert h["val_root_mean_squared_error"][0] == pytest.approx(np.sqrt(h["val_mse"][0]),
                                                                rel=1e-12)


def test_rmse_matches_keras_and_a_single_metric_string_is_accepted():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    generator = np.random.default_rng(1)
    X = generator.normal(size=(20, 2))
    y = X.sum(axis=1)
    model = fa.Model([fa.Dense(1)], dtype="float32", seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics="rmse")
    assert model.metrics_names == ["loss", "rmse"]
    model.fit(X, y, epochs=1, verbose=0)
    result = _metrics(model, X, y)
    ours = result["rmse"] if isinstance(result, dict) else result[1]
    metric = keras.metrics.RootMeanSquaredError()
    metric.update_state(y.reshape(-1, 1), model.predict_proba(X))
    assert ours == pytest.approx(float(metric.result()), rel=1e-5)
