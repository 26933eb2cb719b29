"""Ctrl-C during ``fit``: stop cleanly between kernel calls instead of mid-bookkeeping.

Compiled code cannot be interrupted: Python runs a signal handler only once the running
kernel call returns (calls last about ``model.CHUNK_SECONDS``, at least one epoch, and
the first one also pays the compile). So:

- a first Ctrl-C asks ``fit`` to stop after the running kernel call; ``fit`` then returns
  the History so far, with a warning;
- a second Ctrl-C raises ``KeyboardInterrupt``: at once if Python code is running (a
  callback, the progress output), else as soon as the running kernel call has returned
  and its epochs are recorded, so ``model.history`` and the weights still agree.
"""
import signal
import threading
from contextlib import contextmanager


class _Interrupt:
    """What the handler saw. ``hold``/``release`` bracket a kernel call and the recording
    of its epochs, where a KeyboardInterrupt would leave History behind the weights."""

    def __init__(self):
        self.requested = False  # a first Ctrl-C came
        self._held = False
        self._pending = False  # a second Ctrl-C came while held

    def hold(self):
        self._held = True

    def release(self):
        self._held = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def _signal(self):
        if not self.requested:
            self.requested = True
        elif self._held:
            self._pending = True
        else:
            raise KeyboardInterrupt


@contextmanager
def deferred_interrupt():
    """While active, a first Ctrl-C only sets ``.requested`` (``fit`` checks it after each
    kernel call, so History and the weights always agree); a second one raises
    KeyboardInterrupt (see the module docstring for when). Off the main thread, or when
    the program installed its own SIGINT handler, nothing changes."""
    state = _Interrupt()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum, frame):
        state._signal()

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
