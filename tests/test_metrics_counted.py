"""Keras 3's AUC, Precision, Recall and top-k accuracy computed inside the compiled loop:
each against real Keras 3 (JAX backend, 64-bit mode for float64) and against the NumPy
oracle, over whole phases of several batches, in fit, validation and evaluate."""
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is first imported
keras = pytest.importorskip("keras")
if keras.backend.backend() == "jax":  # float64 metrics need JAX's 64-bit mode
    pytest.importorskip("jax").config.update("jax_enable_x64", True)

import fastann as fa  # noqa: E402
from fastann import metrics as fm  # noqa: E402
from fastann import reference  # noqa: E402
from fastann.kernels import metrics as kernels  # noqa: E402

TOLERANCE = {"float32": 1e-6, "float64": 1e-12}
# Keras keeps the confusion counts of AUC, Precision and Recall in float32 variables
# whatever the metric's dtype (and buckets AUC's predictions in float32): in float64
# these are held to Keras to float32's precision and to the NumPy oracle to 1e-12.
KERAS_FLOAT32 = 1e-6

# (fastann object, the Keras object of the same settings, the NumPy oracle)
CASES = {
    "auc": (lambda: fm.AUC(), lambda d: keras.metrics.AUC(dtype=d),
            lambda Y, A: reference.auc(Y, A)),
    "auc_pr": (lambda: fm.AUC(curve="PR"), lambda d: keras.metrics.AUC(curve="PR", dtype=d),
               lambda Y, A: reference.auc(Y, A, curve="PR")),
    "auc_minoring": (lambda: fm.AUC(num_thresholds=7, summation_method="minoring"),
                     lambda d: keras.metrics.AUC(num_thresholds=7, dtype=d,
                                                 summation_method="minoring"),
                     lambda Y, A: reference.auc(Y, A, 7, summation_method="minoring")),
    "auc_pr_majoring": (lambda: fm.AUC(11, curve="PR", summation_method="majoring"),
                        lambda d: keras.metrics.AUC(11, curve="PR", dtype=d,
                                                    summation_method="majoring"),
                        lambda Y, A: reference.auc(Y, A, 11, "PR", "majoring")),
    "auc_logits": (lambda: fm.AUC(from_logits=True),
                   lambda d: keras.metrics.AUC(from_logits=True, dtype=d),
                   lambda Y, A: reference.auc(Y, A, from_logits=True)),
    "precision": (lambda: fm.Precision(), lambda d: keras.metrics.Precision(dtype=d),
                  lambda Y, A: reference.precision(Y, A)),
    "precision_0.3": (lambda: fm.Precision(thresholds=0.3),
                      lambda d: keras.metrics.Precision(thresholds=0.3, dtype=d),
                      lambda Y, A: reference.precision(Y, A, 0.3)),
    "recall": (lambda: fm.Recall(), lambda d: keras.metrics.Recall(dtype=d),
               lambda Y, A: reference.recall(Y, A)),
    "recall_0.7": (lambda: fm.Recall(thresholds=[0.7]),
                   lambda d: keras.metrics.Recall(thresholds=0.7, dtype=d),
                   lambda Y, A: reference.recall(Y, A, 0.7)),
    "precision_top_2": (lambda: fm.Precision(top_k=2),
                        lambda d: keras.metrics.Precision(top_k=2, dtype=d),
                        lambda Y, A: reference.precision(Y, A, -1e10, top_k=2)),
    "recall_top_1_class_1": (lambda: fm.Recall(thresholds=0.2, top_k=1, class_id=1),
                             lambda d: keras.metrics.Recall(0.2, top_k=1, class_id=1,
                                                            dtype=d),
                             lambda Y, A: reference.recall(Y, A, 0.2, top_k=1, class_id=1)),
    "precision_class_0": (lambda: fm.Precision(class_id=0),
                          lambda d: keras.metrics.Precision(class_id=0, dtype=d),
                          lambda Y, A: reference.precision(Y, A, class_id=0)),
    "top_k": (lambda: fm.TopKCategoricalAccuracy(),
              lambda d: keras.metrics.TopKCategoricalAccuracy(dtype=d),
              lambda Y, A: reference.top_k_categorical_accuracy(Y, A)),
    "top_2": (lambda: fm.TopKCategoricalAccuracy(k=2),
              lambda d: keras.metrics.TopKCategoricalAccuracy(k=2, dtype=d),
              lambda Y, A: reference.top_k_categorical_accuracy(Y, A, 2)),
}


def keras_value(make, dtype, Y, A):
    metric = make(dtype)
    metric.update_state(Y, A)
    return float(metric.result())


