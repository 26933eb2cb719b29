"""Callbacks: the Keras-style hooks ``fit`` calls, the built-in History and progress, and
EarlyStopping, ModelCheckpoint and ReduceLROnPlateau.

``fit`` runs epochs in compiled chunks. Built-in recorders (History, progress) take a
whole chunk at once; a callback with ``needs_every_epoch = True`` (the default for user
callbacks, and the three above) makes ``fit`` return to Python after every epoch so it
can stop training, look at the weights or change the learning rate in time.

Epoch numbers given to callbacks count over the model's life (``model.epochs_trained``
before the epoch ran), as Keras counts from ``initial_epoch``.
"""
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np


class Callback:
    """Base class. Override ``on_epoch_end(epoch, logs)``; return True (or set
    ``self.model.stop_training = True``) to stop training after this epoch.

    ``logs`` maps "loss", each metric and their ``val_`` forms to this epoch's float
    values. ``on_train_begin()`` and ``on_train_end()`` run once per ``fit`` call, after
    ``set_model(model)``.
    """

    needs_every_epoch = True

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
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

    def record_chunk(self, first_epoch, columns):
        """Append a chunk of epochs: ``columns`` maps a log name to a 1-D array."""
        n = len(next(iter(columns.values())))
        self._epochs.append(np.arange(first_epoch, first_epoch + n))
        for name, values in columns.items():
            self._columns.setdefault(name, []).append(np.array(values, copy=True))
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


class ProgressLogger(Callback):
    """``verbose=1``: one live line, redrawn between chunks (epochs done, epochs/s, ETA,
    latest loss and metrics). ``verbose=2``: one line per epoch, as Keras prints."""

    needs_every_epoch = False
    REDRAW_SECONDS = 0.1

    def __init__(self, verbose, total_epochs, first_epoch, stream=None):
        self.verbose = verbose
        self.total = total_epochs
        self.first_epoch = first_epoch
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.last_draw = -1.0

    def record_chunk(self, first_epoch, columns):
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
    ``cooldown`` epochs and reset the wait. The new rate is used from the next epoch on,
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
                if old > self.min_lr:
                    optimizer.lr = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {optimizer.lr:.6g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
        return False
