"""Ctrl-C during ``fit``: stop cleanly between kernel calls instead of mid-bookkeeping."""
import signal
import threading
from contextlib import contextmanager


class _Interrupt:
    requested = False


@contextmanager
def deferred_interrupt():
    """While active, a first Ctrl-C only sets ``.requested`` (``fit`` checks it after each
    kernel call, so History and the weights always agree); a second one raises
    KeyboardInterrupt as usual. Off the main thread, or when the program installed its
    own SIGINT handler, nothing changes."""
    state = _Interrupt()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum, frame):
        if state.requested:
            raise KeyboardInterrupt
        state.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
