"""Keras' callback protocol in fastann: hook order, batch hooks on the per-batch path
(same weights as the fused loop), log-only callbacks that leave epochs in the compiled
loop, CSVLogger, TerminateOnNaN, LearningRateScheduler, LambdaCallback, History.params,
and BackupAndRestore resuming a killed process bit for bit."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastann as fa
from fastann import callbacks, layers
from fastann.kernels import train as train_kernels

ROOT = Path(__file__).resolve().parents[1]


def blobs(n=50, seed=0):
    random = np.random.default_rng(seed)
    X = random.normal(size=(n, 3))
    return X, (X[:, 0] - X[:, 2] > 0).astype(float)


def binary(seed=0, optimizer=None):
    model = fa.Sequential([layers.Dense(6, activation="tanh", input_dim=3),
                           layers.Dense(1, activation="sigmoid")], seed=seed, dtype="float64")
    model.compile(optimizer=optimizer or fa.Adam(learning_rate=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Recorder(callbacks.Callback):
    def __init__(self):
        self.calls = []

    def set_params(self, params):
        super().set_params(params)
        self.calls.append(("set_params", params["epochs"], params["steps"]))

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", sorted(logs)))


class BatchCounter(callbacks.Callback):
    def __init__(self):
        self.begun, self.ended = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begun.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ended.append((batch, dict(logs)))


def count_kernel_calls(monkeypatch):
    calls = []
    real = train_kernels.train_epochs

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(train_kernels, "train_epochs", counted)
    return calls


def test_hooks_run_in_keras_order_with_params():
    X, y = blobs()
    recorder = Recorder()
    history = binary().fit(X, y, epochs=3, batch_size=10, verbose=0, callbacks=[recorder],
                           validation_split=0.2)
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert recorder.calls == [("set_params", 3, 4), ("train_begin",),
                              ("epoch_begin", 0), ("epoch_end", 0, keys),
                              ("epoch_begin", 1), ("epoch_end", 1, keys),
                              ("epoch_begin", 2), ("epoch_end", 2, keys),
                              ("train_end", keys)]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert recorder.model.history is history


@pytest.mark.parametrize("shuffle", [True, False])
def test_batch_hooks_take_the_per_batch_path_with_the_same_weights(shuffle):
    X, y = blobs()
    fused, by_batch = binary(seed=4), binary(seed=4)
    counter = BatchCounter()
    fused_history = fused.fit(X, y, epochs=3, batch_size=8, shuffle=shuffle, verbose=0,
                              validation_data=(X[:10], y[:10]))
    batch_history = by_batch.fit(X, y, epochs=3, batch_size=8, shuffle=shuffle, verbose=0,
                                 validation_data=(X[:10], y[:10]), callbacks=[counter])
    assert counter.begun == list(range(7)) * 3 and [b for b, _ in counter.ended] == counter.begun
    assert set(counter.ended[0][1]) == {"loss", "accuracy"}
    for a, b in zip(fused.get_weights(), by_batch.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fused._rng_state, by_batch._rng_state)
    assert fused.get_training_state().steps == by_batch.get_training_state().steps == 21
    for key, values in fused_history.history.items():
        np.testing.assert_allclose(batch_history.history[key], values, rtol=1e-12, atol=1e-12)
    # the running loss at the last batch is the epoch's loss
    assert counter.ended[-1][1]["loss"] == pytest.approx(batch_history.history["loss"][-1])


def test_log_only_callbacks_leave_epochs_in_the_compiled_loop(monkeypatch, tmp_path):
    X, y = blobs()
    calls = count_kernel_calls(monkeypatch)
    path = tmp_path / "log.csv"
    history = binary().fit(X, y, epochs=200, batch_size=50, verbose=0,
                           callbacks=[callbacks.CSVLogger(path)])
    assert len(calls) < 100  # chunks of many epochs, not one call per epoch
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 200 and list(rows[0]) == ["epoch", "accuracy", "loss"]
    assert [int(row["epoch"]) for row in rows] == list(range(200))
    np.testing.assert_allclose([float(row["loss"]) for row in rows], history.history["loss"])
    calls.clear()
    binary().fit(X, y, epochs=20, batch_size=50, verbose=0, callbacks=[Recorder()])
    assert len(calls) == 20  # a per-epoch callback: one epoch per call


def test_csv_logger_appends_without_a_second_header(tmp_path):
    X, y = blobs()
    path = tmp_path / "log.csv"
    model = binary()
    model.fit(X, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    model.fit(X, y, epochs=3, verbose=0, callbacks=[callbacks.CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss" and len(lines) == 6
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "0", "1", "2"]  # per fit


def test_terminate_on_nan_stops_instead_of_raising(capsys):
    X, y = blobs()
    model = fa.Sequential([layers.Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile(optimizer=fa.SGD(learning_rate=1e6), loss="mse")
    with pytest.raises(FloatingPointError):
        model.fit(X, y * 1e3, epochs=50, batch_size="full", verbose=0)
    model = fa.Sequential([layers.Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile(optimizer=fa.SGD(learning_rate=1e6), loss="mse")
    history = model.fit(X, y * 1e3, epochs=50, batch_size="full", verbose=0,
                        callbacks=[callbacks.TerminateOnNaN()])
    epochs = model.epochs_trained
    assert capsys.readouterr().out == f"Epoch {epochs + 1}: Invalid loss, terminating training\n"
    assert 0 < epochs < 50 and np.isfinite(history.history["loss"][:epochs]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


def diverging(seed=0):
    model = fa.Sequential([layers.Dense(1, input_dim=3)], seed=seed, dtype="float64")
    model.compile(optimizer=fa.SGD(learning_rate=1e6), loss="mse")
    return model


@pytest.mark.parametrize("batch_hook", [False, True], ids=["fused", "per-batch"])
def test_terminate_on_nan_records_the_invalid_epoch_as_keras(batch_hook, capsys):
    X, y = blobs()
    model = diverging()
    hooks = [callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: None)] * batch_hook
    history = model.fit(X, y * 1e3, epochs=50, batch_size="full", verbose=2,
                        callbacks=[callbacks.TerminateOnNaN(), *hooks])
    losses = history.history["loss"]
    assert len(losses) == model.epochs_trained + 1 and not np.isfinite(losses[-1])
    assert np.isfinite(losses[:-1]).all()  # the weights are those of the last finite epoch
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"loss: {losses[-1]:.4f}")


def test_terminate_on_nan_raise_error_raises_and_keeps_the_backup(tmp_path):
    X, y = blobs()
    model = diverging()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered in epoch \d+"):
        model.fit(X, y * 1e3, epochs=50, batch_size="full", verbose=0, callbacks=[
            callbacks.TerminateOnNaN(raise_error=True), callbacks.BackupAndRestore(tmp_path)])
    assert (tmp_path / "backup.npz").exists()
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it():
    X, y = blobs()
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return 0.1 if epoch < 2 else 0.01

    scheduled = binary(optimizer=fa.SGD(learning_rate=0.5))
    history = scheduled.fit(X, y, epochs=4, batch_size=10, verbose=0,
                            callbacks=[callbacks.LearningRateScheduler(schedule)])
    assert seen == [(0, 0.5), (1, 0.1), (2, 0.1), (3, 0.01)]
    assert history.history["learning_rate"] == [0.1, 0.1, 0.01, 0.01]
    by_hand = binary(optimizer=fa.SGD(learning_rate=0.1))
    by_hand.fit(X, y, epochs=2, batch_size=10, verbose=0)
    by_hand.optimizer.lr = 0.01
    by_hand.fit(X, y, epochs=2, batch_size=10, verbose=0)
    for a, b in zip(scheduled.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match=r"LearningRateScheduler schedule must be callable"):
        callbacks.LearningRateScheduler(0.1)


def test_learning_rate_scheduler_takes_a_one_argument_schedule_as_keras(capsys):
    X, y = blobs()
    history = binary(optimizer=fa.SGD(learning_rate=0.5)).fit(
        X, y, epochs=2, verbose=0,
        callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.01, verbose=1)])
    assert history.history["learning_rate"] == [0.01, 0.01]
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.01.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.01.\n")


def test_a_type_error_inside_a_two_argument_schedule_is_not_hidden():
    def schedule(epoch, lr):
        return lr + "oops"  # a TypeError of its own

    X, y = blobs()
    with pytest.raises(TypeError, match=r"unsupported operand"):
        binary().fit(X, y, epochs=1, verbose=0,
                     callbacks=[callbacks.LearningRateScheduler(schedule)])


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), None, "0.1", True])
def test_a_schedule_returning_no_learning_rate_is_named(value):
    X, y = blobs()
    model = binary()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"LearningRateScheduler: schedule\(0, 0.01\) "
                                         r"returned .*, which is not a learning rate"):
        model.fit(X, y, epochs=2, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: value)])
    assert model.epochs_trained == 0 and model.optimizer.lr == 0.01
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"schedule\(0\) returned -1"):  # one argument
        binary().fit(X, y, epochs=1, verbose=0,
                     callbacks=[callbacks.LearningRateScheduler(lambda epoch: -1)])


def test_the_epoch_line_puts_learning_rate_last_as_keras():
    line = callbacks.step_line(2, 0.0, {"val_loss": 0.5, "learning_rate": 0.03,
                                        "loss": 0.25, "accuracy": 1.0, "val_accuracy": 0.5})
    assert line.endswith("- accuracy: 1.0000 - loss: 0.2500 - val_accuracy: 0.5000 - "
                         "val_loss: 0.5000 - learning_rate: 0.0300")


def test_one_epoch_prints_no_epoch_head_as_keras(capsys):
    X, y = blobs()
    binary().fit(X, y, epochs=1, batch_size=25, verbose=2)
    out = capsys.readouterr().out
    assert out.startswith("2/2 - ") and "Epoch" not in out
    binary().fit(X, y, epochs=2, batch_size=25, verbose=2)
    assert capsys.readouterr().out.startswith("Epoch 1/2\n2/2 - ")


@pytest.mark.parametrize("callback", [
    callbacks.LearningRateScheduler(lambda epoch: 0.03),
    callbacks.ReduceLROnPlateau(monitor="loss", patience=5)], ids=["scheduler", "plateau"])
def test_callbacks_learning_rate_is_in_the_epoch_line_as_keras(callback, capsys):
    X, y = blobs()
    binary().fit(X, y, epochs=2, batch_size=25, verbose=2, callbacks=[callback])
    lines = capsys.readouterr().out.splitlines()
    rate = "0.0300" if isinstance(callback, callbacks.LearningRateScheduler) else "0.0100"
    assert [line.rsplit(" - ", 1)[-1] for line in lines if "/step" in line] == [
        f"learning_rate: {rate}"] * 2


def test_a_scheduled_learning_rate_is_in_the_logs():
    X, y = blobs()
    schedule = fa.schedules.ExponentialDecay(0.1, decay_rate=0.5, decay_epochs=1)
    recorder = Recorder()
    history = binary(optimizer=fa.SGD(learning_rate=schedule)).fit(
        X, y, epochs=3, verbose=0, callbacks=[recorder])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.025])
    assert "learning_rate" in recorder.calls[-2][2]  # the last on_epoch_end's logs
    plain = binary().fit(X, y, epochs=2, verbose=0)
    assert "learning_rate" not in plain.history


def test_reduce_lr_on_plateau_logs_the_learning_rate():
    X, y = blobs()
    history = binary().fit(X, y, epochs=3, verbose=0, callbacks=[
        callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10)])
    assert history.history["learning_rate"] == [0.01, 0.01, 0.005]  # the epoch's rate


def test_lambda_callback_and_stopping_through_stop_training():
    X, y = blobs()
    model = binary()
    ends, batches = [], []

    def on_epoch_end(epoch, logs):
        ends.append(epoch)
        if epoch == 2:
            model.stop_training = True

    lam = callbacks.LambdaCallback(on_epoch_end=on_epoch_end)
    assert lam.needs_every_epoch and not lam.needs_every_batch
    history = model.fit(X, y, epochs=10, verbose=0, callbacks=[lam])
    assert ends == [0, 1, 2] and len(history.history["loss"]) == 3
    assert model.stop_training is True
    batch = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    assert batch.needs_every_batch and not batch.needs_every_epoch
    model.fit(X, y, epochs=1, batch_size=25, verbose=0, callbacks=[batch])
    assert batches == [0, 1]
    with pytest.raises(TypeError, match=r"LambdaCallback on_epoch_end must be callable"):
        callbacks.LambdaCallback(on_epoch_end=3)


def test_lambda_callback_takes_keras_kwargs():
    X, y = blobs()
    batches = []
    lam = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch),
                                   note="kept")
    assert lam.needs_every_batch and lam.note == "kept"  # Keras keeps other kwargs
    binary().fit(X, y, epochs=1, batch_size=25, verbose=0, callbacks=[lam])
    assert batches == [0, 1]
    with pytest.raises(fa.NotSupportedError, match=r"LambdaCallback on_test_begin"):
        callbacks.LambdaCallback(on_test_begin=print)
    with pytest.raises(TypeError, match=r"unknown hook 'on_epoch_ends'"):
        callbacks.LambdaCallback(on_epoch_ends=print)


def test_keras_batch_aliases_take_the_per_batch_path():
    class OldStyle(callbacks.Callback):
        def __init__(self):
            self.seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append((batch, sorted(logs)))

    X, y = blobs()
    old_style = OldStyle()
    assert old_style.needs_every_batch and not old_style.needs_every_epoch
    binary().fit(X, y, epochs=2, batch_size=25, verbose=0, callbacks=[old_style])
    assert old_style.seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])] * 2


def test_returning_true_from_on_epoch_end_still_stops():
    class StopAtOne(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            return epoch == 1

    X, y = blobs()
    assert len(binary().fit(X, y, epochs=9, verbose=0,
                            callbacks=[StopAtOne()]).history["loss"]) == 2


BACKUP_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastann as fa
    from fastann import callbacks, layers

    backup_dir, out, slow = sys.argv[1], sys.argv[2], sys.argv[3] == "slow"
    random = np.random.default_rng(0)
    X = random.normal(size=(64, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(float)
    model = fa.Sequential([layers.Dense(8, activation="tanh", input_dim=3),
                           layers.Dense(1, activation="sigmoid")], seed=9, dtype="float64")
    model.compile(optimizer=fa.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])

    def tick(epoch, logs):
        print("epoch", epoch, flush=True)
        if slow:
            time.sleep(0.05)

    history = model.fit(X, y, epochs=60, batch_size=8, verbose=0, validation_split=0.25,
                        callbacks=[callbacks.BackupAndRestore(backup_dir),
                                   callbacks.LambdaCallback(on_epoch_end=tick)])
    np.savez(out, *model.get_weights(), rng=model._rng_state, loss=history.history["loss"],
             epochs=model.epochs_trained)
""")


