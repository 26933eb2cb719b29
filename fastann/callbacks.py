"""Callbacks: Keras' protocol, the built-in History and progress lines, and EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau, CSVLogger, TerminateOnNaN, LearningRateScheduler,
LambdaCallback and BackupAndRestore.

``fit`` runs epochs in compiled chunks. A callback that overrides ``on_epoch_begin`` or
``on_epoch_end`` (or sets ``needs_every_epoch = True``) makes ``fit`` return to Python
after every epoch, so it can stop training, look at the weights or change the learning
rate in time; one that overrides ``on_train_batch_begin``/``_end`` makes every batch its
own kernel call (the slow path, same weights). Log-only callbacks set
``needs_every_epoch = False``: the epochs between per-epoch callbacks then stay inside
the compiled loop, and they get each epoch's ``on_epoch_begin``/``on_epoch_end`` (with
its logs) after the chunk.

Epoch numbers given to callbacks count over the model's life (``model.epochs_trained``
before the epoch ran); for a fresh model that is Keras' numbering.
"""
import csv
import json
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from . import optimizers


def _overrides(callback, *names):
    return any(name in vars(callback) or getattr(type(callback), name) is not
               getattr(Callback, name) for name in names)


class Callback:
    """Base class, Keras' protocol. Override any of ``on_train_begin(logs)``,
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``,
    ``on_train_end(logs)``. Stop training by setting ``self.model.stop_training = True``
    (returning True from ``on_epoch_end`` does the same).

    ``logs`` maps "loss", each metric and their ``val_`` forms to this epoch's float
    values (at a batch's end: the running means of the epoch so far). ``set_model`` and
    ``set_params`` (``{"verbose", "epochs", "steps"}``) run before ``on_train_begin``.
    """

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    @property
    def needs_every_epoch(self):
        """True when the callback overrides an epoch hook: ``fit`` then returns to Python
        after every epoch."""
        return _overrides(self, "on_epoch_begin", "on_epoch_end")

    @property
    def needs_every_batch(self):
        """True when the callback overrides a batch hook (the per-batch slow path)."""
        return _overrides(self, "on_train_batch_begin", "on_train_batch_end")

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """Per-epoch loss and metrics of every ``fit`` call: ``history.history["loss"]`` is a
    list with one value per epoch, validation values under ``val_`` keys."""

    needs_every_epoch = False

    def __init__(self, names=()):
        self._epochs = []
        self._columns = {name: [] for name in names}  # every key, even before epoch 1
        self._lists = None
        self.params = {}

    def record_chunk(self, first_epoch, columns, seconds=None):
        """Append a chunk of epochs: ``columns`` maps a log name to a 1-D array."""
        n = len(next(iter(columns.values())))
        self._epochs.append(np.arange(first_epoch, first_epoch + n))
        for name, values in columns.items():
            self._columns.setdefault(name, []).append(np.array(values, copy=True))
        self._lists = None

    def record_extra(self, epoch, logs):
        """Values callbacks added to one epoch's logs (e.g. ``learning_rate``)."""
        for name, value in logs.items():
            self._columns.setdefault(name, []).append(np.array([value], np.float64))
        self._lists = None

    def restore(self, history, epochs):
        """Start from a saved ``history`` dict and its ``epochs`` list (BackupAndRestore)."""
        self._epochs = [np.asarray(epochs, np.int64)]
        self._columns = {name: [np.asarray(values, np.float64)]
                         for name, values in history.items()}
        self._lists = None

    @property
    def epoch(self):
        """Indices of the recorded epochs (counted over the model's life)."""
        return np.concatenate(self._epochs).tolist() if self._epochs else []

    @property
    def history(self):
        """{name: [value per epoch]}, as in Keras."""
        if self._lists is None:
            self._lists = {name: np.concatenate(parts).tolist() if parts else []
                           for name, parts in self._columns.items()}
        return self._lists

    def plot(self, path=None, log_y=False, **options):
        """Loss and metrics per epoch, train and validation on the same axes; returns the
        matplotlib Figure and saves it to ``path`` if given (``fastann.plot_history``)."""
        from .plotting import plot_history
        return plot_history(self, path=path, log_y=log_y, **options)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self._columns)})"


def format_logs(logs):
    return " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())


def keras_order(logs):
    """Keras 3's order of the log names: training names sorted, then ``val_`` ones."""
    names = sorted(logs, key=lambda name: (name.startswith("val_"), name))
    return {name: logs[name] for name in names}


