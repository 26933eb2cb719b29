"""How many BLAS threads a training run uses: chosen per product size and from the
cores that are free, never more than the machine has to spare.

The kernels' own loops run on one thread; only BLAS (SciPy's, which ``kernels/blas.py``
calls) splits a large product over threads. OpenBLAS' threads spin for about 0.1 s
after a threaded product before they sleep, and a thread whose core is taken by
another process stalls every product it has a part of: on a 2-core machine with one
other CPU-bound process, a 784-256-256-10 network trained at 37 % of its idle speed on
2 BLAS threads and at 77 % on one. So ``fit`` asks for a second thread only when the
batch products are large enough for threads to pay (``WORK_PER_THREAD``) and a core is
free of other running work, counted from the kernel's run queue (``/proc/loadavg``)
less this process's own running threads (its own spinning BLAS threads are not "other
work"), or from the load average where ``/proc`` is missing.

BLAS splits a product over its outputs, so every output is still summed by one thread
in one order: results are identical, bit for bit, for any thread count (tested).
Without ``threadpoolctl``, or with ``FASTANN_BLAS_THREADS=off``, the thread counts are
left as they are.
"""
import contextlib
import os

# Multiply-adds of the largest batch product per BLAS thread. From fastann bench
# --scaling on the 2-core machine: a second thread helped from about 1M multiply-adds
# per product (128x64x128: 4.6 against 5.0 ms per epoch; 128x64x512: 12.3 against 17.4)
# and not below. OpenBLAS itself keeps products under 2**18 on one thread.
WORK_PER_THREAD = 2 ** 19

_controller = None  # threadpoolctl's controller of the BLAS the kernels call, made once


def blas_threads(work, usable_cores, busy_cores):
    """BLAS threads for products of ``work`` multiply-adds (the largest of a batch) with
    ``usable_cores`` cores of which ``busy_cores`` run other work: one per
    ``WORK_PER_THREAD`` of work, at most one per free core, at least one."""
    free = int(usable_cores - max(0.0, busy_cores) + 0.5)  # a half-busy core counts
    return int(max(1, min(free, work // WORK_PER_THREAD)))


def largest_product(sizes, batch_rows):
    """Multiply-adds of the largest matrix product a batch of ``batch_rows`` makes in a
    network of layer ``sizes`` (n_features, units_1, ..., units_L)."""
    return max(batch_rows * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def usable_cores():
    """Cores this process may run on (its CPU affinity), or ``os.cpu_count()``."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def busy_cores():
    """How many cores other processes keep busy right now: the runnable tasks of the
    whole machine less this process's own running threads, or the 1-minute load
    average where ``/proc`` is missing (it includes this process, so it overcounts)."""
    try:
        with open("/proc/loadavg") as loadavg:
            running = int(loadavg.read().split()[3].split("/")[0])
        return max(0, running - _own_running_threads())
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def _own_running_threads():
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                # the state follows the command name, which is in parentheses
                if stat.read().rsplit(")", 1)[1].split()[0] == "R":
                    running += 1
        except (OSError, IndexError):
            pass
    return max(1, running)  # the thread reading this runs


def _blas_controller():
    """threadpoolctl's controller of SciPy's BLAS (all BLAS libraries where SciPy's
    cannot be told apart), or None without threadpoolctl."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
            return None
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the kernels call)

        blas = ThreadpoolController().select(user_api="blas")
        scipys = [lib.filepath for lib in blas.lib_controllers
                  if "scipy.libs" in lib.filepath or f"{os.sep}scipy{os.sep}" in lib.filepath]
        _controller = blas.select(filepath=scipys) if scipys else blas
    return _controller or None


@contextlib.contextmanager
def limited(threads):
    """SciPy's BLAS on at most ``threads`` threads inside the block (restored after),
    and never more than it has on entry: a limit the caller set (``threadpoolctl``'s
    ``threadpool_limits(1)`` around ``fit``) holds."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    current = min((lib.num_threads for lib in controller.lib_controllers), default=1)
    with controller.limit(limits=max(1, min(int(threads), current))):
        yield


def policy_enabled():
    """False when ``FASTANN_BLAS_THREADS=off``: ``fit`` then leaves BLAS' thread count
    as it finds it (for measuring without the policy)."""
    return os.environ.get("FASTANN_BLAS_THREADS", "auto").lower() != "off"


def for_training(sizes, batch_size, n_samples):
    """The BLAS thread limit ``fit`` trains under, as a context manager: from the
    largest batch product of the network (layer ``sizes``; ``batch_size`` None: the
    full batch) and the cores free right now."""
    if not policy_enabled():
        return contextlib.nullcontext()
    rows = n_samples if batch_size is None else min(batch_size, n_samples)
    work = largest_product(sizes, rows)
    if work < WORK_PER_THREAD * 2:  # one thread whatever the load: skip reading /proc
        return limited(1)
    return limited(blas_threads(work, usable_cores(), busy_cores()))
