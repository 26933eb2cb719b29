"""Callbacks: Keras' protocol, the built-in History and progress lines, and EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau, CSVLogger, TerminateOnNaN, LearningRateScheduler,
LambdaCallback and BackupAndRestore, each with the parameters of its keras.callbacks
namesake (names, order, defaults; tests/test_callbacks_keras_signatures.py compares them).
An option fastann cannot honour accepts only Keras' default and refuses any other value
with ``NotSupportedError`` naming it. Messages (``verbose=1``) use Keras 3's wording.

``fit`` runs epochs in compiled chunks. A callback that overrides ``on_epoch_begin`` or
``on_epoch_end`` (or sets ``needs_every_epoch = True``) makes ``fit`` return to Python
after every epoch, so it can stop training, look at the weights or change the learning
rate in time; one that overrides a batch hook (``on_train_batch_begin``/``_end``, or
Keras' aliases ``on_batch_begin``/``_end``) makes every batch its own kernel call (the
slow path, same weights). Log-only callbacks set ``needs_every_epoch = False``: the
epochs between per-epoch callbacks then stay inside the compiled loop, and they get each
epoch's ``on_epoch_begin``/``on_epoch_end`` (with its logs) after the chunk.

Epoch numbers given to callbacks are Keras': a ``fit`` call's epochs are numbered from
its ``initial_epoch`` (0 by default), whatever the model trained before.
"""
import csv
import inspect
import json
import math
import numbers
import os
import sys
import time
import warnings
import zipfile

import numpy as np

from . import optimizers
from ._errors import NotSupportedError, keras_only


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
    Keras' ``on_batch_begin``/``on_batch_end`` are called by the default
    ``on_train_batch_begin``/``_end``, as in Keras; fit has no ``on_test_*`` or
    ``on_predict_*`` hooks.
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
        return _overrides(self, *BATCH_HOOKS)

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras' older name: ``on_train_batch_begin`` calls it."""

    def on_batch_end(self, batch, logs=None):
        """Keras' older name: ``on_train_batch_end`` calls it."""

    def on_train_end(self, logs=None):
        pass


HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))
BATCH_HOOKS = tuple(name for name in HOOKS if "batch" in name)


def _say(message):
    """Print a callback's message, as Keras' ``io_utils.print_msg`` (flushed, so it keeps
    its place among the epoch lines)."""
    print(message, flush=True)


class History(Callback):
    """Per-epoch loss and metrics of every ``fit`` call: ``history.history["loss"]`` is a
    list with one value per epoch, validation values under ``val_`` keys."""

    needs_every_epoch = False

    def __init__(self):
        self.params = {}
        self.start()

    def start(self, names=()):
        """Forget earlier epochs and give every name in ``names`` an empty list, so each
        key exists before the first epoch (``fit`` calls it: one History, one call)."""
        self._epochs = []
        self._columns = {name: [] for name in names}
        self._lists = None

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
        """Indices of the recorded epochs (Keras' numbering: from ``initial_epoch``)."""
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


# names that callbacks add to the epoch's logs after the metrics (Keras prints them last)
CALLBACK_LOGS = ("learning_rate",)


def keras_order(logs):
    """Keras 3's order of the log names: training names sorted, then the ``val_`` ones,
    then those callbacks add (``learning_rate``)."""
    names = sorted(logs, key=lambda name: (name in CALLBACK_LOGS, name.startswith("val_"),
                                           name))
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

    As Keras, a fit of ``epochs=1`` prints no ``Epoch 1/1`` head; ``learning_rate`` (when
    in the logs) comes last.

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
        head = f"Epoch {epoch + 1}/{self.total}\n" if self.total > 1 else ""
        return f"{head}{step_line(self.steps, seconds, logs)}\n"

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


def _number(owner, name, value, low=-math.inf, allow_none=False):
    """``value`` as a float, checked finite and >= ``low`` (None passes if allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and value >= low):
        bound = "" if low == -math.inf else f" >= {low:g}"
        none = " or None" if allow_none else ""
        raise ValueError(f"{owner} {name} must be a finite number{bound}{none}; got "
                         f"{value!r}")
    return float(value)


def _count(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner} {name} must be an int >= 0; got {value!r}")
    return int(value)


def _per_epoch_only(owner, save_freq):
    """Keras' ``save_freq``: "epoch" is fastann's only one; an int (every so many batches)
    is Keras' other, refused as not supported."""
    if save_freq == "epoch":
        return save_freq
    if isinstance(save_freq, numbers.Integral):  # False too: Keras' preemption-only mode
        raise NotSupportedError(f"{owner} save_freq={save_freq!r}",
                                "it saves after every epoch: save_freq='epoch'")
    raise ValueError(f"{owner} save_freq must be 'epoch' (or, in Keras, an int); got "
                     f"{save_freq!r}")


