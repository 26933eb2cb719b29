"""The training state: everything ``fit`` changes, as one record.

``Model.get_training_state()`` returns a copy of it and ``Model.set_training_state``
loads one back (checked first); saving, ``BackupAndRestore`` and callbacks go through
those two methods, so continuing from a state is continuing bit for bit.
"""
from dataclasses import dataclass

import numpy as np

from .kernels import train as train_kernels


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

    def load(self, other):
        """Copy ``other``'s arrays into this state's (after ``check_like``)."""
        self.check_like(other)
        for name in self.FIELDS:
            getattr(self, name)[...] = getattr(other, name)
