"""The training state: everything ``fit`` changes, as one record.

``Model.get_training_state()`` returns a copy of it and ``Model.set_training_state``
loads one back (checked first); saving, ``BackupAndRestore`` and callbacks go through
those two methods, so continuing from a state is continuing bit for bit.

``TrainingState.check_values`` holds the rules a state must meet, written once: what
``set_training_state`` loads, what ``save`` writes and what ``load_model`` reads all
pass it, so a state that a file could not be loaded from is never taken in.
"""
from dataclasses import dataclass

import numpy as np

from ._checks import count_nonfinite
from .kernels import optimizers as optimizer_kernels
from .kernels import train as train_kernels

# The optimizer slot (of N_SLOTS, each n_params long) that holds mean squared gradients
# (Adam's and Nadam's second moment, RMSprop's average, Adagrad's sum) or Adamax' norm:
# never negative in training, and a negative entry makes the next step NaN.
NONNEGATIVE_SLOT = {"adam": 1, "adamw": 1, "nadam": 1, "adamax": 1, "rmsprop": 0,
                    "adagrad": 0}


@dataclass
class TrainingState:
    """The arrays training reads and writes.

    Attributes
    ----------
    params : ndarray, (n_params,)
        The flat parameters (``fastann.layout``), in the model's dtype.
    opt_state : ndarray, (N_SLOTS * n_params + N_SCALARS,)
        The optimizer's moments, same dtype.
    rng_state : ndarray, (1,) uint64
        The shuffling generator's state.
    counters : ndarray, (N_COUNTERS,) int64
        Epochs and optimizer steps done, kernel status.
    moving : ndarray, (n_moving,)
        Non-trainable state that training updates (BatchNormalization's moving
        statistics; empty for a Dense stack), in the model's dtype.
    """

    params: np.ndarray
    opt_state: np.ndarray
    rng_state: np.ndarray
    counters: np.ndarray
    moving: np.ndarray

    FIELDS = ("params", "opt_state", "rng_state", "counters", "moving")

    @property
    def epochs(self):
        """Epochs trained over the model's life."""
        return int(self.counters[train_kernels.EPOCHS])

    @property
    def steps(self):
        """Optimizer steps since the last ``compile``."""
        return int(self.counters[train_kernels.STEPS])

    def copy(self):
        return TrainingState(*(getattr(self, name).copy() for name in self.FIELDS))

    def arrays(self):
        """{field: array}: the arrays by name (views, not copies)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def check_like(self, other, where="training state"):
        """Raise ValueError unless ``other`` has this state's shapes and dtypes."""
        if not isinstance(other, TrainingState):
            raise TypeError(f"{where} must be a fastann TrainingState; got "
                            f"{type(other).__name__}")
        for name in self.FIELDS:
            mine, theirs = getattr(self, name), np.asarray(getattr(other, name))
            if mine.shape != theirs.shape or mine.dtype != theirs.dtype:
                raise ValueError(f"{where} {name} must be {mine.dtype} of shape {mine.shape} "
                                 f"(this model's); got {theirs.dtype} {theirs.shape}")

    def check_values(self, layout=None, optimizer=None, where="training state"):
        """Raise ValueError unless every value is one training can reach: finite
        parameters, optimizer state and moving statistics; epochs and steps >= 0 and
        an OK status; and, given the model's ``layout`` and ``optimizer``, no negative
        moving variance or mean squared gradient. ``where`` begins each message."""
        for name in ("params", "opt_state", "moving"):
            array = np.asarray(getattr(self, name))
            bad = count_nonfinite(array)
            if bad:
                raise ValueError(f"{where} {name!r} holds NaN or infinite values ({bad} of "
                                 f"{array.size}), which training never leaves")
        counters = np.asarray(self.counters)
        if (counters[[train_kernels.EPOCHS, train_kernels.STEPS]] < 0).any() or \
                counters[train_kernels.STATUS] != train_kernels.OK:
            raise ValueError(f"{where} 'counters' holds impossible values "
                             f"{counters.tolist()} (epochs, steps, status: epochs and steps "
                             f">= 0, status {train_kernels.OK})")
        slot = NONNEGATIVE_SLOT.get(getattr(type(optimizer), "name", None))  # class, not name=
        n_params = np.shape(self.params)[0]
        if slot is not None and (np.asarray(self.opt_state)[
                slot * n_params:(slot + 1) * n_params] < 0).any():
            raise ValueError(f"{where} 'opt_state' holds negative mean squared gradients "
                             f"({optimizer.name}'s slot {slot} of "
                             f"{optimizer_kernels.N_SLOTS}), which no training produces "
                             "(the next step would give NaN)")
        if layout is not None:
            layout.check_weights(layout.weight_views(np.asarray(self.params),
                                                     np.asarray(self.moving)),
                                 f"{where} 'moving':")

    def load(self, other, layout=None, optimizer=None):
        """Copy ``other``'s arrays into this state's, after ``check_like`` and
        ``check_values`` (``layout`` and ``optimizer``: the model's, for the checks that
        need them), so nothing changes unless all of it is valid."""
        self.check_like(other)
        other.check_values(layout, optimizer)
        for name in self.FIELDS:
            getattr(self, name)[...] = getattr(other, name)