def kernel_value(metric, Y, A, batch):
    """The metric as the training loop computes it: batch after batch, one phase."""
    resolved = [fm.resolve(metric, None, A.shape[1])]
    codes = np.array([r.code for r in resolved], np.int64)
    state = fm.plan(resolved, A.dtype)
    totals = np.full(1, 7, A.dtype)  # garbage: the reset must clear it
    if state is not None:
        state[2][:] = 3
    kernels.reset_metrics(totals, state)
    for start in range(0, A.shape[0], batch):
        kernels.accumulate_metrics(totals, A[start:start + batch], Y[start:start + batch],
                                   codes, state)
    kernels.finish_metrics(totals, codes, state, A.dtype.type(1 / A.shape[0]))
    return float(totals[0])


def predictions(kind, dtype, generator):
    """(Y, A) with ties: outputs exactly on AUC's thresholds, on 0, 0.5 and 1."""
    n = 150
    if kind.startswith("top") or "top_" in kind:
        A = generator.normal(size=(n, 7)).astype(dtype)
        A[:20, 1] = A[:20, 3]  # ties with the label's output
        A[20:30] = 0.25
        Y = np.eye(7, dtype=dtype)[generator.integers(0, 7, n)]
        Y[:20] = np.eye(7, dtype=dtype)[3]
        return Y, A
    if kind == "auc_logits":
        A = generator.normal(scale=3, size=(n, 2)).astype(dtype)
    else:
        A = generator.uniform(size=(n, 2)).astype(dtype)
        A[:40, 0] = (generator.integers(0, 200, 40) / dtype(199)).astype(dtype)
        A[40:50, 0] = [0, 0.5, 1, 0.3, 0.7, 0, 1, 0.5, 0.3, 0.7]
        A[50:60, 1] = (generator.integers(0, 11, 10) / 10).astype(dtype)
    Y = generator.integers(0, 2, (n, 2)).astype(dtype)
    return Y, A


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_metric_equals_keras_and_the_oracle_over_several_batches(kind, dtype):
    ours, theirs, oracle = CASES[kind]
    Y, A = predictions(kind, np.dtype(dtype).type, np.random.default_rng(len(kind)))
    expected = keras_value(theirs, dtype, Y, A)
    if dtype == "float64" and not kind.startswith("top"):
        # (see KERAS_FLOAT32; for AUC only where no prediction sits on a threshold, as
        # float32 and float64 bucket those differently)
        smooth = slice(60, None) if kind.startswith("auc") else slice(None)
        assert kernel_value(ours(), Y[smooth], A[smooth], 16) == pytest.approx(
            keras_value(theirs, dtype, Y[smooth], A[smooth]), abs=KERAS_FLOAT32)
        expected = oracle(Y, A)
    for batch in (1, 16, 150):
        assert kernel_value(ours(), Y, A, batch) == pytest.approx(
            expected, abs=TOLERANCE[dtype]), batch
    assert oracle(Y, A) == pytest.approx(expected, abs=TOLERANCE[dtype])


@pytest.mark.parametrize("labels", ["ones", "zeros"])
@pytest.mark.parametrize("kind", ["auc", "auc_pr", "precision", "recall"])
def test_all_one_and_all_zero_labels_give_keras_value(kind, labels):
    ours, theirs, oracle = CASES[kind]
    A = np.random.default_rng(3).uniform(size=(40, 1)).astype(np.float32)
    Y = np.full((40, 1), 1.0 if labels == "ones" else 0.0, np.float32)
    expected = keras_value(theirs, "float32", Y, A)
    assert kernel_value(ours(), Y, A, 8) == pytest.approx(expected, abs=1e-6)
    assert oracle(Y, A) == pytest.approx(expected, abs=1e-6)


def binary_data(n=90, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, 3))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.7 * generator.normal(size=n) > 0).astype(float)
    return X, y


def binary_model(dtype, metrics, optimizer="adam"):
    model = fa.Sequential([fa.Input(shape=(3,)), fa.layers.Dense(5, activation="tanh"),
                           fa.layers.Dense(1, activation="sigmoid")], dtype=dtype, seed=1)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=metrics)
    return model


KERAS_BINARY = {"auc": lambda d: keras.metrics.AUC(dtype=d),
                "pr_auc": lambda d: keras.metrics.AUC(curve="PR", dtype=d),
                "precision": lambda d: keras.metrics.Precision(dtype=d),
                "recall": lambda d: keras.metrics.Recall(thresholds=0.4, dtype=d)}
