"""fastann's callbacks against the installed Keras 3: every class both have takes the
same parameters (names, kinds, order, defaults), and EarlyStopping, ReduceLROnPlateau,
ModelCheckpoint and LearningRateScheduler decide and print what Keras' own callbacks,
driven by hand with the same monitored values, decide and print."""
import inspect
import os
import types

import numpy as np
import pytest

import fastann as fa
from fastann import callbacks

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")



def shared_classes():
    """The callback classes fastann and keras.callbacks both have."""
    return sorted(name for name, value in vars(callbacks).items()
                  if inspect.isclass(value) and issubclass(value, callbacks.Callback)
                  and not name.startswith("_") and hasattr(keras.callbacks, name))


def parameters(cls):
    return [(p.name, p.kind, p.default)
            for p in inspect.signature(cls).parameters.values()]


def test_the_shared_classes_are_the_expected_ones():
    assert shared_classes() == [
        "BackupAndRestore", "CSVLogger", "Callback", "EarlyStopping", "History",
        "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau",
        "TerminateOnNaN"]


@pytest.mark.parametrize("name", shared_classes())
def test_parameters_are_keras_3s(name):
    assert parameters(getattr(callbacks, name)) == parameters(getattr(keras.callbacks, name))


def test_keras_positional_order_and_keywords():
    stopper = fa.EarlyStopping("loss", 0.5, 3, 1, "min", 2.0, True, 4)
    assert (stopper.monitor, stopper.min_delta, stopper.patience, stopper.verbose,
            stopper.mode, stopper.baseline, stopper.restore_best_weights,
            stopper.start_from_epoch) == ("loss", 0.5, 3, 1, "min", 2.0, True, 4)
    checkpoint = fa.ModelCheckpoint(filepath="ck.keras", save_weights_only=True)
    assert checkpoint.filepath == "ck.keras" and checkpoint.save_weights_only
    checkpoint = fa.ModelCheckpoint("ck.keras", "loss", 1, True, False, "min", "epoch", 0.5)
    assert (checkpoint.verbose, checkpoint.save_best_only, checkpoint.mode,
            checkpoint.best) == (1, True, "min", 0.5)
    reducer = fa.ReduceLROnPlateau("loss", 0.5, 3, 1, "min", 0.01, 2, 0.001)
    assert (reducer.factor, reducer.patience, reducer.verbose, reducer.mode,
            reducer.min_delta, reducer.cooldown, reducer.min_lr) == (
        0.5, 3, 1, "min", 0.01, 2, 0.001)
    assert callbacks.BackupAndRestore("dir", "epoch", True).double_checkpoint
    assert callbacks.TerminateOnNaN(True).raise_error


def test_options_fastann_cannot_honour_take_only_keras_defaults():
    for make in (lambda: fa.ModelCheckpoint("ck.keras", save_freq=10),
                 lambda: callbacks.BackupAndRestore("dir", save_freq=10)):
        with pytest.raises(fa.NotSupportedError, match=r"save_freq=10"):
            make()
    with pytest.raises(ValueError, match=r"save_freq must be 'epoch'"):
        fa.ModelCheckpoint("ck.keras", save_freq="batch")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['epsilon'\]"):
        fa.ReduceLROnPlateau(epsilon=1e-4)
    with pytest.raises(ValueError, match=r"baseline must be a finite number or None"):
        fa.EarlyStopping(baseline=float("nan"))
    with pytest.raises(ValueError, match=r"start_from_epoch must be an int >= 0"):
        fa.EarlyStopping(start_from_epoch=-1)


# ------------------------------------------------- Keras' callbacks driven by hand
class Feeder(fa.Callback):
    """Writes values[i] into logs[key] in the i-th epoch of each fit."""

    def __init__(self, values, key="score"):
        self.values, self.key = list(values), key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Rates(fa.Callback):
    """The optimizer's rate after each epoch's callbacks (place it last)."""

    def on_train_begin(self, logs=None):
        self.after = []

    def on_epoch_end(self, epoch, logs=None):
        self.after.append(self.model.optimizer.lr)


def tiny_model(lr=0.1):
    model = fa.Model([fa.Dense(1)], input_dim=2, dtype="float64", seed=0)
    model.compile(loss="mse", optimizer=fa.SGD(lr=lr))
    return model


def tiny_fit(model, n_epochs, callback_list):
    X = np.random.default_rng(0).normal(size=(8, 2))
    return model.fit(X, X[:, :1], epochs=n_epochs, verbose=0, callbacks=callback_list)


def keras_run(callback, values, optimizer=None, key="score"):
    """Keras' callback over the epochs' values, as Keras' fit calls it; returns the
    epochs run and the rate after each one."""
    model = types.SimpleNamespace(stop_training=False, optimizer=optimizer,
                                  get_weights=lambda: [], set_weights=lambda weights: None)
    callback.set_model(model)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {key: value})
        rates.append(None if optimizer is None else float(optimizer.learning_rate))
        if model.stop_training:
            break
    callback.on_train_end({})
    return epoch + 1, rates


