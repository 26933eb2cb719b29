"""Callbacks: the Keras-style hooks ``fit`` calls, and the built-in History and progress.

``fit`` runs epochs in compiled chunks. Built-in recorders (History, progress) take a
whole chunk at once; a callback with ``needs_every_epoch = True`` (the default for user
callbacks) makes ``fit`` return to Python after every epoch so it can stop training or
look at the weights in time.
"""
import sys
import time

import numpy as np


class Callback:
    """Base class. Override ``on_epoch_end(epoch, logs)``; return True (or set
    ``self.model.stop_training = True``) to stop training after this epoch."""

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

    def __init__(self):
        self._epochs = []
        self._columns = {}
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
            self._lists = {name: np.concatenate(parts).tolist()
                           for name, parts in self._columns.items()}
        return self._lists

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