ORACLE_BINARY = {"auc": reference.auc,
                 "pr_auc": lambda Y, A: reference.auc(Y, A, curve="PR"),
                 "precision": reference.precision,
                 "recall": lambda Y, A: reference.recall(Y, A, 0.4)}


def check_binary(values, y, outputs, dtype, prefix=""):
    """Each binary metric in ``values`` against Keras and the oracle on ``outputs``."""
    for name, make in KERAS_BINARY.items():
        value = values[prefix + name]
        if not np.isscalar(value):
            value = value[0]
        assert value == pytest.approx(keras_value(make, dtype, y.reshape(-1, 1), outputs),
                                      abs=KERAS_FLOAT32 if dtype == "float64"
                                      else TOLERANCE[dtype]), name
        assert value == pytest.approx(ORACLE_BINARY[name](y.reshape(-1, 1), outputs),
                                      abs=TOLERANCE[dtype]), name


def binary_metrics():
    return ["accuracy", "auc", fm.AUC(curve="PR", name="pr_auc"), "precision",
            fm.Recall(thresholds=0.4)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluate_and_validation_equal_keras_on_predict(dtype):
    X, y = binary_data()
    X_val, y_val = binary_data(60, seed=1)
    model = binary_model(dtype, binary_metrics())
    assert model.metrics_names == ["loss", "accuracy", "auc", "pr_auc", "precision", "recall"]
    history = model.fit(X, y, batch_size=16, epochs=3, verbose=0)
    logs = model.fit(X, y, batch_size=16, epochs=1, verbose=0,
                     validation_data=(X_val, y_val)).history
    assert set(logs) == {"loss", "accuracy", "auc", "pr_auc", "precision", "recall",
                         "val_loss", "val_accuracy", "val_auc", "val_pr_auc",
                         "val_precision", "val_recall"}
    assert len(history.history["auc"]) == 3
    val_outputs = model.predict(X_val, verbose=0)
    check_binary(logs, y_val, val_outputs, dtype, "val_")
    check_binary(model.evaluate(X_val, y_val, verbose=0, return_dict=True), y_val,
                 val_outputs, dtype)
    assert isinstance(model.evaluate(X_val, y_val, verbose=0), list)


def test_training_metrics_are_epoch_level_not_batch_means():
    """With a zero learning rate the weights stay put, so the training phase's AUC over
    seven batches must be the AUC of predict over all rows (a mean of seven batch AUCs
    differs), in the fused loop and in the batch-by-batch path of batch callbacks."""
    X, y = binary_data()
    model = binary_model("float64", binary_metrics(),
                         fa.optimizers.SGD(learning_rate=1e-300))  # too small to move
    outputs = model.predict(X, verbose=0)
    fused = model.fit(X, y, batch_size=13, epochs=1, shuffle=False, verbose=0).history
    seen = []
    by_batch = model.fit(X, y, batch_size=13, epochs=1, shuffle=False, verbose=0,
                         callbacks=[fa.callbacks.LambdaCallback(
                             on_train_batch_end=lambda batch, logs: seen.append(logs))]
                         ).history
    assert np.array_equal(model.predict(X, verbose=0), outputs)
    check_binary(fused, y, outputs, "float64")
    check_binary(by_batch, y, outputs, "float64")
    assert seen[-1]["auc"] == pytest.approx(fused["auc"][0], abs=1e-12)
    batch_mean = np.mean([keras_value(KERAS_BINARY["auc"], "float64",
                                      y[s:s + 13].reshape(-1, 1), outputs[s:s + 13])
                          for s in range(0, 90, 13)])
    assert abs(batch_mean - fused["auc"][0]) > 1e-5  # far beyond the tolerance above


def test_top_k_in_a_softmax_model_equals_keras(one_hot):
    generator = np.random.default_rng(4)
    X = generator.normal(size=(80, 4))
    labels = generator.integers(0, 8, 80)
    model = fa.Sequential([fa.Input(shape=(4,)), fa.layers.Dense(8, activation="softmax")],
                          dtype="float32", seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_top_k_categorical_accuracy",
                           fm.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    logs = model.fit(X, labels, batch_size=16, epochs=1, verbose=0,
                     validation_data=(X, labels)).history
    outputs = model.predict(X, verbose=0)
    for name, k in (("sparse_top_k_categorical_accuracy", 5), ("top2", 2)):
        metric = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
        metric.update_state(labels, outputs)
        assert logs["val_" + name][0] == pytest.approx(float(metric.result()), abs=1e-6)
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=["top_k_categorical_accuracy"])
    metric = keras.metrics.TopKCategoricalAccuracy()
    metric.update_state(one_hot(labels, 8), outputs)
    assert model.evaluate(X, one_hot(labels, 8), verbose=0)[1] == pytest.approx(
        float(metric.result()), abs=1e-6)


def test_metric_objects_survive_save_load_and_the_compile_config(tmp_path):
    X, y = binary_data()
    model = binary_model("float32", binary_metrics())
    model.fit(X, y, batch_size=32, epochs=2, verbose=0)
    config = model.get_compile_config()
    json.dumps(config)
    assert config["metrics"][2] == {"class_name": "AUC", "config": fm.AUC(
        curve="PR", name="pr_auc").get_config()}
    loaded = fa.load_model(model.save(str(tmp_path / "m.npz")))
    assert loaded.metrics_names == model.metrics_names
    assert loaded.get_compile_config()["metrics"] == config["metrics"]
    assert loaded.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)
    again = binary_model("float32", [fm.get(m) for m in config["metrics"]])
    assert again.metrics_names == model.metrics_names