PLATEAUS = [
    [5, 4, 3, 2, 1, 0.5],
    [5, 6, 7, 2, 1, 0.5],
    [5, 6, 7, 8, 9, 10, 11, 12],
    [5, 4, 4.5, 3, 3.5, 3.2, 3.1, 2.9, 2.8, 2.7],
    [5, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0],
    [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89],
]


@pytest.mark.parametrize("options", [
    dict(patience=0), dict(patience=2), dict(patience=1, min_delta=0.15),
    dict(patience=2, baseline=0.9), dict(patience=1, baseline=4.5),
    dict(patience=1, start_from_epoch=2), dict(patience=0, start_from_epoch=3),
    dict(patience=2, mode="max", baseline=6),
], ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()))
def test_early_stopping_stops_where_keras_does(options, capsys):
    options = dict(mode="min", verbose=1, restore_best_weights=True) | options
    for values in PLATEAUS:
        theirs = keras.callbacks.EarlyStopping("score", **options)
        keras_epochs, _ = keras_run(theirs, values)
        keras_out = capsys.readouterr().out
        ours = fa.EarlyStopping("score", **options)
        history = tiny_fit(tiny_model(), len(values), [Feeder(values), ours])
        assert len(history.history["loss"]) == keras_epochs, values
        assert (ours.stopped_epoch, ours.best_epoch, ours.wait, ours.best) == (
            theirs.stopped_epoch, theirs.best_epoch, theirs.wait, theirs.best), values
        assert capsys.readouterr().out == keras_out


@pytest.mark.parametrize("options", [
    dict(factor=0.5, patience=2, cooldown=1, min_lr=0.03, min_delta=0),
    dict(factor=0.5, patience=0, min_delta=10),
    dict(factor=0.2, patience=1, min_delta=0.15, cooldown=2),
], ids=["cooldown-min_lr", "every-epoch", "min_delta"])
def test_reduce_lr_on_plateau_reduces_where_keras_does(options, capsys):
    for values in PLATEAUS:
        optimizer = types.SimpleNamespace(learning_rate=0.2)
        theirs = keras.callbacks.ReduceLROnPlateau("score", verbose=1, mode="min", **options)
        _, keras_rates = keras_run(theirs, values, optimizer)
        keras_out = capsys.readouterr().out
        rates = Rates()
        history = tiny_fit(tiny_model(lr=0.2), len(values), [
            Feeder(values), fa.ReduceLROnPlateau("score", verbose=1, mode="min", **options),
            rates])
        np.testing.assert_allclose(rates.after, keras_rates, rtol=1e-15)
        assert history.history["learning_rate"] == [0.2] + rates.after[:-1]
        assert capsys.readouterr().out == keras_out


def test_model_checkpoint_decides_and_prints_as_keras(monkeypatch, capsys):
    values = [3, 2, 2.5, 1, 1.5, 1.2]
    for options in (dict(save_best_only=True), dict(save_best_only=True,
                                                    initial_value_threshold=2.2),
                    dict(save_best_only=False)):
        saved = {"keras": [], "fastann": []}
        theirs = keras.callbacks.ModelCheckpoint("m{epoch}.keras", "score", 1, mode="min",
                                                 **options)
        theirs.set_model(types.SimpleNamespace(
            save=lambda path, overwrite=True: saved["keras"].append(path)))
        theirs.on_train_begin({})
        for epoch, value in enumerate(values):
            theirs.on_epoch_begin(epoch, {})
            theirs.on_epoch_end(epoch, {"score": value})
        keras_out = capsys.readouterr().out
        model = tiny_model()
        monkeypatch.setattr(model, "save", saved["fastann"].append, raising=False)
        tiny_fit(model, len(values), [
            Feeder(values), fa.ModelCheckpoint("m{epoch}.keras", "score", 1, mode="min",
                                               **options)])
        assert saved["fastann"] == saved["keras"]
        assert capsys.readouterr().out == keras_out


@pytest.mark.parametrize("schedule", [lambda epoch: 0.01 * (epoch + 1),
                                      lambda epoch, lr: lr / 2],
                         ids=["one-argument", "two-arguments"])
def test_learning_rate_scheduler_sets_and_prints_as_keras(schedule, capsys):
    optimizer = types.SimpleNamespace(learning_rate=0.5)
    theirs = keras.callbacks.LearningRateScheduler(schedule, verbose=1)
    _, keras_rates = keras_run(theirs, [0] * 3, optimizer)
    keras_out = capsys.readouterr().out
    rates = Rates()
    history = tiny_fit(tiny_model(lr=0.5), 3, [
        fa.callbacks.LearningRateScheduler(schedule, verbose=1), rates])
    assert rates.after == keras_rates == history.history["learning_rate"]
    assert capsys.readouterr().out == keras_out
