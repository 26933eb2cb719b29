"""Sharing one model between threads.

The kernels run with the GIL released, so two threads can be inside them at once.

- Inference (``predict_proba``, ``predict``, ``evaluate``) only reads the weights; its
  scratch buffers (activations of a block of rows) are borrowed from a ``ScratchPool``,
  so concurrent calls never share them: each call holds its own workspace for its
  duration, and serial calls reuse the same one.
- Training writes the weights, the optimizer state and the counters, so ``fit`` on one
  model from two threads at once is refused: the second raises ``ConcurrentFitError``
  at once instead of waiting (a wait would silently train twice as many epochs as
  either caller asked, in an order neither chose). ``compile``, ``set_weights`` and
  ``save`` from another thread while ``fit`` runs are refused the same way; from the
  training thread itself (a callback, ``ModelCheckpoint``) they are allowed. Reading
  the weights (``predict``, ``get_weights``) from another thread meanwhile is allowed
  but sees them mid-update.
- Different models share nothing mutable and run independently in parallel.
"""
import threading
from contextlib import contextmanager


class ConcurrentFitError(RuntimeError):
    """Another thread is training this model right now."""


class ScratchPool:
    """Workspaces lent to one caller at a time, kept for reuse, at most ``keep`` per
    capacity (the rest are dropped when returned). A copy or an unpickled model gets an
    empty pool of its own."""

    def __init__(self, keep=2):
        self._keep = keep
        self._free = {}  # capacity -> [workspace, ...]
        self._lock = threading.Lock()

    def __reduce__(self):  # copy.deepcopy and pickle: a fresh pool, no lock copied
        return type(self), (self._keep,)

    @contextmanager
    def borrow(self, capacity, make):
        """A workspace of ``capacity`` rows, ``make(capacity)`` if none is free, that no
        other caller uses until this block ends."""
        with self._lock:
            free = self._free.get(capacity)
            workspace = free.pop() if free else None
        if workspace is None:
            workspace = make(capacity)
        try:
            yield workspace
        finally:
            with self._lock:
                free = self._free.setdefault(capacity, [])
                if len(free) < self._keep:
                    free.append(workspace)

    def clear(self):
        with self._lock:
            self._free = {}


class TrainingGuard:
    """Marks the one thread that may train (and change) a model at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._owner = None

    def __reduce__(self):  # a copy of a model is not being trained
        return type(self), ()

    @contextmanager
    def training(self, action="fit"):
        """Held for the whole of ``fit``; re-entry from the owning thread (``fit`` from
        a callback) is refused too, as it would corrupt the outer ``fit``'s state."""
        if not self._lock.acquire(blocking=False):
            who = ("this same thread (fit called from inside fit)"
                   if self._owner == threading.get_ident() else "another thread")
            raise ConcurrentFitError(
                f"{action}: this model is being trained by {who}; one model trains in one "
                "fit call at a time. Wait for it to finish, or train a copy of the model "
                "(copy.deepcopy(model))")
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()

    def check_idle(self, action):
        """Refuse ``action`` (which changes the model) while another thread trains it."""
        owner = self._owner
        if owner is not None and owner != threading.get_ident():
            raise ConcurrentFitError(f"{action}: this model is being trained by another "
                                     "thread; wait for its fit to finish")