@pytest.mark.parametrize("make", [lambda: fm.AUC(num_thresholds=50, curve="PR", name="a"),
                                  lambda: fm.Precision(thresholds=0.25),
                                  lambda: fm.Recall(), lambda: fm.TopKCategoricalAccuracy(3),
                                  lambda: fm.SparseTopKCategoricalAccuracy(k=1)])
def test_get_config_round_trips_and_reads_keras_configs(make):
    metric = make()
    assert type(metric).from_config(metric.get_config()) == metric
    keras_metric = getattr(keras.metrics, type(metric).__name__).from_config(
        metric.get_config())
    assert type(metric).from_config(keras_metric.get_config()).get_config() == {
        **metric.get_config(), "dtype": "float32"}


@pytest.mark.parametrize("metrics, error, match", [
    (["roc_auc"], ValueError, "unknown metric 'roc_auc'; expected one of .*'auc'"),
    ([lambda y, p: 0], ValueError, "does not support a callable metric"),
    (["auc", fm.AUC()], ValueError, r"distinct names.*\['auc'\]"),
    (42, TypeError, "metrics must be a metric name"),
])
def test_bad_metrics_are_refused_and_leave_the_model_as_it_was(metrics, error, match):
    model = binary_model("float32", ["auc"])
    with pytest.raises(error, match=match):
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics)
    assert model.metrics_names == ["loss", "auc"]


@pytest.mark.parametrize("make, error, match", [
    (lambda: fm.Precision(thresholds=1.5), ValueError, r"thresholds must be in \[0, 1\]"),
    (lambda: fm.Recall(thresholds=float("nan")), ValueError, "thresholds must be in"),
    (lambda: fm.Recall(thresholds="0.5"), TypeError, "thresholds must be a float"),
    (lambda: fm.Precision(thresholds=[0.3, 0.5]), ValueError, "several thresholds"),
    (lambda: fm.Precision(top_k=0), ValueError, "top_k must be None or an int >= 1; got 0"),
    (lambda: fm.Recall(class_id=-1), ValueError, "class_id must be None or an int >= 0"),
    (lambda: fm.Recall(class_id=1.0), TypeError, "class_id must be None or an int"),
    (lambda: binary_model("float32", [fm.Recall(class_id=1)]), ValueError,
     "Recall's class_id must be at most 0 for a model of 1 outputs; got 1"),
    (lambda: binary_model("float32", [fm.Precision(top_k=2)]), ValueError,
     "Precision's top_k must be at most 1"),
    (lambda: fm.TopKCategoricalAccuracy(k=0), ValueError, "k must be an int >= 1; got 0"),
    (lambda: fm.TopKCategoricalAccuracy(k=2.5), TypeError, "k must be an int"),
    (lambda: fm.AUC(num_thresholds=1), ValueError, "num_thresholds must be an int > 1"),
    (lambda: fm.AUC(curve="XYZ"), ValueError, "unknown AUC curve 'XYZ'; expected one of"),
    (lambda: fm.AUC(curve="PRGAIN"), ValueError, "does not support curve='PRGAIN'"),
    (lambda: fm.AUC(summation_method="trapezoid"), ValueError, "summation_method"),
    (lambda: fm.AUC(multi_label=True), ValueError, "does not support multi_label=True"),
    (lambda: fm.AUC(dtype="int32"), ValueError, "dtype must be None or a float dtype"),
    (lambda: fm.AUC(from_logits=1.0), TypeError, "from_logits must be True or False"),
    (lambda: fm.get({"class_name": "Conv", "config": {}}), ValueError, "a metric config"),
])
def test_bad_metric_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_model_with_only_row_metrics_runs_without_metric_state():
    model = binary_model("float32", ["accuracy", "mse"])
    assert model._metric_state is None
    model = binary_model("float32", ["accuracy", fm.Precision()])
    settings, thresholds, counts = model._metric_state
    assert counts.shape == (kernels.N_CONFUSION,) and thresholds.dtype == np.float32


