"""Callbacks and the per-epoch logs they see, through the public API.

EarlyStopping, ModelCheckpoint and ReduceLROnPlateau follow Keras 3 step for step: the
monitored values are fed by a user callback placed before them in the list (the logs
dict is shared), so every expected epoch is worked out by hand. Validation values and
metrics are checked against ``model.evaluate`` on the same rows after each epoch, and
sample and class weights against ``fastann.reference``.
"""
import warnings

import numpy as np
import pytest

import fastann as fa
from fastann import reference, schedules

RTOL = 1e-10
ATOL = 1e-13


class Recorder(fa.Callback):
    """Copies the weights and logs at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.epochs, self.weights, self.logs = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


class Feeder(fa.Callback):
    """Writes values[i] into logs[key] in the i-th epoch of each fit."""

    def __init__(self, values, key="score"):
        self.values, self.key = list(values), key

    def on_train_begin(self, logs=None):
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[self.seen]
        self.seen += 1


class LearningRates(fa.Callback):
    """The optimizer's lr after each epoch's callbacks ran (place it last)."""

    def on_train_begin(self, logs=None):
        self.after = []

    def on_epoch_end(self, epoch, logs=None):
        self.after.append(self.model.optimizer.lr)



def tiny_model(optimizer="sgd", loss="mse", seed=0):
    model = fa.Model([fa.Dense(3, activation="tanh"), fa.Dense(1)], input_dim=2,
                     dtype="float64", seed=seed)
    model.compile(loss=loss, optimizer=optimizer)
    return model


def tiny_data(n=16, seed=0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, 2))
    return X, X[:, :1] - 0.5 * X[:, 1:]


def overfitting_problem():
    """12 noisy points, 32 tanh units, Adam: val_loss does not fall steadily (over 400
    epochs its minimum is near epoch 230, after which the net fits the noise). Returns
    the compiled model, the training data and the validation data."""
    generator = np.random.default_rng(0)
    X = generator.uniform(-1, 1, (12, 1))
    y = np.sin(3 * X) + 0.4 * generator.normal(size=X.shape)
    X_val = np.linspace(-1, 1, 50)[:, None]
    model = fa.Model([fa.Dense(32, activation="tanh"), fa.Dense(1)], input_dim=1,
                     dtype="float64", seed=0)
    model.compile(loss="mse", optimizer=fa.Adam(lr=0.02))
    return model, X, y, (X_val, np.sin(3 * X_val))


def overfitting_run(**early_stopping):
    """``overfitting_problem`` under EarlyStopping: it ends the run after a minimum that
    is not its last epoch."""
    model, X, y, validation_data = overfitting_problem()
    recorder, stopper = Recorder(), fa.EarlyStopping(**early_stopping)
    history = model.fit(X, y, epochs=400, batch_size="full", verbose=0,
                        validation_data=validation_data, callbacks=[recorder, stopper])
    return model, history, recorder, stopper


# -------------------------------------------------------------- EarlyStopping
def test_early_stopping_restores_the_best_epochs_weights():
    model, history, recorder, stopper = overfitting_run(patience=20,
                                                        restore_best_weights=True)
    val_loss = np.array(history.history["val_loss"])
    best = int(val_loss.argmin())
    assert 0 < best < len(val_loss) - 1  # a run where restoring matters
    assert stopper.best_epoch == best and stopper.best == val_loss[best]
    assert stopper.stopped_epoch == best + 20 == len(val_loss) - 1 == model.epochs_trained - 1
    for actual, at_best, at_end in zip(model.get_weights(), recorder.weights[best],
                                       recorder.weights[-1]):
        np.testing.assert_array_equal(actual, at_best)
        assert not np.array_equal(actual, at_end)
    assert model.evaluate(np.linspace(-1, 1, 50)[:, None],
                          np.sin(3 * np.linspace(-1, 1, 50))[:, None], verbose=0, return_dict=True)["loss"] == \
        pytest.approx(val_loss[best], rel=1e-10)


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, history, recorder, stopper = overfitting_run(patience=20)
    for actual, at_end in zip(model.get_weights(), recorder.weights[-1]):
        np.testing.assert_array_equal(actual, at_end)
    assert stopper.best_weights is None


@pytest.mark.parametrize("values, options, stop", [
    ([5, 4, 4.5, 3, 3.5, 3.2, 3.1, 2.9, 2.8, 2.7], dict(patience=0), 2),
    ([5, 4, 4.5, 3, 3.5, 3.2, 3.1, 2.9, 2.8, 2.7], dict(patience=2), 5),
    ([5, 4, 4.5, 3, 3.5, 3.2, 3.1, 2.9, 2.8, 2.7], dict(patience=3), 6),
    ([5, 4, 4.5, 3, 3.5, 3.2, 3.1, 2.9, 2.8, 2.7], dict(patience=4), 0),  # 0: never, as Keras
    ([5, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0], dict(patience=2, min_delta=0.5), 2),
    ([5, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0], dict(patience=1, min_delta=-0.15), 2),
    ([5, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0], dict(patience=0, mode="max"), 1),
    ([0.5, 0.6, 0.55, 0.54, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6], dict(patience=2, mode="max"), 3),
], ids=["patience-0", "patience-2", "patience-3", "patience-4-never", "min_delta",
        "min_delta-sign-ignored", "mode-max", "mode-max-2"])
def test_early_stopping_patience(values, options, stop):
    X, y = tiny_data()
    model = tiny_model()
    stopper = fa.EarlyStopping(monitor="score", **options)
    history = model.fit(X, y, epochs=len(values), verbose=0,
                        callbacks=[Feeder(values), stopper])
    expected_epochs = len(values) if stop == 0 else stop + 1
    assert len(history.history["loss"]) == model.epochs_trained == expected_epochs
    assert stopper.stopped_epoch == stop


def test_early_stopping_auto_mode_maximises_accuracies():
    values = [0.5, 0.6, 0.55, 0.54, 0.7, 0.6]  # minimised, it would stop at epoch 2
    X, y = tiny_data()
    model = tiny_model()
    stopper = fa.EarlyStopping(monitor="my_acc", patience=2)
    model.fit(X, y, epochs=6, verbose=0, callbacks=[Feeder(values, "my_acc"), stopper])
    assert stopper.stopped_epoch == 3 and stopper.best == 0.6


def test_early_stopping_numbers_each_fits_epochs_as_keras():
    X, y = tiny_data()
    model = tiny_model()
    model.fit(X, y, epochs=3, verbose=0)
    stopper = fa.EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    recorder = Recorder()
    model.fit(X, y, epochs=6, verbose=0, callbacks=[Feeder([3, 2, 2.5, 1]), stopper, recorder])
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 2)
    assert recorder.epochs == [0, 1, 2] and model.epochs_trained == 6
    np.testing.assert_array_equal(model.get_weights()[0], recorder.weights[1][0])


def test_missing_monitor_warns_once_and_does_nothing():
    X, y = tiny_data()
    model = tiny_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, y, epochs=5, verbose=0, callbacks=[fa.EarlyStopping(patience=0)])
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert "'val_loss' is not in the logs" in messages[0] and "validation_split" in messages[0]
    assert len(history.history["loss"]) == 5


def test_early_stopping_arguments_are_checked():
    with pytest.raises(ValueError, match="patience"):
        fa.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        fa.EarlyStopping(mode="lowest")
    with pytest.raises(TypeError, match="monitor"):
        fa.EarlyStopping(monitor=None)


# ------------------------------------------------------- stopping from a callback
class StopAt(fa.Callback):
    def __init__(self, epoch, by_flag):
        self.epoch, self.by_flag = epoch, by_flag

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            if self.by_flag:
                self.model.stop_training = True
                return None
            return True
        return None


@pytest.mark.parametrize("by_flag", [False, True], ids=["return-true", "stop_training"])
def test_user_callback_stops_training(by_flag):
    X, y = tiny_data()
    model = tiny_model()
    recorder = Recorder()
    history = model.fit(X, y, epochs=50, verbose=0, callbacks=[StopAt(2, by_flag), recorder])
    assert len(history.history["loss"]) == model.epochs_trained == 3
    assert recorder.epochs == [0, 1, 2]  # every callback saw the last epoch
    history = model.fit(X, y, epochs=4, verbose=0)  # the flag does not leak into later fits
    assert len(history.history["loss"]) == 4 and model.epochs_trained == 7


def test_divergence_still_raises_with_callbacks():
    X, y = tiny_data()
    model = tiny_model(optimizer=fa.SGD(lr=1e6))
    recorder = Recorder()
    with pytest.raises(FloatingPointError, match="diverged"):
        model.fit(X, y * 1e3, epochs=50, batch_size="full", verbose=0,
                  callbacks=[fa.EarlyStopping(monitor="loss", patience=100), recorder])
    assert np.isfinite(model.params).all()
    if recorder.weights:  # the last good epoch's weights are kept
        np.testing.assert_array_equal(model.get_weights()[0], recorder.weights[-1][0])


# ------------------------------------------------------------ ReduceLROnPlateau
def test_reduce_lr_on_plateau_follows_keras(kernel_calls):
    scores = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89]
    # Keras 3's rule worked by hand (factor 0.5, patience 2, cooldown 1, min_lr 0.03):
    # epoch 3 reduces (2 epochs without improvement), 4 is cooldown, 5 reduces, 6
    # improves, 8 reduces to max(0.025, min_lr), 10 and 11 are at min_lr already.
    after = [0.2, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03]
    X, y = tiny_data()
    model = tiny_model(optimizer=fa.SGD(lr=0.2))
    reducer = fa.ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, cooldown=1,
                                   min_lr=0.03, min_delta=0)
    rates = LearningRates()
    model.fit(X, y, epochs=len(scores), verbose=0, callbacks=[Feeder(scores), reducer, rates])
    np.testing.assert_allclose(rates.after, after, rtol=1e-15)
    # each epoch trained with the rate set after the one before
    assert [len(call) for call in kernel_calls] == [1] * len(scores)
    np.testing.assert_allclose(np.concatenate(kernel_calls), [0.2] + after[:-1], rtol=1e-15)
    assert model.optimizer.lr == pytest.approx(0.03)  # it stays for later fits


def test_reduce_lr_on_plateau_min_delta_and_mode():
    X, y = tiny_data()
    model = tiny_model(optimizer=fa.SGD(lr=0.1))
    # improvements smaller than min_delta=0.1 do not count: epochs 1-3 are a plateau
    reducer = fa.ReduceLROnPlateau(monitor="score", factor=0.5, patience=3, min_delta=0.1)
    rates = LearningRates()
    model.fit(X, y, epochs=5, verbose=0,
              callbacks=[Feeder([1, 0.95, 0.92, 0.91, 0.8]), reducer, rates])
    np.testing.assert_allclose(rates.after, [0.1, 0.1, 0.1, 0.05, 0.05], rtol=1e-15)
    model = tiny_model(optimizer=fa.SGD(lr=0.1))
    reducer = fa.ReduceLROnPlateau(monitor="val_accuracy_like", factor=0.5, patience=1,
                                   mode="max")
    model.fit(X, y, epochs=3, verbose=0,
              callbacks=[Feeder([0.5, 0.6, 0.7], "val_accuracy_like"), reducer, rates])
    np.testing.assert_allclose(rates.after, [0.1, 0.1, 0.1], rtol=1e-15)


def test_reduce_lr_on_plateau_refuses_a_schedule_before_training():
    X, y = tiny_data()
    model = tiny_model(optimizer=fa.SGD(lr=schedules.StepDecay(0.1, 0.5, 2)))
    before = model.get_weights()
    with pytest.raises(TypeError, match="schedule"):
        model.fit(X, y, epochs=3, verbose=0, callbacks=[fa.ReduceLROnPlateau(monitor="loss")])
    assert model.epochs_trained == 0
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_reduce_lr_on_plateau_arguments_are_checked():
    with pytest.raises(ValueError, match="factor"):
        fa.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="cooldown"):
        fa.ReduceLROnPlateau(cooldown=-1)
    with pytest.raises(ValueError, match="min_lr"):
        fa.ReduceLROnPlateau(min_lr=-0.1)


# -------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_the_path_and_saves_every_epoch(monkeypatch):
    X, y = tiny_data()
    model = tiny_model()
    saved = []
    monkeypatch.setattr(model, "save",
                        lambda path: saved.append((path, model.get_weights()[0].copy())),
                        raising=False)
    recorder = Recorder()
    model.fit(X, y, epochs=3, verbose=0, callbacks=[
        recorder, fa.ModelCheckpoint("ckpt-{epoch:02d}-{loss:.4f}")])
    assert [path for path, _ in saved] == [
        f"ckpt-{e + 1:02d}-{logs['loss']:.4f}" for e, logs in enumerate(recorder.logs)]
    for (_, weights), recorded in zip(saved, recorder.weights):
        np.testing.assert_array_equal(weights, recorded[0])


def test_model_checkpoint_save_best_only(monkeypatch):
    X, y = tiny_data()
    model = tiny_model()
    saved = []
    monkeypatch.setattr(model, "save", saved.append, raising=False)
    scores = [3, 2, 2.5, 1, 1.5, 1.2]
    model.fit(X, y, epochs=6, verbose=0, callbacks=[
        Feeder(scores), fa.ModelCheckpoint("m{epoch}", monitor="score", save_best_only=True)])
    assert saved == ["m1", "m2", "m4"]


def test_model_checkpoint_bad_path_field_is_named(monkeypatch):
    X, y = tiny_data()
    model = tiny_model()
    monkeypatch.setattr(model, "save", lambda path: None, raising=False)
    with pytest.raises(ValueError, match="cannot be formatted"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[fa.ModelCheckpoint("m-{val_loss}")])


def test_model_checkpoint_save_weights_only_calls_save_weights(monkeypatch, tmp_path):
    X, y = tiny_data()
    model = tiny_model()
    if not hasattr(model, "save_weights"):
        with pytest.raises(fa.NotSupportedError, match=r"save_weights_only=True"):
            model.fit(X, y, epochs=1, verbose=0, callbacks=[
                fa.ModelCheckpoint(tmp_path / "w.weights.h5", save_weights_only=True)])
        assert model.epochs_trained == 0
    written = []
    monkeypatch.setattr(model, "save_weights", written.append, raising=False)
    monkeypatch.setattr(model, "save", lambda path: pytest.fail("saved the model"),
                        raising=False)
    model.fit(X, y, epochs=2, verbose=0, callbacks=[
        fa.ModelCheckpoint(str(tmp_path / "sub" / "w{epoch}.weights.h5"),
                           save_weights_only=True)])
    assert written == [str(tmp_path / "sub" / f"w{e}.weights.h5") for e in (1, 2)]
    assert (tmp_path / "sub").is_dir()  # the folder is made, as Keras makes it


def test_model_checkpoint_without_the_monitored_value_saves_every_epoch(monkeypatch):
    X, y = tiny_data()
    model = tiny_model()
    saved = []
    monkeypatch.setattr(model, "save", saved.append, raising=False)
    with pytest.warns(RuntimeWarning, match=r"'val_loss' is not in the logs, so every "
                                            r"epoch is saved"):
        model.fit(X, y, epochs=2, verbose=0,
                  callbacks=[fa.ModelCheckpoint("m{epoch}", save_best_only=True)])
    assert saved == ["m1", "m2"]  # as Keras


def test_model_checkpoint_best_model_loads_back(tmp_path):
    if not hasattr(fa, "load_model"):
        pytest.skip("fastann.saving is not there")
    recorder = Recorder()
    model, X, y, validation_data = overfitting_problem()
    path = tmp_path / "best.npz"
    history = model.fit(X, y, epochs=300, batch_size="full", verbose=0,
                        validation_data=validation_data,
                        callbacks=[recorder, fa.ModelCheckpoint(path, save_best_only=True)])
    best = int(np.argmin(history.history["val_loss"]))
    assert best < 299
    loaded = fa.load_model(path)
    for actual, expected in zip(loaded.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(actual, expected)


# ----------------------------------------------------------------- chunk sizing
def test_history_only_fits_run_many_epochs_per_kernel_call(kernel_calls):
    X, y = tiny_data()
    model = tiny_model()
    model.fit(X, y, epochs=3000, verbose=0)
    lengths = [len(call) for call in kernel_calls]
    assert sum(lengths) == 3000
    assert len(lengths) < 30 and max(lengths) >= 100


def test_a_per_epoch_callback_makes_chunks_one_epoch_long(kernel_calls):
    class EpochHook(fa.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            pass

    X, y = tiny_data()
    model = tiny_model()
    model.fit(X, y, epochs=40, verbose=0, callbacks=[EpochHook()])
    assert [len(call) for call in kernel_calls] == [1] * 40


def test_a_callback_without_epoch_hooks_leaves_chunks_long(kernel_calls):
    X, y = tiny_data()
    model = tiny_model()
    model.fit(X, y, epochs=40, verbose=0, callbacks=[fa.Callback()])
    assert len(kernel_calls) < 40 and sum(len(call) for call in kernel_calls) == 40


# ------------------------------------ validation, metrics and weights in the logs
class Evaluator(fa.Callback):
    """``model.evaluate`` on given rows after every epoch."""

    def __init__(self, X, y, sample_weight=None):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.results = []

    def on_epoch_end(self, epoch, logs=None):
        self.results.append(self.model.evaluate(self.X, self.y, sample_weight=self.sample_weight, verbose=0, return_dict=True))


CLASSIFICATION = {
    "binary": ("binary_crossentropy", "sigmoid", 1, ["accuracy"]),
    "categorical": ("categorical_crossentropy", "softmax", 3, ["accuracy"]),
    "sparse": ("sparse_categorical_crossentropy", "softmax", 3, ["accuracy"]),
    "mse": ("mse", "linear", 2, ["mae", "mse"]),
}


def classification_data(kind, n=40, seed=0):
    loss, _, n_out, _ = CLASSIFICATION[kind]
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n, 3))
    if kind == "binary":
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
        return X, y, y[:, None]
    if kind == "mse":
        y = np.column_stack([X[:, 0] - X[:, 2], np.tanh(X[:, 1])])
        return X, y, y
    labels = np.argmax(X @ generator.normal(size=(3, 3)), axis=1)
    one_hot = np.eye(3)[labels]
    return X, (labels if kind == "sparse" else one_hot), one_hot


def numpy_metrics(kind, weights, activations, X, Y):
    """The metrics of CLASSIFICATION[kind] computed from scratch with reference.forward."""
    output = reference.forward(weights, activations, X)[1][-1]
    if kind == "binary":
        return [np.mean((output > 0.5) == (Y > 0.5))]
    if kind in ("categorical", "sparse"):
        return [np.mean(output.argmax(axis=1) == Y.argmax(axis=1))]
    return [np.mean(np.abs(output - Y)), np.mean((output - Y) ** 2)]


@pytest.mark.parametrize("kind", list(CLASSIFICATION))
def test_validation_split_holds_out_the_last_rows(kind, reference_loss):
    """val_ values are evaluate() on the last rows after each epoch; the loss is the
    reference's training on the first rows, shuffled with the model's stream."""
    loss, output, n_out, metrics = CLASSIFICATION[kind]
    X, y, Y = classification_data(kind)
    activations = ["tanh", output]
    model = fa.Model([fa.Dense(5, activation="tanh"), fa.Dense(n_out, activation=output)],
                     input_dim=3, dtype="float64", seed=1)
    model.compile(loss=loss, optimizer=fa.SGD(lr=0.2, momentum=0.5), metrics=metrics)
    initial, rng_state = model.get_weights(), int(model._rng_state[0])
    n_train = 30  # floor(40 * 0.75)
    evaluator = Evaluator(X[n_train:], y[n_train:])
    history = model.fit(X, y, epochs=8, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[evaluator]).history
    assert set(history) == {"loss", *metrics, "val_loss", *("val_" + m for m in metrics)}
    for epoch, result in enumerate(evaluator.results):
        for name, value in result.items():
            assert history["val_" + name][epoch] == pytest.approx(value, rel=RTOL, abs=ATOL)
    _, expected = reference.train(initial, activations, X[:n_train], Y[:n_train],
                                  reference_loss(loss), reference.SGD(lr=0.2, momentum=0.5),
                                  8, batch_size=8, shuffle=True, rng_state=rng_state)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=RTOL, atol=ATOL)
    final = numpy_metrics(kind, model.get_weights(), activations, X[n_train:], Y[n_train:])
    np.testing.assert_allclose([history["val_" + m][-1] for m in metrics], final, rtol=1e-12)


@pytest.mark.parametrize("kind", list(CLASSIFICATION))
def test_training_metrics_are_those_of_each_epochs_starting_weights(kind):
    """Full batch: epoch e's metrics are computed before its one update, so they are the
    metrics of the weights after epoch e - 1 (the initial ones for epoch 0)."""
    loss, output, n_out, metrics = CLASSIFICATION[kind]
    X, y, Y = classification_data(kind, seed=2)
    activations = ["relu", output]
    model = fa.Model([fa.Dense(6, activation="relu"), fa.Dense(n_out, activation=output)],
                     input_dim=3, dtype="float64", seed=5)
    model.compile(loss=loss, optimizer=fa.SGD(lr=0.5), metrics=metrics)
    starts = [model.get_weights()]
    recorder = Recorder()
    history = model.fit(X, y, epochs=6, batch_size="full", verbose=0, callbacks=[recorder])
    starts += recorder.weights[:-1]
    for epoch, weights in enumerate(starts):
        expected = numpy_metrics(kind, weights, activations, X, Y)
        actual = [history.history[m][epoch] for m in metrics]
        np.testing.assert_allclose(actual, expected, rtol=1e-12)
    evaluated = model.evaluate(X, y, verbose=0, return_dict=True)
    np.testing.assert_allclose([evaluated[m] for m in metrics],
                               numpy_metrics(kind, model.get_weights(), activations, X, Y),
                               rtol=1e-12)


def test_sample_weight_matches_the_reference_and_weights_validation():
    X, y, Y = classification_data("binary", n=40, seed=3)
    weight = np.random.default_rng(3).uniform(0, 3, 40)
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=3, dtype="float64", seed=2)
    model.compile(loss="binary_crossentropy", optimizer=fa.Adam(lr=0.01))
    initial, rng_state = model.get_weights(), int(model._rng_state[0])
    evaluator = Evaluator(X[32:], y[32:], sample_weight=weight[32:])
    history = model.fit(X, y, epochs=20, batch_size=5, sample_weight=weight,
                        validation_split=0.2, verbose=0, callbacks=[evaluator]).history
    trained, expected = reference.train(initial, ["tanh", "sigmoid"], X[:32], Y[:32],
                                        "binary_crossentropy", reference.Adam(lr=0.01), 20,
                                        batch_size=5, shuffle=True, rng_state=rng_state,
                                        sample_weight=weight[:32])
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=RTOL, atol=ATOL)
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(history["val_loss"], [r["loss"] for r in evaluator.results],
                               rtol=RTOL)
    unweighted = model.evaluate(X[32:], y[32:], verbose=0, return_dict=True)["loss"]
    assert abs(unweighted - history["val_loss"][-1]) > 1e-3  # the weights counted


@pytest.mark.parametrize("kind", ["binary", "sparse"])
def test_class_weight_weighs_training_rows_only(kind, reference_loss):
    loss, output, n_out, _ = CLASSIFICATION[kind]
    X, y, Y = classification_data(kind, n=40, seed=4)
    class_weight = {0: 0.3, 1: 2.5} if kind == "binary" else {0: 2.0, 2: 0.5}
    labels = Y.argmax(axis=1) if kind == "sparse" else Y[:, 0].astype(int)
    per_row = np.array([class_weight.get(int(c), 1.0) for c in labels])
    model = fa.Model([fa.Dense(4, activation="tanh"), fa.Dense(n_out, activation=output)],
                     input_dim=3, dtype="float64", seed=2)
    model.compile(loss=loss, optimizer=fa.SGD(lr=0.1, momentum=0.9))
    initial, rng_state = model.get_weights(), int(model._rng_state[0])
    evaluator = Evaluator(X[30:], y[30:])
    history = model.fit(X, y, epochs=15, batch_size=6, class_weight=class_weight,
                        validation_split=0.25, verbose=0, callbacks=[evaluator]).history
    trained, expected = reference.train(initial, ["tanh", output], X[:30], Y[:30],
                                        reference_loss(loss),
                                        reference.SGD(lr=0.1, momentum=0.9), 15, batch_size=6,
                                        shuffle=True, rng_state=rng_state,
                                        sample_weight=per_row[:30])
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=RTOL, atol=ATOL)
    for actual, wanted in zip(model.get_weights(), trained):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)
    # validation is not class-weighted (Keras)
    np.testing.assert_allclose(history["val_loss"], [r["loss"] for r in evaluator.results],
                               rtol=RTOL)


def test_validation_data_with_sample_weights():
    X, y, _ = classification_data("categorical", n=50, seed=6)
    weight_val = np.linspace(0.1, 2.0, 20)
    model = fa.Model([fa.Dense(4, activation="relu"), fa.Dense(3, activation="softmax")],
                     input_dim=3, dtype="float64", seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    evaluator = Evaluator(X[30:], y[30:], sample_weight=weight_val)
    history = model.fit(X[:30], y[:30], epochs=5, verbose=0, callbacks=[evaluator],
                        validation_data=(X[30:], y[30:], weight_val)).history
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(history["val_" + name],
                                   [r[name] for r in evaluator.results], rtol=RTOL)