def run_backup_script(tmp_path, backup_dir, out, slow, kill_after=None):
    script = tmp_path / "train.py"
    script.write_text(BACKUP_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, str(script), str(backup_dir), str(out),
                                "slow" if slow else "fast"], stdout=subprocess.PIPE,
                               text=True, env=env)
    epochs = []
    for line in process.stdout:
        epochs.append(int(line.split()[1]))
        if kill_after is not None and epochs[-1] >= kill_after:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=300)
    return process.returncode, epochs


def test_backup_and_restore_resumes_a_killed_run_bit_for_bit(tmp_path):
    backup = tmp_path / "backup"
    code, first = run_backup_script(tmp_path, backup, tmp_path / "never.npz", slow=True,
                                    kill_after=20)
    assert code == -signal.SIGKILL and first[0] == 0
    assert (backup / "backup.npz").exists() and not (tmp_path / "never.npz").exists()
    code, second = run_backup_script(tmp_path, backup, tmp_path / "resumed.npz", slow=False)
    assert code == 0 and second[-1] == 59
    assert 20 <= second[0] <= 22  # on from the last backup, not from epoch 0
    assert not (backup / "backup.npz").exists()  # a finished fit deletes it
    code, straight = run_backup_script(tmp_path, tmp_path / "other", tmp_path / "straight.npz",
                                       slow=False)
    assert code == 0 and straight == list(range(60))
    resumed, uninterrupted = np.load(tmp_path / "resumed.npz"), np.load(
        tmp_path / "straight.npz")
    assert set(resumed.files) == set(uninterrupted.files)
    for name in resumed.files:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name])