def _best_text(best):
    return "None" if best is None else f"{best:.5f}"


class _Monitor(Callback):
    """Keras' MonitorCallback: reads ``monitor`` from the epoch's logs and tells whether a
    value beats a reference (None: anything does) by more than ``min_delta``; warns once
    per ``fit`` if the value is missing, saying what the callback does then."""

    WHEN_MISSING = "so this callback does nothing"

    def __init__(self, monitor, mode, min_delta, best=None):
        owner = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{owner} monitor must be a log name (str); got {monitor!r}")
        self.monitor = monitor
        self.mode = _check_mode(owner, mode)
        self.min_delta = abs(_number(owner, "min_delta", min_delta))  # sign ignored, as Keras
        self.maximise = _maximise(monitor, mode)
        self.best = best
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
                    f"the logs, {self.WHEN_MISSING}; available: {sorted(logs or {})}{hint}",
                    RuntimeWarning, stacklevel=3)
                self._warned = True
            return None
        return float(value)

    def _improved(self, current, reference):
        if reference is None:
            return True
        if self.maximise:
            return current - self.min_delta > reference
        return current + self.min_delta < reference


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has stopped improving (Keras 3's rule, step for step).

    From epoch ``start_from_epoch`` on, each epoch with a monitored value counts one more
    epoch of waiting; one that improves on the best by more than ``min_delta`` becomes
    the best and resets the wait, if it also beats ``baseline`` (when given). An epoch
    that does not improve stops training once the wait reaches ``patience``.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A log name: "loss", a metric, or their ``val_`` forms.
    min_delta : float, default 0
        An improvement must beat the best value by more than ``abs(min_delta)``.
    patience : int >= 0, default 0
        Epochs without improvement to wait: training stops at the end of the
        ``patience``-th consecutive epoch that did not improve (0: the first one).
    verbose : int, default 0
        1 prints ``Epoch 5: early stopping`` (when ``fit`` ends) and
        ``Restoring model weights from the end of the best epoch: 3.``, as Keras.
    mode : {"auto", "min", "max"}, default "auto"
        "auto" maximises names containing "acc" and minimises the rest.
    baseline : float or None, default None
        Improvements that do not beat it do not reset the wait (Keras 3: a run that
        keeps improving below it is not stopped).
    restore_best_weights : bool, default False
        At the end of ``fit`` (stopped early or not, as Keras 3) load the weights of the
        epoch with the best monitored value, kept as a copy of the flat parameter buffer.
        The optimizer's state is not restored.
    start_from_epoch : int >= 0, default 0
        Epochs of the ``fit`` call (Keras' numbering) before the first one monitored.

    Attributes
    ----------
    best : float or None
        The best monitored value of the last ``fit`` (None before one is seen).
    best_epoch : int
        Its epoch (Keras' numbering; 0 before one is seen).
    stopped_epoch : int
        The epoch after which this callback stopped training; 0 when it did not (Keras).
    wait : int
        Epochs since the last improvement.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = _count("EarlyStopping", "patience", patience)
        self.verbose = verbose
        self.baseline = _number("EarlyStopping", "baseline", baseline, allow_none=True)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best, self._warned = None, False  # each fit starts afresh, as Keras
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _say(f"Restoring model weights from the end of the best epoch: "
                     f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (``model.save(filepath)``) or its weights
    (``model.save_weights(filepath)``) after every epoch, or only when ``monitor``
    improved (Keras 3's ModelCheckpoint).

    Parameters
    ----------
    filepath : str or os.PathLike
        May hold ``str.format`` fields: ``{epoch}`` (1-based within the ``fit`` call, as
        Keras numbers epochs) and any log name, e.g. ``"model-{epoch:03d}-{val_loss:.3f}.npz"``.
        Any ending ``model.save`` takes (``.npz``, ``.keras``, none: ``.npz`` is added);
        its folder is created if missing.
    monitor : str, default "val_loss"
        Used by ``save_best_only``.
    verbose : int, default 0
        1 prints Keras' lines: ``Epoch 1: val_loss improved from None to 0.69315, saving
        model to ck.keras``, ``... did not improve from ...``, ``Epoch 1: saving model to
        ...`` and ``Epoch 1: finished saving model to ...``.
    save_best_only : bool, default False
        Save only when the monitored value is the best so far (the first epoch always
        is, unless ``initial_value_threshold`` is set); then a path without fields always
        holds the best model. If the value is missing from the logs, every epoch is saved,
        as Keras does (with a warning).
    save_weights_only : bool, default False
        Write ``model.save_weights(filepath)`` instead of the whole model.
    mode : {"auto", "min", "max"}, default "auto"
    save_freq : "epoch"
        Keras' integer (every so many batches) raises ``NotSupportedError``.
    initial_value_threshold : float or None, default None
        The best value to beat before the first save (``save_best_only``).

    The best value carries over between ``fit`` calls, as in Keras.
    """

    WHEN_MISSING = "so every epoch is saved"

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, 0, _number(
            "ModelCheckpoint", "initial_value_threshold", initial_value_threshold,
            allow_none=True))
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint filepath must be a str or path; got "
                            f"{filepath!r}")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = _per_epoch_only("ModelCheckpoint", save_freq)

    def _writer(self):
        """The model's method that writes what this callback saves."""
        return "save_weights" if self.save_weights_only else "save"

    def on_train_begin(self, logs=None):
        self._warned = False
        if not callable(getattr(self.model, self._writer(), None)):
            raise NotSupportedError(
                f"ModelCheckpoint(save_weights_only={self.save_weights_only}) on a model "
                f"without {self._writer()}(filepath)",
                "save_weights_only=False saves the whole model with model.save")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"ModelCheckpoint filepath {self.filepath!r} cannot be "
                             f"formatted with epoch and the logs {sorted(logs)}: "
                             f"{error!r}") from None
        if not self._should_save(epoch, logs, path):
            return
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        getattr(self.model, self._writer())(path)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: finished saving model to {path}")

    def _should_save(self, epoch, logs, path):
        """Keras' decision, with its messages."""
        if not self.save_best_only:
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = self._current(logs)
        if current is None:
            return True
        if self._improved(current, self.best):
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                     f"{_best_text(self.best)} to {current:.5f}, saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                 f"{_best_text(self.best)}")
        return False


class ReduceLROnPlateau(_Monitor):
    """Multiply the optimizer's learning rate by ``factor`` when ``monitor`` has not
    improved for ``patience`` epochs (Keras 3's rule, step for step).

    Each epoch: put the rate it trained with in the logs as ``learning_rate``; during a
    cooldown, count it down and reset the wait; if the value improved on the best by more
    than ``min_delta``, remember it and reset the wait; otherwise, outside a cooldown,
    count the wait up and, once it reaches ``patience``, set
    ``lr = max(lr * factor, min_lr)`` (if lr is above min_lr), start a cooldown of
    ``cooldown`` epochs and reset the wait. The rate never goes below
    ``fastann.optimizers.MIN_LR`` (2.2e-308), so ``min_lr=0`` on
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
    verbose : int, default 0
        1 prints ``Epoch 5: ReduceLROnPlateau reducing learning rate to 0.0005.``
    mode : {"auto", "min", "max"}, default "auto"
    min_delta : float, default 1e-4
    cooldown : int >= 0, default 0
    min_lr : float >= 0, default 0
    **kwargs
        Keras 3 takes and ignores any; fastann refuses them (TypeError), so a misspelt
        option is not lost.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected keyword arguments "
                            f"{sorted(kwargs)} (Keras 3 ignores them; fastann refuses them)")
        super().__init__(monitor, mode, min_delta)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not (
                0 < factor < 1):
            raise ValueError(f"ReduceLROnPlateau factor must be a number in (0, 1); got "
                             f"{factor!r}")
        self.factor = float(factor)
        self.patience = _count("ReduceLROnPlateau", "patience", patience)
        self.verbose = verbose
        self.cooldown = _count("ReduceLROnPlateau", "cooldown", cooldown)
        self.min_lr = _number("ReduceLROnPlateau", "min_lr", min_lr, low=0)
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        _refuse_a_schedule("ReduceLROnPlateau changes", self.model.optimizer)
        self.best, self._warned = None, False
        self.wait = self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        _log_learning_rate(self.model.optimizer, logs)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch):
        """Lower the rate unless it is at ``min_lr`` already; True if it was lowered."""
        optimizer = self.model.optimizer
        # lr must stay > 0: with min_lr=0 it stops at optimizers.MIN_LR
        if optimizer.lr <= max(self.min_lr, optimizers.MIN_LR):
            return False
        optimizer.lr = max(optimizer.lr * self.factor, self.min_lr, optimizers.MIN_LR)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                 f"{optimizer.lr}.")
        return True


def _refuse_a_schedule(action, optimizer):
    """The callbacks that set a constant rate cannot work with a LearningRateSchedule."""
    if optimizer.scheduled:
        raise TypeError(f"{action} a constant learning rate, but the optimizer's lr is the "
                        f"schedule {optimizer.lr!r}; use one of the two")


def _log_learning_rate(optimizer, logs):
    """Keras 3's ``logs["learning_rate"]``: the rate the epoch trained with."""
    if logs is not None:
        logs["learning_rate"] = float(optimizer.lr)


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file (Keras' CSVLogger): a header
    ``epoch,<sorted log names>`` then one row per epoch (epochs 0-based, Keras'
    numbering). Log-only: the compiled loop keeps running many epochs per call.

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
    weights become NaN or infinite (Keras' TerminateOnNaN).

    The compiled loop checks after every epoch (Keras checks the loss after every batch),
    rolls the epoch back and keeps the weights of the last finite one; then this prints
    ``Epoch 3: Invalid loss, terminating training`` (Keras: ``Batch N: ...``; fastann does
    not know the batch).

    Parameters
    ----------
    raise_error : bool, default False
        True raises RuntimeError instead of stopping quietly (Keras 3). A backup of
        ``BackupAndRestore`` is kept, as for any error in ``fit``; unlike Keras the other
        callbacks still get ``on_train_end``.
    """

    needs_every_epoch = False
    stops_on_non_finite = True

    def __init__(self, raise_error=False):
        self.raise_error = bool(raise_error)

    def on_non_finite(self, epoch, logs=None):
        """Called by ``fit`` after the epoch whose loss or weights were not finite (rolled
        back); ``logs`` are that epoch's values when ``fit`` passes them."""
        loss = (logs or {}).get("loss")
        if self.raise_error:
            value = "" if loss is None else f" Loss value: {loss}."
            raise RuntimeError(f"NaN or Inf loss encountered in epoch {epoch + 1}.{value} "
                               "Terminating training immediately.")
        _say(f"Epoch {epoch + 1}: Invalid loss, terminating training")


def _accepts(function, *arguments):
    """False only when ``function``'s signature cannot take ``arguments``."""
    try:
        inspect.signature(function).bind(*arguments)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): assume it can
        pass
    return True


class LearningRateScheduler(Callback):
    """Set the learning rate before every epoch to ``schedule(epoch, lr)``, or
    ``schedule(epoch)`` for a one-argument schedule (Keras 3's LearningRateScheduler);
    the rate used is added to the logs as ``learning_rate``.

    Parameters
    ----------
    schedule : callable (epoch: int, lr: float) -> float, or (epoch: int) -> float
        ``epoch`` is Keras' (0-based, from ``initial_epoch``); ``lr`` is the current rate.
        As Keras, a TypeError from the two-argument call makes it call
        ``schedule(epoch)``; unlike Keras, only when the signature cannot take two
        arguments, so a TypeError inside a two-argument schedule is not hidden. A value
        the optimizer refuses as its rate (not a finite number, negative) raises
        ValueError naming this callback and the value.
    verbose : int, default 0
        1 prints ``Epoch 1: LearningRateScheduler setting learning rate to 0.01.``
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler schedule must be callable (epoch, lr) "
                            f"-> lr; got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        _refuse_a_schedule("LearningRateScheduler sets", self.model.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        arguments = (epoch, float(optimizer.lr))
        try:
            value = self.schedule(*arguments)
        except TypeError:
            if _accepts(self.schedule, *arguments):
                raise
            arguments = (epoch,)
            value = self.schedule(epoch)
        try:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError("a learning rate is a number")
            optimizer.lr = float(value)  # the optimizer's own check of a rate
        except ValueError as error:
            call = ", ".join(map(str, arguments))
            raise ValueError(f"LearningRateScheduler: schedule({call}) returned {value!r}, "
                             f"which is not a learning rate ({error})") from None
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                 f"{optimizer.lr}.")

    def on_epoch_end(self, epoch, logs=None):
        _log_learning_rate(self.model.optimizer, logs)


# Keras hooks of the evaluation and prediction loops, which fastann's fit does not run
_KERAS_ONLY_HOOKS = tuple(f"on_{phase}_{event}" for phase in ("test", "predict")
                          for event in ("begin", "end", "batch_begin", "batch_end"))


class LambdaCallback(Callback):
    """A callback from functions (Keras' LambdaCallback): ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``. Only the
    hooks given are called, so batch hooks cost the per-batch path only when given.

    ``**kwargs``, as Keras: Keras' ``on_batch_begin``/``on_batch_end`` are hooks too, and
    names not starting with ``on_`` become attributes. The ``on_test_*`` and
    ``on_predict_*`` hooks raise ``NotSupportedError`` (fit runs no such loops); other
    ``on_`` names raise TypeError (a misspelt hook would never run).
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name in kwargs:
            if name in _KERAS_ONLY_HOOKS:
                raise NotSupportedError(f"LambdaCallback {name}",
                                        "fit calls the on_train_* and on_epoch_* hooks only")
            if name.startswith("on_") and name not in HOOKS:
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}; hooks: "
                                f"{list(HOOKS)}")
        given.update({name: value for name, value in kwargs.items() if name in HOOKS})
        self.__dict__.update({name: value for name, value in kwargs.items()
                              if name not in HOOKS})
        for name, function in given.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback {name} must be callable; got {function!r}")
            setattr(self, name, function)


# what reading a damaged backup file raises
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


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
        Only per-epoch backups: Keras' integer (every so many batches) raises
        ``NotSupportedError``.
    double_checkpoint : bool, default False
        Keep the backup before the last one too (``backup.npz.bkp``), and restore it when
        the last one cannot be read (Keras 3).
    delete_checkpoint : bool, default True
        Delete the backup when ``fit`` completes.
    """

    FILE = "backup.npz"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"BackupAndRestore backup_dir must be a str or path; got "
                            f"{backup_dir!r}")
        if not os.fspath(backup_dir):
            raise ValueError("BackupAndRestore backup_dir must not be empty")
        self.save_freq = _per_epoch_only("BackupAndRestore", save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.path = os.path.join(self.backup_dir, self.FILE)
        self.previous_path = self.path + ".bkp"

    def _paths(self):
        """The backup files, newest first."""
        return [self.path, self.previous_path] if self.double_checkpoint else [self.path]

    def _read(self, state):
        """Fill ``state`` from the newest readable backup and return its metadata, or
        None when there is no backup."""
        failure = None
        for path in filter(os.path.exists, self._paths()):
            try:
                with np.load(path, allow_pickle=False) as archive:
                    meta = json.loads(str(archive["meta"]))
                    for name in state.FIELDS:
                        setattr(state, name, archive[name])
                return meta
            except _UNREADABLE as error:
                failure = failure or (path, error)
        if failure is not None:
            raise ValueError(f"BackupAndRestore cannot read the backup {failure[0]!r} "
                             f"({failure[1]!r}); delete it to start over") from failure[1]
        return None

    def on_train_begin(self, logs=None):
        self._begin_epochs = self.model.epochs_trained
        state = self.model.get_training_state()
        meta = self._read(state)
        if meta is None:
            return
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
        if self.double_checkpoint and os.path.exists(self.path):
            os.replace(self.path, self.previous_path)
        os.replace(temporary, self.path)

    def on_train_end(self, logs=None):
        finished = getattr(self.model, "_fit_complete", False)
        if self.delete_checkpoint and finished:
            for path in filter(os.path.exists, self._paths()):
                os.remove(path)


# Keras callbacks fastann does not have: a NotSupportedError naming them, not an AttributeError
KERAS_ONLY = frozenset("""
CallbackList OrbaxCheckpoint ProgbarLogger RemoteMonitor SwapEMAWeights TensorBoard
""".split())
__getattr__ = keras_only(__name__, "callback", KERAS_ONLY,
                         "fit prints Keras' progress lines itself; fastann's callbacks: History, EarlyStopping, "
                         "ModelCheckpoint, ReduceLROnPlateau, CSVLogger, TerminateOnNaN, "
                         "LearningRateScheduler, LambdaCallback, BackupAndRestore")