def _format_value(value):
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_time(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def step_line(steps, seconds, logs):
    """Keras' line for a finished pass when stdout is not a terminal:
    ``24/24 - 0s - 3ms/step - accuracy: 0.9500 - loss: 0.1234``."""
    parts = [f"{steps}/{steps}", f"{seconds:.0f}s", _format_time(seconds / max(steps, 1))]
    parts += [f"{name}: {_format_value(value)}" for name, value in keras_order(logs).items()]
    return " - ".join(parts)


class EpochLines(Callback):
    """Keras' epoch lines where there is no live terminal line (verbose=2, or verbose=1
    with stdout not a terminal)::

        Epoch 3/25
        18/18 - 0s - 2ms/step - accuracy: 0.9514 - loss: 0.2079 - val_accuracy: ...

    ``rate_limited`` (verbose=1): every epoch of the first ``BURST``, then about
    ``RATE`` epochs per second (the latest of each chunk), and always the last one, so a
    100,000-epoch run prints a bounded number of lines, each naming its epoch."""

    needs_every_epoch = False
    BURST = 30
    RATE = 4.0

    def __init__(self, total_epochs, offset, steps, rate_limited=True, stream=None):
        self.total = total_epochs
        self.offset = offset  # model epoch minus Keras' 0-based epoch of this fit call
        self.steps = steps
        self.rate_limited = rate_limited
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.printed = 0
        self.pending = None  # the last epoch recorded but not printed

    def _line(self, epoch, logs, seconds):
        return (f"Epoch {epoch + 1}/{self.total}\n"
                f"{step_line(self.steps, seconds, logs)}\n")

    def record_chunk(self, first_epoch, columns, seconds=None):
        names = list(columns)
        n = len(columns[names[0]])
        per_epoch = (seconds or 0.0) / n
        epochs = list(range(n))
        if self.rate_limited:  # the first BURST epochs, then the latest ones allowed
            early = [i for i in epochs if first_epoch + i - self.offset < self.BURST]
            allowed = self.BURST + self.RATE * (time.perf_counter() - self.start) - (
                self.printed + len(early))
            last = first_epoch + n - 1 - self.offset == self.total - 1
            count = max(int(allowed), 1 if last else 0)
            later = [i for i in epochs[max(0, n - count):] if i not in early]
            epochs = early + later
        text = []
        for i in epochs:
            logs = {name: float(columns[name][i]) for name in names}
            text.append(self._line(first_epoch + i - self.offset, logs, per_epoch))
        self.printed += len(text)
        if n and (n - 1) not in epochs:
            self.pending = (first_epoch + n - 1 - self.offset,
                            {name: float(columns[name][n - 1]) for name in names}, per_epoch)
        else:
            self.pending = None
        if text:
            self.stream.write("".join(text))
            self.stream.flush()

    def on_train_end(self, logs=None):
        if self.pending is not None:  # stopped early: show where it stopped
            self.stream.write(self._line(*self.pending))
            self.stream.flush()
            self.pending = None


class ProgressLogger(Callback):
    """``verbose=1`` on a terminal: one live line, redrawn between chunks (epochs done,
    epochs/s, ETA, latest loss and metrics). (``fit`` prints ``EpochLines`` otherwise;
    ``verbose=2`` here prints one short line per epoch.)"""

    needs_every_epoch = False
    REDRAW_SECONDS = 0.1

    def __init__(self, verbose, total_epochs, first_epoch, stream=None):
        self.verbose = verbose
        self.total = total_epochs
        self.first_epoch = first_epoch
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.last_draw = -1.0

    def record_chunk(self, first_epoch, columns, seconds=None):
        names = list(columns)
        n = len(columns[names[0]])
        if self.verbose == 2:
            lines = []
            for i in range(n):
                epoch = first_epoch + i - self.first_epoch + 1
                logs = {name: columns[name][i] for name in names}
                lines.append(f"Epoch {epoch}/{self.total} - {format_logs(logs)}\n")
            self.stream.write("".join(lines))
            self.stream.flush()
            return
        done = first_epoch + n - self.first_epoch
        now = time.perf_counter()
        if now - self.last_draw < self.REDRAW_SECONDS and done < self.total:
            return
        self.last_draw = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else float("inf")
        eta = (self.total - done) / rate if rate > 0 else 0.0
        logs = {name: columns[name][-1] for name in names}
        width = 20
        filled = int(width * done / self.total)
        bar = "=" * filled + (">" if filled < width else "") + "." * (width - filled - 1)
        self.stream.write(f"\rEpoch {done}/{self.total} [{bar}] {rate:,.0f} epochs/s - "
                          f"ETA {eta:.1f}s - {format_logs(logs)}   ")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.verbose == 1 and self.last_draw >= 0 and logs and logs.get("interrupted"):
            self.stream.write("\n")
            self.stream.flush()


# ------------------------------------------------------------- monitored values
def _check_mode(owner, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max'; got {mode!r}")
    return mode


def _maximise(monitor, mode):
    """True when larger values of ``monitor`` are better. "auto" maximises accuracies
    (names containing "acc") and minimises everything else (losses, mae, mse), as Keras."""
    if mode == "auto":
        return "acc" in monitor
    return mode == "max"


def _non_negative(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner} {name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _count(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner} {name} must be an int >= 0; got {value!r}")
    return int(value)


class _Monitor(Callback):
    """Reads ``monitor`` from the epoch's logs and tells whether it improved on the best
    value so far by more than ``min_delta``; warns once per ``fit`` if it is missing."""

    def __init__(self, monitor, mode, min_delta):
        owner = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{owner} monitor must be a log name (str); got {monitor!r}")
        self.monitor = monitor
        self.mode = _check_mode(owner, mode)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not \
                math.isfinite(min_delta):
            raise ValueError(f"{owner} min_delta must be a finite number; got {min_delta!r}")
        self.min_delta = abs(float(min_delta))  # its sign is ignored, as in Keras
        self.maximise = _maximise(monitor, mode)
        self._warned = False

    def _reset_monitor(self):
        self.best = -math.inf if self.maximise else math.inf
        self._warned = False

    def _current(self, logs):
        """The monitored value, or None (with one warning per fit) when it is absent."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            if not self._warned:
                hint = (" (val_ values exist only with validation_split or validation_data)"
                        if self.monitor.startswith("val_") else "")
                warnings.warn(
                    f"{type(self).__name__}: the monitored value {self.monitor!r} is not in "
                    f"the logs, so this callback does nothing; available: "
                    f"{sorted(logs or {})}{hint}", RuntimeWarning, stacklevel=3)
                self._warned = True
            return None
        return float(value)

    def _improved(self, current):
        if self.maximise:
            return current - self.min_delta > self.best
        return current + self.min_delta < self.best


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras 3).

    Parameters
    ----------
    monitor : str, default "val_loss"
        A log name: "loss", a metric, or their ``val_`` forms.
    patience : int >= 0, default 0
        Epochs without improvement to wait: training stops at the end of the
        ``patience``-th consecutive epoch that did not improve (0: the first one).
    min_delta : float >= 0, default 0
        An improvement must beat the best value by more than this.
    mode : {"auto", "min", "max"}, default "auto"
        "auto" maximises names containing "acc" and minimises the rest.
    restore_best_weights : bool, default False
        At the end of ``fit`` (stopped early or not, as Keras 3) load the weights of the
        epoch with the best monitored value, kept as a copy of the flat parameter buffer.
        The optimizer's state is not restored.
    verbose : int, default 0
        1 prints when training stops and when weights are restored.

    Attributes
    ----------
    best : float
        The best monitored value of the last ``fit``.
    best_epoch : int or None
        Its epoch (counted over the model's life).
    stopped_epoch : int or None
        The epoch after which this callback stopped training, or None.
    wait : int
        Epochs since the last improvement.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0, mode="auto",
                 restore_best_weights=False, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = _count("EarlyStopping", "patience", patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self._reset_monitor()
        self.wait = 0
        self.best_epoch = self.stopped_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None:
            return False
        self.wait += 1
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.params.copy()
            return False
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} has not improved "
                      f"on {self.best:.5g} for {self.wait} epochs)")
            return True
        return False

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model._load_params(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model with ``model.save(path)`` after every epoch, or only when
    ``monitor`` improved (Keras' ModelCheckpoint).

    Parameters
    ----------
    path : str or os.PathLike
        May hold ``str.format`` fields: ``{epoch}`` (1-based, over the model's life, as
        Keras numbers epochs) and any log name, e.g. ``"model-{epoch:03d}-{val_loss:.3f}.npz"``.
    monitor : str, default "val_loss"
        Used by ``save_best_only``.
    save_best_only : bool, default False
        Save only when the monitored value is the best so far (the first epoch always
        is); then a path without fields always holds the best model.
    mode : {"auto", "min", "max"}, default "auto"
    verbose : int, default 0
        1 prints a line for every save.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        super().__init__(monitor, mode, 0)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint path must be a str or path; got {path!r}")
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.verbose = verbose
        self._reset_monitor()

    def on_train_begin(self, logs=None):
        # best carries over between fit calls of one checkpoint, as in Keras
        self._warned = False
        if not callable(getattr(self.model, "save", None)):
            raise TypeError("ModelCheckpoint needs model.save(path) (fastann.saving)")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"ModelCheckpoint path {self.path!r} cannot be formatted with "
                             f"epoch and the logs {sorted(logs)}: {error!r}") from None
        if self.save_best_only:
            current = self._current(logs)
            if current is None or not self._improved(current):
                return False
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        self.model.save(path)
        return False


class ReduceLROnPlateau(_Monitor):
    """Multiply the optimizer's learning rate by ``factor`` when ``monitor`` has not
    improved for ``patience`` epochs (Keras 3's rule, step for step).

    Each epoch: during a cooldown, count it down and reset the wait; if the value
    improved on the best by more than ``min_delta``, remember it and reset the wait;
    otherwise, outside a cooldown, count the wait up and, once it reaches ``patience``,
    set ``lr = max(lr * factor, min_lr)`` (if lr is above min_lr), start a cooldown of
    ``cooldown`` epochs and reset the wait. The rate never goes below
    ``fastann.optimizers.MIN_LR`` (2.2e-308; the optimizers refuse 0), so ``min_lr=0`` on
    an endless plateau cannot crash a long run. The new rate is used from the next epoch on,
    and stays on the optimizer after ``fit`` (so a later ``fit`` or a saved model goes on
    with it).

    It needs a constant learning rate: with a ``LearningRateSchedule`` as the
    optimizer's ``lr``, ``fit`` raises TypeError before training (as Keras refuses to set
    the rate of a scheduled optimizer). Choose one of the two.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float in (0, 1), default 0.1
    patience : int >= 0, default 10
    min_delta : float >= 0, default 1e-4
    cooldown : int >= 0, default 0
    min_lr : float >= 0, default 0
    mode : {"auto", "min", "max"}, default "auto"
    verbose : int, default 0
        1 prints each reduction.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4,
                 cooldown=0, min_lr=0.0, mode="auto", verbose=0):
        super().__init__(monitor, mode, min_delta)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not (
                0 < factor < 1):
            raise ValueError(f"ReduceLROnPlateau factor must be a number in (0, 1); got "
                             f"{factor!r}")
        self.factor = float(factor)
        self.patience = _count("ReduceLROnPlateau", "patience", patience)
        self.cooldown = _count("ReduceLROnPlateau", "cooldown", cooldown)
        self.min_lr = _non_negative("ReduceLROnPlateau", "min_lr", min_lr)
        self.verbose = verbose
        self._reset_monitor()
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        if self.model.optimizer.scheduled:
            raise TypeError(
                "ReduceLROnPlateau changes a constant learning rate, but the optimizer's lr "
                f"is the schedule {self.model.optimizer.lr!r}; use either the schedule or "
                "ReduceLROnPlateau")
        self._reset_monitor()
        self.wait = self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.lr)  # as Keras 3
        current = self._current(logs)
        if current is None:
            return False
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                old = optimizer.lr
                # lr must stay > 0: with min_lr=0 it stops at optimizers.MIN_LR
                if old > max(self.min_lr, optimizers.MIN_LR):
                    optimizer.lr = max(old * self.factor, self.min_lr, optimizers.MIN_LR)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {optimizer.lr:.6g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
        return False


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file (Keras' CSVLogger): a header
    ``epoch,<sorted log names>`` then one row per epoch (epochs 0-based, over the model's
    life). Log-only: the compiled loop keeps running many epochs per call.

    Parameters
    ----------
    filename : str or os.PathLike
    separator : str, default ","
    append : bool, default False
        Append to an existing file (no second header) instead of overwriting it.
    """

    needs_every_epoch = False

    def __init__(self, filename, separator=",", append=False):
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"CSVLogger filename must be a str or path; got {filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger separator must be one character; got {separator!r}")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self._file = self._writer = self.keys = None

    def on_train_begin(self, logs=None):
        had_rows = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._had_header = had_rows
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                          delimiter=self.sep, extrasaction="ignore")
            if not self._had_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class TerminateOnNaN(Callback):
    """Stop training, instead of raising FloatingPointError, when the loss or the
    weights become NaN or infinite (Keras' TerminateOnNaN). The kernels check after
    every epoch and keep the weights of the last finite one."""

    needs_every_epoch = False
    stops_on_non_finite = True

    def on_non_finite(self, epoch):
        print(f"Epoch {epoch + 1}: Invalid loss, terminating training")


class LearningRateScheduler(Callback):
    """Set the learning rate before every epoch to ``schedule(epoch, lr)`` (Keras'
    LearningRateScheduler); the rate used is added to the logs as ``learning_rate``.

    Parameters
    ----------
    schedule : callable (epoch: int, lr: float) -> float
        ``epoch`` counts over the model's life (0-based); ``lr`` is the current rate.
    verbose : int, default 0
        1 prints each new rate.
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler schedule must be callable (epoch, lr) "
                            f"-> lr; got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        if self.model.optimizer.scheduled:
            raise TypeError("LearningRateScheduler sets a constant learning rate, but the "
                            f"optimizer's lr is the schedule {self.model.optimizer.lr!r}; "
                            "use one of the two")

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        value = self.schedule(epoch, float(optimizer.lr))
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                math.isfinite(value) and value > 0):
            raise ValueError(f"LearningRateScheduler schedule({epoch}, {optimizer.lr}) must "
                             f"return a finite number > 0; got {value!r}")
        optimizer.lr = float(value)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(value)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.lr)


class LambdaCallback(Callback):
    """A callback from functions (Keras' LambdaCallback): ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``. Only the
    hooks given are called, so batch hooks cost the per-batch path only when given."""

    HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
             "on_train_batch_begin", "on_train_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, function in given.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback {name} must be callable; got {function!r}")
            setattr(self, name, function)


class BackupAndRestore(Callback):
    """Resume an interrupted ``fit`` where it was (Keras' BackupAndRestore).

    After every epoch the whole training state (``model.get_training_state()``: weights,
    optimizer state, shuffling RNG state, counters) and the History so far are written
    atomically to ``backup_dir/backup.npz``. If the process dies at any moment, the next
    identical ``fit`` call (same model built the same way, same data and arguments) loads
    it in ``on_train_begin`` and trains only the epochs left, so the result is bit for
    bit that of an uninterrupted run. A ``fit`` that finishes deletes the backup.

    Parameters
    ----------
    backup_dir : str or os.PathLike
        Created if missing.
    save_freq : "epoch"
        Only per-epoch backups.
    delete_checkpoint : bool, default True
        Delete the backup when ``fit`` completes.
    """

    FILE = "backup.npz"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"BackupAndRestore backup_dir must be a str or path; got "
                            f"{backup_dir!r}")
        if save_freq != "epoch":
            from ._errors import NotSupportedError
            raise NotSupportedError(f"BackupAndRestore save_freq={save_freq!r}",
                                    "backups are written after every epoch ('epoch')")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.path = os.path.join(self.backup_dir, self.FILE)

    def on_train_begin(self, logs=None):
        self._begin_epochs = self.model.epochs_trained
        if not os.path.exists(self.path):
            return
        with np.load(self.path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            state = self.model.get_training_state()
            for name in state.FIELDS:
                setattr(state, name, archive[name])
        if meta.get("begin_epochs") != self._begin_epochs:
            raise ValueError(f"BackupAndRestore: the backup in {self.path!r} is of a fit call "
                             f"that began at epoch {meta.get('begin_epochs')}, but this one "
                             f"begins at epoch {self._begin_epochs}; delete it to start over")
        self.model.set_training_state(state)
        if self.model.history is not None:
            self.model.history.restore(meta["history"], meta["epochs"])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        history = self.model.history
        meta = {"begin_epochs": self._begin_epochs,
                "history": history.history if history is not None else {},
                "epochs": history.epoch if history is not None else []}
        arrays = self.model.get_training_state().arrays()
        temporary = self.path + ".tmp.npz"
        with open(temporary, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

    def on_train_end(self, logs=None):
        finished = getattr(self.model, "_fit_complete", False)
        if self.delete_checkpoint and finished and os.path.exists(self.path):
            os.remove(self.path)