def test_backup_and_restore_keeps_the_backup_of_a_crashed_fit_only(tmp_path):
    X, y = blobs()

    def crash(epoch, logs):
        if epoch == 2:
            raise RuntimeError("crash")

    model = binary()
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(X, y, epochs=5, verbose=0, callbacks=[
            callbacks.BackupAndRestore(tmp_path), callbacks.LambdaCallback(on_epoch_end=crash)])
    assert (tmp_path / "backup.npz").exists()
    other = binary()
    other.fit(X, y, epochs=1, verbose=0)
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"began at epoch 0, but this one begins at epoch 1"):
        other.fit(X, y, epochs=5, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))
    resumed = binary()
    history = resumed.fit(X, y, epochs=5, verbose=0,
                          callbacks=[callbacks.BackupAndRestore(tmp_path)])
    assert resumed.epochs_trained == 5 and len(history.history["loss"]) == 5
    assert not (tmp_path / "backup.npz").exists()
    with pytest.raises(fa.NotSupportedError, match=r"save_freq=10"):
        callbacks.BackupAndRestore(tmp_path, save_freq=10)


def test_backup_and_restore_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    X, y = blobs()

    def crash(epoch, logs):
        if epoch == 3:
            raise RuntimeError("crash")

    def backup(**options):
        return callbacks.BackupAndRestore(tmp_path, double_checkpoint=True, **options)

    with pytest.raises(RuntimeError, match="crash"):
        binary().fit(X, y, epochs=6, verbose=0, callbacks=[
            backup(), callbacks.LambdaCallback(on_epoch_end=crash)])
    latest, previous = tmp_path / "backup.npz", tmp_path / "backup.npz.bkp"
    assert latest.exists() and previous.exists()
    latest.write_bytes(b"not a zip file")  # the last backup is damaged
    resumed_epochs = []
    resumed = binary()
    history = resumed.fit(X, y, epochs=6, verbose=0, callbacks=[
        backup(), callbacks.LambdaCallback(on_epoch_begin=lambda e, l: resumed_epochs.append(e))])
    assert resumed_epochs == [3, 4, 5]  # from the backup of epoch 2, the one before the last
    straight = binary()
    straight_history = straight.fit(X, y, epochs=6, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(),
                                                    straight.get_weights()))
    assert history.history["loss"] == straight_history.history["loss"]
    assert not latest.exists() and not previous.exists()  # a finished fit deletes both
    (tmp_path / "backup.npz").write_bytes(b"damaged")
    with pytest.raises(ValueError, match=r"cannot read the backup .*backup.npz"):
        binary().fit(X, y, epochs=2, verbose=0,
                     callbacks=[callbacks.BackupAndRestore(tmp_path)])