def test_evaluate_over_several_blocks_is_one_phase_and_calls_do_not_share_counts():
    """2,500 rows are three inference blocks: the counts run across them; evaluations
    from several threads at once each keep counts of their own."""
    from concurrent.futures import ThreadPoolExecutor
    X, y = binary_data(2500, seed=5)
    model = binary_model("float32", binary_metrics())
    model.fit(X, y, batch_size=64, epochs=1, verbose=0)
    result = model.evaluate(X, y, verbose=0, return_dict=True)
    check_binary(result, y, model.predict(X, verbose=0), "float32")
    halves = [(X[:1200], y[:1200]), (X[1200:], y[1200:])] * 4
    expected = [model.evaluate(a, b, verbose=0) for a, b in halves]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda ab: model.evaluate(*ab, verbose=0), halves))
    assert together == expected


def test_one_metric_object_or_name_is_accepted_as_keras_accepts_it():
    model = binary_model("float32", fm.AUC(name="area"))
    assert model.metrics_names == ["loss", "area"]
    model = binary_model("float32", "AUC")
    assert model.metrics_names == ["loss", "auc"]
    assert model.get_compile_config()["metrics"] == [fm.serialize(fm.AUC())]


def test_auc_on_a_regression_head_clips_and_casts_as_keras():
    """Keras refuses no head: predictions outside [0, 1] are clipped, labels other than
    0 count as positive. fastann does the same."""
    generator = np.random.default_rng(6)
    X = generator.normal(size=(70, 3))
    y = np.round(X[:, 0] + generator.normal(size=70), 1)  # many zeros, negatives, > 1
    model = fa.Sequential([fa.Input(shape=(3,)), fa.layers.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse", metrics=["auc", "precision"])
    outputs = model.predict(X, verbose=0)
    assert outputs.min() < 0 and outputs.max() > 1
    result = model.evaluate(X, y, verbose=0, return_dict=True)
    for name, metric in (("auc", keras.metrics.AUC()), ("precision", keras.metrics.Precision())):
        metric.update_state(y.reshape(-1, 1), outputs)
        assert result[name] == pytest.approx(float(metric.result()), abs=1e-6), name


ROW_METRICS = [("BinaryAccuracy", "binary_accuracy", "binary_crossentropy", 1),
               ("CategoricalAccuracy", "categorical_accuracy", "categorical_crossentropy", 3),
               ("SparseCategoricalAccuracy", "sparse_categorical_accuracy",
                "sparse_categorical_crossentropy", 3),
               ("MeanAbsoluteError", "mean_absolute_error", "mse", 2),
               ("MeanSquaredError", "mean_squared_error", "mse", 2),
               ("RootMeanSquaredError", "root_mean_squared_error", "mse", 2)]


@pytest.mark.parametrize("class_name, name, loss, n_out", ROW_METRICS)
def test_per_row_metric_objects_are_their_names(class_name, name, loss, n_out):
    """keras.metrics.BinaryAccuracy() and friends: the same numbers as their names, the
    same logs key, Keras' config read back, and saved with the model."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    labels = rng.integers(0, n_out, 40)
    y = {"binary_crossentropy": (X[:, 0] > 0).astype(float),
         "categorical_crossentropy": np.eye(3)[labels],
         "sparse_categorical_crossentropy": labels}.get(loss, rng.normal(size=(40, n_out)))
    output = {"binary_crossentropy": "sigmoid", "mse": None}.get(loss, "softmax")
    results = []
    for metric in (name, getattr(fa.metrics, class_name)()):
        model = fa.Sequential([fa.layers.Dense(n_out, activation=output, input_shape=(3,))],
                              dtype="float64", seed=0)
        model.compile(optimizer="sgd", loss=loss, metrics=[metric])
        assert model.metrics_names == ["loss", name]
        results.append(model.evaluate(X, y, verbose=0, return_dict=True))
    assert results[0] == results[1]
    ours = getattr(fa.metrics, class_name)(name="renamed", dtype="float32")
    theirs = getattr(keras.metrics, class_name)(name="renamed")
    assert type(ours).from_config(theirs.get_config()) == ours
    assert fa.metrics.get(fa.metrics.serialize(ours)) == ours
