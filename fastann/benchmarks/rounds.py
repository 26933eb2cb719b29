"""Timing shared by the jobs: a round trains a fixed number of epochs from a fresh
start; rounds of the sides are interleaved, each side after a pause when its products
are large enough for BLAS threads; speeds are medians over rounds."""
import statistics
import time
from contextlib import contextmanager

import numba
import numpy as np

from .. import _blas_threads


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def fastann_round(workload, epochs):
    """Seconds ``Model.fit`` takes for ``epochs`` epochs from a fresh model, and the
    per-epoch losses."""
    model = workload.model()
    start = time.perf_counter()
    history = workload.fit(model, epochs)
    elapsed = time.perf_counter() - start
    return elapsed, np.asarray(history.history["loss"], np.float64)


def reference_round(workload, epochs):
    """Seconds ``fastann.reference.train`` takes for ``epochs`` epochs from the initial
    weights, and the per-epoch losses."""
    call = workload.reference_call(epochs)
    start = time.perf_counter()
    _, history = call()
    elapsed = time.perf_counter() - start
    return elapsed, reference_losses(history)


def reference_losses(history):
    """The per-epoch losses of the history ``reference.train`` returns, (epochs,)."""
    return np.asarray(history["loss"], np.float64)


def calibrate(run_round, target_s, max_epochs=10 ** 8):
    """Epochs per round such that ``run_round(epochs)`` takes about ``target_s``."""
    epochs = 1
    while True:
        elapsed = max(run_round(epochs)[0], 1e-9)
        if elapsed >= target_s / 3 or epochs >= max_epochs:
            return int(max(1, min(max_epochs, round(epochs * target_s / elapsed))))
        epochs = min(max_epochs, epochs * int(min(100, max(2, target_s / elapsed))))


def _spread(values):
    """(max - min) / median, a plain measure of how noisy the rounds were."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else float("nan")


def loss_agreement(fastann_losses, reference_losses_):
    """Largest relative difference of the per-epoch losses both sides computed from the
    same start (over the epochs both ran)."""
    n = min(len(fastann_losses), len(reference_losses_))
    if n == 0:
        return float("nan")
    a, b = fastann_losses[:n], reference_losses_[:n]
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def fastann_round_one_thread(workload, epochs):
    """``fastann_round`` with one BLAS thread and one Numba thread."""
    with single_thread():
        return fastann_round(workload, epochs)


# OpenBLAS runs a product on its threads only from 2**18 multiply-adds on (the threshold
# in its interface/gemm.c), and its threads then spin for about 2**28 clock ticks
# (0.1 s here) before they sleep. NumPy and SciPy each load their own OpenBLAS, so the
# reference's threads were still spinning on the second core when the next side began,
# and the other way round: a side that follows the other library ran 1.5-4x slower
# (mnist_shape's products alone, measured: 37 GFLOP/s at once, 59 after 0.1 s, 68-72
# after 0.2-0.4 s). Sides with such products start after a pause.
BLAS_THREADED_WORK = 2 ** 18
BLAS_SETTLE_S = 0.25


def settle_time(workload):
    """Seconds to wait before timing a side of ``workload``: BLAS_SETTLE_S when its
    batch products are large enough for BLAS threads, else 0."""
    rows = workload.batch_rows
    largest = max(rows * n_in * n_out
                  for n_in, n_out in zip(workload.sizes[:-1], workload.sizes[1:]))
    return BLAS_SETTLE_S if largest >= BLAS_THREADED_WORK else 0.0


def measure(workload, rounds, target_s, with_reference, extra_sides=()):
    """Warm up, calibrate and run interleaved rounds of both sides on ``workload``
    (and of ``extra_sides``, (label, round function) pairs, timed alike)."""
    # The first fit compiles (or loads from the cache) what no earlier workload needed.
    first, _ = fastann_round(workload, 1)
    steady, _ = fastann_round(workload, 1)
    result = {"workload": workload.name, "description": workload.describe(),
              "rows": workload.n_samples, "first_call_s": max(0.0, first - steady)}
    sides = [("fastann", fastann_round)]
    if with_reference:
        reference_round(workload, 1)
        sides.append(("reference", reference_round))
    for _, run in extra_sides:
        run(workload, 1)  # warm-up (compiling what it needs)
    sides += list(extra_sides)
    epochs = {side: calibrate(lambda e, f=run: f(workload, e), target_s)
              for side, run in sides}
    times = {side: [] for side, _ in sides}
    losses = {}
    settle = settle_time(workload)
    for _ in range(rounds):
        for side, run in sides:
            time.sleep(settle)
            elapsed, losses[side] = run(workload, epochs[side])
            times[side].append(elapsed)
    for side, _ in sides:
        speeds = [epochs[side] / t for t in times[side]]
        result[side] = {"epochs_per_round": epochs[side], "rounds": rounds,
                        "epochs_per_s": statistics.median(speeds),
                        "spread": _spread(speeds), "seconds": times[side],
                        "speeds": speeds}
    result["flops_per_epoch"] = workload.flops_per_epoch()
    for side, _ in sides:
        result[side]["gflops"] = result["flops_per_epoch"] * result[side]["epochs_per_s"] / 1e9
    if with_reference:
        result["speedup"] = statistics.median(
            ours / theirs for ours, theirs in zip(result["fastann"]["speeds"],
                                                  result["reference"]["speeds"]))
        result["speedup_of_medians"] = result["fastann"]["epochs_per_s"] / \
            result["reference"]["epochs_per_s"]
        result["loss_max_rel_diff"] = loss_agreement(losses["fastann"], losses["reference"])
        result["loss_epochs_compared"] = min(len(losses["fastann"]), len(losses["reference"]))
    return result




@contextmanager
def single_thread():
    """One BLAS thread and one Numba thread, restored on exit (``fit``'s thread policy
    keeps to the limit it finds)."""
    threads = numba.get_num_threads()
    with _blas_threads.limited(1):
        numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(threads)


def _has_threadpoolctl():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def measure_threads(workload, rounds, epochs, with_reference):
    """Epochs/s of each side with one thread and with all, interleaved."""
    if not _has_threadpoolctl():
        return {"note": "threadpoolctl not installed: BLAS threads cannot be limited"}
    sides = [("fastann", fastann_round)]
    if with_reference:
        sides.append(("reference", reference_round))
    speeds = {f"{side}_{threads}": [] for side, _ in sides for threads in ("1", "all")}
    settle = settle_time(workload)
    for _ in range(rounds):
        for side, run in sides:
            time.sleep(settle)
            speeds[f"{side}_all"].append(epochs[side] / run(workload, epochs[side])[0])
            time.sleep(settle)
            with single_thread():
                speeds[f"{side}_1"].append(epochs[side] / run(workload, epochs[side])[0])
    result = {"workload": workload.name, "rows": workload.n_samples,
              "all_threads": numba.get_num_threads()}
    for key, values in speeds.items():
        result[f"{key}_epochs_per_s"] = statistics.median(values)
    return result


