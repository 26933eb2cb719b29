"""``fastann bench``: fastann against ``fastann.reference`` on the workloads of issue 4.

    fastann bench                  # stable medians; a few minutes on 2 cores
    fastann bench --quick          # under a minute with a warm kernel cache
    fastann bench --json out.json  # the same data, machine-readable
    fastann bench --scaling        # epoch time against width, batch size and rows
    fastann bench --crossovers     # every path of the dense kernels against their rules

(``python -m fastann.bench`` takes the same options.)

Both sides run in this process, in interleaved rounds, on the same data from the same
initial weights. Every round starts from a fresh model and trains a fixed number of
epochs, chosen per side so that a round takes a fraction of a second; speeds are the
medians over rounds. The speed-up is the median of the rounds' own ratios: a round
times both sides back to back, so each ratio is taken under one machine state (this
VM's speed drifts by up to 2x within minutes, which a ratio of medians would carry
whole). The ratio of the medians is in the JSON too. Where the products are large
enough for BLAS threads, each side starts after a short pause, so that it does not
share the cores with the other side's still-spinning BLAS threads (``settle_time``).
fastann is timed through ``Model.fit(..., verbose=0)``, the path users take. Compile time is measured in
fresh subprocesses from process start to the first trained epoch (building the data
excluded): "cold" with an empty ``NUMBA_CACHE_DIR``, "cached" a second process on the
same directory. "first call" is the in-process cost of the first ``fit`` of a workload
over a later one (compiling or loading from the cache whatever earlier workloads did not).

The float32 GEMM peak (square products, best of a few) is measured through NumPy's
``np.dot`` and through the kernels' own ``gemm`` (SciPy's BLAS); mnist_shape's GFLOP/s
count the matrix products exactly and are given as a share of it, and of the rate the
same products reach alone (timed in the same rounds, best round), the bound for any
trainer on this BLAS. Timings on a small machine are only as good as the machine is
idle: the run measures the CPU time other processes took meanwhile, and the peak again
at the end, and prints a warning when either moved.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numba
import numpy as np

import fastann

from . import _workloads, crossovers
from ._workloads import NAMES
from .kernels._jit import kernel, view_2d, view_rows
from .kernels.blas import gemm
from .kernels.network import N_IN, layer_block, layer_params
from .layout import Layout

# Issue 4's targets: fastann's epochs/s over the reference's, measured in one run.
TARGETS = {"and_gate": 200, "perceptron": 200, "keras_tutorial": 25, "digits": 4,
           "mnist_shape": 1.15}
TARGET_PEAK_FRACTION = 0.75  # mnist_shape's share of the float32 GEMM peak
NUMBA_FLOOR = "numba_floor"  # the compile results' key for the one-function program

SCALING_BASE = {"n_features": 64, "hidden": 128, "n_classes": 10, "rows": 4096,
                "batch_size": 128}
SCALING_SERIES = {
    "hidden": (8, 16, 32, 64, 128, 256, 512, 1024, 2048),
    "batch_size": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    "rows": (256, 1024, 4096, 16384, 65536),
}


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    mode: str
    rounds: int  # interleaved timed rounds per workload
    target_s: float  # seconds one side's round should take
    mnist_rows: object  # None: all 60,000 rows
    peak_sizes: tuple  # square float32 GEMM sizes tried for the peak
    peak_repeats: int
    thread_rounds: int
    compile_workloads: tuple  # workloads whose cold and cached start is measured
    probe_rows: int  # rows the compile probes build (their data time is excluded)
    scaling_rounds: int
    scaling_target_s: float
    crossover_target_s: float  # seconds per timed loop of one path on one shape
    crossover_repeats: int


DEFAULT = Settings("default", rounds=7, target_s=0.5, mnist_rows=None,
                   peak_sizes=(2048, 4096), peak_repeats=3, thread_rounds=3,
                   compile_workloads=NAMES, probe_rows=512, scaling_rounds=3,
                   scaling_target_s=0.3, crossover_target_s=0.01, crossover_repeats=5)
QUICK = Settings("quick", rounds=3, target_s=0.2, mnist_rows=6000, peak_sizes=(2048,),
                 peak_repeats=3, thread_rounds=2, compile_workloads=("and_gate",),
                 probe_rows=512, scaling_rounds=1, scaling_target_s=0.1,
                 crossover_target_s=0.002, crossover_repeats=3)


# ------------------------------------------------------------------ the machine
def machine_info():
    """CPU, cores, library versions, Numba's threading layer and the BLAS libraries."""
    numba.get_num_threads()  # starts Numba's thread pool, so the layer can be named
    try:
        threading_layer = numba.threading_layer()
    except ValueError:
        threading_layer = "not started"
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS the kernels call)

    info = {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(("avx2", "fma", "avx512f")),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "fastann": fastann.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba_threading_layer": threading_layer,
        "numba_threads": numba.get_num_threads(),
        "blas": _blas_info(),
        "load_average": _load_average(),
    }
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average():
    """The 1-minute load average: other work on a small machine skews every timing
    (multi-threaded BLAS most of all)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _cpu_snapshot():
    """(wall clock, CPU seconds of this process and its children, /proc/stat's busy and
    steal seconds over all CPUs), or None where /proc/stat is missing."""
    import resource

    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    busy = sum(fields[:8]) - idle - steal  # guest time is already in user
    own = sum(getattr(resource.getrusage(who), field)
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for field in ("ru_utime", "ru_stime"))
    return time.time(), own, busy / tick, steal / tick


def _other_cpu(before, after):
    """Shares of all CPUs' time, between two snapshots, that other processes used and
    that the hypervisor stole."""
    if before is None or after is None:
        return None
    capacity = (after[0] - before[0]) * (os.cpu_count() or 1)
    own = after[1] - before[1]
    return {"others": max(0.0, (after[2] - before[2] - own) / capacity),
            "steal": (after[3] - before[3]) / capacity, "own": own / capacity}


def _cpu_flags(wanted):
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed: BLAS unknown"}]
    libraries = []
    for pool in threadpool_info():
        if pool.get("user_api") != "blas":
            continue
        path = pool.get("filepath", "")
        owner = "scipy" if "scipy.libs" in path or "/scipy/" in path else \
            "numpy" if "numpy.libs" in path or "/numpy/" in path else "other"
        libraries.append({"library": pool.get("internal_api"), "version": pool.get("version"),
                          "owner": owner, "architecture": pool.get("architecture"),
                          "threading_layer": pool.get("threading_layer"),
                          "threads": pool.get("num_threads"), "path": path})
    return libraries


def format_machine(info):
    blas = "; ".join(
        lib["note"] if "note" in lib else
        f"{lib['library']} {lib['version']} ({lib['owner']}'s, {lib['architecture']}, "
        f"{lib['threading_layer']}, {lib['threads']} threads)"
        for lib in info["blas"]) or "none found"
    flags = "/".join(info["cpu_flags"]) or "no avx2"
    return (f"machine: {info['cpu']} ({flags}), {info['logical_cores']} cores "
            f"({info['usable_cores']} usable); Python {info['python']}; fastann "
            f"{info['fastann']}; numba {info['numba']} (threading layer "
            f"{info['numba_threading_layer']}, {info['numba_threads']} threads); NumPy "
            f"{info['numpy']}; SciPy {info['scipy']}; BLAS: {blas}"
            + (f"; load average {info['load_average']:.2f}"
               if info.get("load_average") is not None else ""))


# ------------------------------------------------------------------ GEMM peak
@kernel
def _numba_gemm(out, a, b):
    """out = a @ b through ``kernels.blas.gemm``, the call fastann's dense kernels make."""
    gemm(out, a, b, False, False)


def gemm_peak(sizes, repeats):
    """Best float32 GFLOP/s of square matrix products, through NumPy and through Numba."""
    generator = np.random.default_rng(0)
    result = {"numpy_gflops": 0.0, "numba_gflops": 0.0, "numpy_size": None,
              "numba_size": None}
    for n in sizes:
        a = generator.standard_normal((n, n), dtype=np.float32)
        b = generator.standard_normal((n, n), dtype=np.float32)
        out = np.empty((n, n), np.float32)
        flops = 2.0 * n ** 3
        for side, product in (("numpy", lambda: np.dot(a, b, out=out)),
                              ("numba", lambda: _numba_gemm(out, a, b))):
            product()  # warm-up: compile, start BLAS threads, touch the pages
            best = min(_timed(product) for _ in range(repeats))
            if flops / best / 1e9 > result[f"{side}_gflops"]:
                result[f"{side}_gflops"] = flops / best / 1e9
                result[f"{side}_size"] = n
    return result


# ------------------------------------------------------------------ the products alone
@kernel
def _products_epoch(params, grads, Z_buffer, dZ_buffer, dA_buffer, X, layers, capacity):
    """One epoch of a network's matrix products, the calls and shapes fastann's dense
    kernels make, and nothing else (no bias, activation, loss, update or shuffling).

    Forward Z_l = A_{l-1} @ W_l (a layer's Z stands in for its A), then per layer from
    the top dW_l = A_{l-1}.T @ dZ_l and, above the first, dA_{l-1} = dZ_l @ W_l.T. The
    dZ blocks are read from ``dZ_buffer`` and never written, so no value drifts towards
    denormals over the epoch. Buffers are laid out as in ``layout.Workspace``.
    """
    n = X.shape[0]
    last = layers.shape[0] - 1
    for start in range(0, n, capacity):
        rows = min(capacity, n - start)
        X_batch = view_rows(X, start, rows)
        A_prev = X_batch
        for l in range(last + 1):
            W, _ = layer_params(params, layers, l)
            Z = layer_block(Z_buffer, layers, l, rows, capacity)
            gemm(Z, A_prev, W, False, False)
            A_prev = Z
        for l in range(last, -1, -1):
            dZ = layer_block(dZ_buffer, layers, l, rows, capacity)
            A_prev = X_batch if l == 0 else layer_block(Z_buffer, layers, l - 1, rows,
                                                         capacity)
            dW, _ = layer_params(grads, layers, l)
            gemm(dW, A_prev, dZ, True, False)
            if l > 0:
                W, _ = layer_params(params, layers, l)
                gemm(view_2d(dA_buffer, 0, rows, layers[l, N_IN]), dZ, W, False, True)


class ProductsRound:
    """A round function (called like ``fastann_round``) that runs only a workload's
    matrix products, through the kernels' gemm at its batch size, on a fresh model's
    weights.

    Its GFLOP/s are what this BLAS gives the network's shapes, the ceiling to set
    fastann's rate against (besides the square-matrix peak)."""

    def __init__(self, workload):
        sizes = workload.sizes
        self.layout = Layout.build(sizes, [0] * (len(sizes) - 1))
        self.capacity = workload.batch_rows
        dtype = workload.X.dtype
        units = self.capacity * self.layout.total_units
        self.params = np.concatenate([w.ravel() for w in workload.initial_weights()[0]])
        self.grads = np.zeros(self.layout.n_params, dtype)
        self.Z = np.zeros(units, dtype)
        self.dZ = np.random.default_rng(0).standard_normal(units).astype(dtype)
        self.dA = np.zeros(self.capacity * self.layout.max_units, dtype)

    def __call__(self, workload, epochs):
        start = time.perf_counter()
        for _ in range(epochs):
            _products_epoch(self.params, self.grads, self.Z, self.dZ, self.dA, workload.X,
                            self.layout.table, self.capacity)
        return time.perf_counter() - start, np.zeros(0)


# ------------------------------------------------------------------ timing
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


# ------------------------------------------------------------------ threads
@contextmanager
def single_thread():
    """One BLAS thread (threadpoolctl) and one Numba thread, restored on exit."""
    import scipy.linalg.cython_blas  # noqa: F401  (threadpoolctl limits loaded libraries)
    from threadpoolctl import threadpool_limits

    threads = numba.get_num_threads()
    with threadpool_limits(limits=1):
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


# ------------------------------------------------------------------ compile time
_PROBE = r"""
import time
start = time.perf_counter()
import json, sys
import numba
from numba.core import event
from fastann import _workloads
imported = time.perf_counter()
workload = _workloads.build(sys.argv[1], rows=int(sys.argv[2]))
data = time.perf_counter()
with event.install_recorder("numba:compile") as recorder:
    model = workload.model()
    workload.fit(model, 1)
trained = time.perf_counter()
trained_clock = time.time()
# Compile time of each kernel less that of the kernels it compiled inside (exclusive).
exclusive, stack = {}, []
for stamp, record in recorder.buffer:
    if record.is_start:
        stack.append([stamp, 0.0])
    else:
        begun, inner = stack.pop()
        name = record.data["dispatcher"].py_func.__name__
        exclusive[name] = exclusive.get(name, 0.0) + (stamp - begun) - inner
        if stack:
            stack[-1][1] += stamp - begun
slowest = sorted(exclusive.items(), key=lambda item: -item[1])[:5]
dispatchers = {}
for name, module in list(sys.modules.items()):
    if name.startswith("fastann.kernels"):
        for value in vars(module).values():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                dispatchers[id(value)] = value
signatures = [str(s) for d in dispatchers.values() for s in d.signatures]
print(json.dumps({"import_s": imported - start, "data_s": data - imported,
                  "first_fit_s": trained - data, "trained_clock": trained_clock,
                  "dtype": workload.dtype,
                  "kernels": len(dispatchers), "specialisations": len(signatures),
                  "float64_specialisations": sum("float64" in s for s in signatures),
                  "slowest_to_compile": slowest}))
"""


def compile_probe(name, cache_dir, rows):
    """Run ``name``'s first epoch in a fresh process on ``cache_dir``; its timings."""
    return _run_probe(cache_dir, _PROBE, name, str(rows))


def _run_probe(cache_dir, script, *arguments):
    """Run ``script`` in a fresh interpreter on ``cache_dir``; the JSON its last line
    prints, with ``to_first_epoch_s``: from spawning the interpreter to the
    ``trained_clock`` it reports, less its ``data_s``. Or {"error": ...}."""
    environment = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    environment.pop("FASTANN_DISABLE_CACHE", None)
    spawned = time.time()  # the wall clock, which the child shares
    completed = subprocess.run([sys.executable, "-c", script, *arguments],
                               env=environment, capture_output=True, text=True)
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0]}
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["to_first_epoch_s"] = (result.pop("trained_clock") - spawned
                                  - result.get("data_s", 0.0))
    return result


# The floor under fastann's start-up: a process that imports Numba and calls one small
# cached @njit function (a logistic unit's SGD epoch), timed like the probes above.
_NUMBA_FLOOR_MODULE = r"""
import numba
import numpy as np


@numba.njit(cache=True)
def epoch(w, X, y, lr):
    for i in range(X.shape[0]):
        z = 0.0
        for k in range(X.shape[1]):
            z += X[i, k] * w[k]
        error = 1.0 / (1.0 + np.exp(-z)) - y[i]
        for k in range(X.shape[1]):
            w[k] -= lr * error * X[i, k]
"""
_NUMBA_FLOOR_PROBE = r"""
import time
start = time.perf_counter()
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import fastann_numba_floor
imported = time.perf_counter()
fastann_numba_floor.epoch(np.zeros(3), np.ones((7, 3)), np.ones(7), 0.1)
print(json.dumps({"import_s": imported - start, "trained_clock": time.time(),
                  "first_call_s": time.perf_counter() - imported}))
"""


def numba_floor_probe(cache_dir):
    """Seconds from spawning a process to the end of its first call of a one-function
    Numba module cached in ``cache_dir``: what any Numba program pays."""
    with open(os.path.join(cache_dir, "fastann_numba_floor.py"), "w") as module:
        module.write(_NUMBA_FLOOR_MODULE)
    return _run_probe(cache_dir, _NUMBA_FLOOR_PROBE, cache_dir)


def measure_compile(names, rows):
    """Cold (empty cache) and cached start of each workload, in fresh processes, and of
    a one-function Numba program (``numba_floor``) for scale."""
    results = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix="fastann-bench-cache-") as cache_dir:
            cold = compile_probe(name, cache_dir, rows)
            cached = compile_probe(name, cache_dir, rows)
        results[name] = {"cold": cold, "cached": cached}
    with tempfile.TemporaryDirectory(prefix="fastann-bench-floor-") as cache_dir:
        cold = numba_floor_probe(cache_dir)
        results[NUMBA_FLOOR] = {"cold": cold, "cached": numba_floor_probe(cache_dir)}
    return results


# ------------------------------------------------------------------ scaling
def scaling(settings, with_reference, progress):
    """Epoch time of a 64-hidden-10 relu/softmax network against one parameter at a time,
    fastann also with one thread (so the table shows where threads pay)."""
    one_thread = [("fastann_1thread", fastann_round_one_thread)] if _has_threadpoolctl() \
        else []
    results = {}
    for parameter, values in SCALING_SERIES.items():
        points = []
        for value in values:
            config = dict(SCALING_BASE, **{parameter: value})
            workload = _workloads.synthetic(**config)
            progress(f"scaling: {parameter} = {value}")
            measured = measure(workload, settings.scaling_rounds, settings.scaling_target_s,
                               with_reference, one_thread)
            point = {"value": value, "config": config, "rounds": settings.scaling_rounds,
                     "fastann_ms_per_epoch": 1e3 / measured["fastann"]["epochs_per_s"],
                     "fastann_gflops": measured["fastann"]["gflops"],
                     "noise": max(measured[side]["spread"] for side in measured
                                  if isinstance(measured[side], dict)
                                  and "spread" in measured[side])}
            if one_thread:
                point["fastann_1thread_ms_per_epoch"] = \
                    1e3 / measured["fastann_1thread"]["epochs_per_s"]
            if with_reference:
                point["reference_ms_per_epoch"] = 1e3 / measured["reference"]["epochs_per_s"]
                point["speedup"] = measured["speedup"]
            points.append(point)
        results[parameter] = points
    return results


def format_scaling(results):
    lines = []
    base = ", ".join(f"{k} {v}" for k, v in SCALING_BASE.items())
    lines.append(f"scaling: {SCALING_BASE['n_features']}-hidden-{SCALING_BASE['n_classes']} "
                 f"relu/softmax, SGD, float32; base {base}; one parameter varied at a time")
    for parameter, points in results.items():
        lines.append("")
        header = (f"{parameter:>10}  {'fastann ms/epoch':>16}  {'1 thread':>9}  "
                  f"{'reference ms/epoch':>18}  {'speed-up':>8}  {'fastann GFLOP/s':>15}  "
                  f"{'noise':>6}")
        lines.append(header)
        lines.append("-" * len(header))
        for p in points:
            one = p.get("fastann_1thread_ms_per_epoch")
            one = f"{one:9.3f}" if one is not None else f"{'-':>9}"
            reference = f"{p['reference_ms_per_epoch']:18.3f}" if "speedup" in p else \
                f"{'-':>18}"
            speedup = f"{p['speedup']:7.1f}x" if "speedup" in p else f"{'-':>8}"
            noise = f"{100 * p['noise']:5.0f}%" if p["rounds"] > 1 else f"{'-':>6}"
            lines.append(f"{p['value']:>10}  {p['fastann_ms_per_epoch']:16.3f}  {one}  "
                         f"{reference}  {speedup}  {p['fastann_gflops']:15.2f}  {noise}")
    return "\n".join(lines)


def plot_scaling(results, path):
    """Write a PNG of the scaling results; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4))
    for axis, (parameter, points) in zip(np.atleast_1d(axes), results.items()):
        values = [p["value"] for p in points]
        axis.plot(values, [p["fastann_ms_per_epoch"] for p in points], "o-",
                  label="fastann")
        if all("fastann_1thread_ms_per_epoch" in p for p in points):
            axis.plot(values, [p["fastann_1thread_ms_per_epoch"] for p in points], "^:",
                      label="fastann, 1 thread")
        if all("reference_ms_per_epoch" in p for p in points):
            axis.plot(values, [p["reference_ms_per_epoch"] for p in points], "s--",
                      label="reference (NumPy)")
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel(parameter)
        axis.set_ylabel("ms per epoch")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("fastann epoch time, " + ", ".join(f"{k}={v}"
                                                       for k, v in SCALING_BASE.items()))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# ------------------------------------------------------------------ the report
def run(settings, names=NAMES, compile_times=True, progress=print):
    """Everything ``fastann bench`` measures, as a dict (what ``--json`` writes)."""
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "settings": settings.__dict__}
    missing_reference = _workloads.reference_available()
    with_reference = missing_reference is None
    report["reference_note"] = missing_reference
    started = _cpu_snapshot()
    progress("measuring the float32 GEMM peak ...")
    report["gemm_peak"] = gemm_peak(settings.peak_sizes, settings.peak_repeats)
    report["workloads"] = []
    report["skipped"] = {}
    for name in names:
        try:
            workload = _workloads.build(name, settings.mnist_rows if name == "mnist_shape"
                                        else None)
        except _workloads.MissingDependency as error:
            report["skipped"][name] = str(error)
            progress(f"{name}: skipped ({error})")
            continue
        progress(f"{name}: {workload.describe()} ...")
        # mnist_shape also times its matrix products alone, the bound for its GFLOP/s.
        extra_sides = ([("products", ProductsRound(workload))]
                       if name == "mnist_shape" else [])
        result = measure(workload, settings.rounds, settings.target_s, with_reference,
                         extra_sides)
        report["workloads"].append(result)
        if name == "mnist_shape":
            progress("mnist_shape: 1 thread against all threads ...")
            epochs = {side: result[side]["epochs_per_round"]
                      for side in ("fastann", "reference") if side in result}
            report["threads"] = measure_threads(workload, settings.thread_rounds, epochs,
                                                with_reference)
    report["machine"] = machine_info()  # after the workloads, so the BLAS is loaded
    # The peak again: if it moved, something else shared the machine during the run.
    report["gemm_peak_end"] = gemm_peak(settings.peak_sizes[:1], settings.peak_repeats)
    report["other_cpu"] = _other_cpu(started, _cpu_snapshot())
    if compile_times:
        names_measured = [n for n in settings.compile_workloads if n in names and
                          n not in report["skipped"]]
        progress(f"compile time (cold and cached, fresh processes): "
                 f"{', '.join(names_measured)} ...")
        report["compile"] = measure_compile(names_measured, settings.probe_rows)
    return report


def format_report(report):
    settings = report["settings"]
    peak = report["gemm_peak"]
    lines = [f"fastann bench, {report['date']}, {settings['mode']} mode: "
             f"{settings['rounds']} interleaved rounds of about {settings['target_s']} s "
             f"per side; medians (speed-up: the median of the rounds' ratios)",
             format_machine(report["machine"]),
             f"float32 GEMM peak: {peak['numpy_gflops']:.1f} GFLOP/s through NumPy's np.dot "
             f"({peak['numpy_size']}x{peak['numpy_size']}); {peak['numba_gflops']:.1f} "
             f"GFLOP/s through the kernels' gemm (SciPy's BLAS)"]
    warning = busy_warning(report)
    if warning:
        lines.append(warning)
    if report["reference_note"]:
        lines.append(f"reference: {report['reference_note']}; fastann measured alone")
    lines.append("")
    compile_results = report.get("compile", {})
    header = (f"{'workload':<15} {'fastann ep/s':>13} {'reference ep/s':>15} "
              f"{'speed-up':>9} {'target':>7} {'first call s':>13} {'cold s':>7} "
              f"{'cached s':>9} {'loss diff':>9} {'noise':>6}")
    lines.append(header)
    lines.append("-" * len(header))
    for result in report["workloads"]:
        name = result["workload"]
        reference = result.get("reference")
        compiled = compile_results.get(name, {})
        target = TARGETS.get(name)
        if reference and target:
            verdict = f"{'ok' if result['speedup'] >= target else 'NO'} {target:g}x"
        else:
            verdict = "-"
        lines.append(
            f"{name:<15} {_number(result['fastann']['epochs_per_s']):>13} "
            f"{_number(reference['epochs_per_s']) if reference else '-':>15} "
            f"{(format(result['speedup'], '.1f') + 'x') if reference else '-':>9} "
            f"{verdict:>7} {result['first_call_s']:>13.3f} "
            f"{_seconds(compiled.get('cold')):>7} {_seconds(compiled.get('cached')):>9} "
            f"{format(result['loss_max_rel_diff'], '.0e') if reference else '-':>9} "
            f"{_noise(result):>6}")
    for name, why in report["skipped"].items():
        lines.append(f"{name:<15} skipped: {why}")
    lines.append("")
    lines.append("loss diff: largest relative difference of the per-epoch losses of the two "
                 "sides over the epochs both ran in a round, from the same start. noise: "
                 "(max - min) / median of the rounds' epochs/s, the worse side.")
    mnist = next((r for r in report["workloads"] if r["workload"] == "mnist_shape"), None)
    if mnist:
        lines.append(_format_mnist(mnist, peak, settings))
    if "threads" in report:
        lines.append(_format_threads(report["threads"]))
    if compile_results:
        lines.append(_format_compile(compile_results))
    return "\n".join(lines)


def busy_warning(report):
    """A warning line when the machine looked shared during the run, else None.

    Other work on a 2-core machine skews every timing, multi-threaded BLAS on small
    products by 10x or more, so the run is flagged when other processes (or the
    hypervisor) took CPU time during the workloads, or when the GEMM peak measured
    after them differs from the one before."""
    other = report.get("other_cpu") or {}
    before = report.get("gemm_peak", {}).get("numpy_gflops")
    after = report.get("gemm_peak_end", {}).get("numpy_gflops")
    reasons = []
    if other.get("others", 0) > 0.1:
        reasons.append(f"other processes used {100 * other['others']:.0f} % of the CPUs")
    if other.get("steal", 0) > 0.05:
        reasons.append(f"the hypervisor stole {100 * other['steal']:.0f} % of the CPU time")
    if after and before and abs(after - before) > 0.2 * max(after, before):
        reasons.append(f"GEMM peak {before:.0f} GFLOP/s before the workloads, {after:.0f} "
                       "after")
    if not reasons:
        return None
    return ("WARNING: the machine looked busy (" + "; ".join(reasons) + "): other work "
            "skews these timings; rerun on an idle machine")


def _format_mnist(result, peak, settings):
    gflop = result["flops_per_epoch"] / 1e9
    subsampled = ", subsampled for --quick" if settings["mnist_rows"] else ""
    text = (f"mnist_shape ({result['rows']:,} rows{subsampled}): "
            f"{gflop:.2f} GFLOP per epoch counted exactly; fastann "
            f"{result['fastann']['gflops']:.1f} GFLOP/s = "
            f"{100 * result['fastann']['gflops'] / peak['numpy_gflops']:.0f} % of the NumPy "
            f"float32 GEMM peak "
            f"({100 * result['fastann']['gflops'] / peak['numba_gflops']:.0f} % of the Numba "
            f"one; target {100 * TARGET_PEAK_FRACTION:.0f} %)")
    if "reference" in result:
        text += (f"; reference {result['reference']['gflops']:.1f} GFLOP/s = "
                 f"{100 * result['reference']['gflops'] / peak['numpy_gflops']:.0f} %")
    if "products" in result:
        # the best round, as for a peak: what this BLAS can give these products at all
        best = result["flops_per_epoch"] * max(result["products"]["speeds"]) / 1e9
        text += (f". Its matrix products alone (the same gemm calls, nothing else), best "
                 f"round: {best:.1f} GFLOP/s = {100 * best / peak['numpy_gflops']:.0f} % of "
                 f"the peak (median {result['products']['gflops']:.1f}), the ceiling for these "
                 f"products on this BLAS; fastann's median is "
                 f"{100 * result['fastann']['gflops'] / best:.0f} % of it")
    return text


def _format_threads(threads):
    if "note" in threads:
        return f"threads: {threads['note']}"
    parts = []
    for side in ("fastann", "reference"):
        if f"{side}_1_epochs_per_s" in threads:
            one = threads[f"{side}_1_epochs_per_s"]
            every = threads[f"{side}_all_epochs_per_s"]
            parts.append(f"{side} {_number(one)} ep/s on 1 thread, {_number(every)} on "
                         f"{threads['all_threads']} ({every / one:.2f}x)")
    return f"threads ({threads['workload']}, {threads['rows']:,} rows): " + "; ".join(parts)


def _format_compile(results):
    parts = []
    for name, probes in results.items():
        cold, cached = probes["cold"], probes["cached"]
        if "error" in cold or "error" in cached:
            parts.append(f"{name}: failed ({cold.get('error') or cached.get('error')})")
            continue
        if name == NUMBA_FLOOR:
            parts.append(f"for scale, a one-function Numba program (import numba, call one "
                         f"cached @njit function): cold {cold['to_first_epoch_s']:.2f} s, "
                         f"cached {cached['to_first_epoch_s']:.2f} s")
            continue
        text = (f"{name} {cold['dtype']}: cold {cold['to_first_epoch_s']:.2f} s (import "
                f"{cold['import_s']:.2f} + first fit {cold['first_fit_s']:.2f}), cached "
                f"{cached['to_first_epoch_s']:.2f} s, {cold['specialisations']} "
                f"specialisations of {cold['kernels']} kernels")
        if cold["dtype"] == "float32":
            text += f", {cold['float64_specialisations']} with float64 in the signature"
        if cold.get("slowest_to_compile"):
            text += "; slowest (own time): " + ", ".join(
                f"{name} {seconds:.1f} s" for name, seconds in cold["slowest_to_compile"][:3])
        parts.append(text)
    return ("compile (fresh process to first trained epoch, data excluded; cold: empty "
            "NUMBA_CACHE_DIR, cached: a second process; targets 10 s and 1 s):\n  "
            + "\n  ".join(parts))


def _noise(result):
    spreads = [result[side]["spread"] for side in ("fastann", "reference") if side in result]
    return f"{100 * max(spreads):.0f}%"


def _number(value):
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _seconds(probe):
    if not probe or "error" in probe:
        return "-"
    return f"{probe['to_first_epoch_s']:.2f}"


# ------------------------------------------------------------------ command line
def parser(prog="fastann bench"):
    arguments = argparse.ArgumentParser(
        prog=prog, description="Time fastann against its NumPy reference on the "
        "workloads of issue 4 (and_gate, perceptron, keras_tutorial, digits, mnist_shape).")
    arguments.add_argument("--quick", action="store_true",
                           help="fewer rounds and 6,000 mnist_shape rows: under a minute once "
                                "the kernels are cached")
    arguments.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    instead = arguments.add_mutually_exclusive_group()
    instead.add_argument("--scaling", action="store_true",
                         help="epoch time against hidden width, batch size and rows "
                         "(instead of the workload table)")
    instead.add_argument("--crossovers", action="store_true",
                         help="time every path of the dense kernels (loops, BLAS) over a "
                         "table of layer shapes against the paths their rules pick "
                         "(instead of the workload table)")
    arguments.add_argument("--plot", metavar="PATH", default="fastann-scaling.png",
                           help="with --scaling: where to write the plot, if matplotlib "
                           "is installed (default: %(default)s)")
    arguments.add_argument("--workloads", metavar="NAMES",
                           help=f"comma-separated subset of {','.join(NAMES)}")
    arguments.add_argument("--rounds", type=int, help="timed rounds per workload")
    arguments.add_argument("--no-compile", action="store_true",
                           help="skip the cold and cached compile measurements")
    return arguments


def main(argv=None, prog="fastann bench"):
    options = parser(prog).parse_args(argv)
    settings = QUICK if options.quick else DEFAULT
    if options.rounds is not None:
        if options.rounds < 1:
            parser(prog).error(f"--rounds must be >= 1; got {options.rounds}")
        settings = replace(settings, rounds=options.rounds, scaling_rounds=options.rounds)
    names = NAMES
    if options.workloads:
        names = tuple(n.strip() for n in options.workloads.split(",") if n.strip())
        unknown = [n for n in names if n not in NAMES]
        if unknown:
            parser(prog).error(f"unknown workload(s) {', '.join(unknown)}; expected some of "
                               f"{', '.join(NAMES)}")

    def progress(message):
        print(f"... {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    if options.crossovers:
        report = _measured_alone(settings, lambda: crossovers_report(settings, progress))
        print(f"dense kernel paths, best of {settings.crossover_repeats} loops "
              f"of about {settings.crossover_target_s * 1e3:g} ms per path and shape; "
              f"us per call")
        print(crossovers.format_table(report["crossovers"]))
    elif options.scaling:
        missing_reference = _workloads.reference_available()
        report = _measured_alone(settings, lambda: {
            "reference_note": missing_reference,
            "scaling": scaling(settings, missing_reference is None, progress)})
        if missing_reference:
            print(f"reference: {missing_reference}; fastann measured alone")
        print(format_scaling(report["scaling"]))
        written = plot_scaling(report["scaling"], options.plot)
        print(f"plot: {written}" if written else "plot: skipped (matplotlib not installed)")
    else:
        report = run(settings, names, compile_times=not options.no_compile,
                     progress=progress)
        print(format_report(report))
    report["elapsed_s"] = time.perf_counter() - started
    print(f"({report['elapsed_s']:.0f} s)")
    if options.json:
        with open(options.json, "w") as file:
            json.dump(report, file, indent=2, default=_json_default)
            file.write("\n")
        print(f"wrote {options.json}")
    return 0


def _measured_alone(settings, measure):
    """The report of a measurement that runs instead of the workload table (``measure()``
    returns its entries), with the machine; prints the machine line and any busy
    warning."""
    snapshot = _cpu_snapshot()
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "settings": settings.__dict__, **measure(), "machine": machine_info()}
    report["other_cpu"] = _other_cpu(snapshot, _cpu_snapshot())
    print(format_machine(report["machine"]))
    if busy_warning(report):
        print(busy_warning(report))
    return report


def crossovers_report(settings, progress):
    """``crossovers.measure`` at the settings' timing, with its summary."""
    rows = crossovers.measure(target_s=settings.crossover_target_s,
                              repeats=settings.crossover_repeats, progress=progress)
    return {"crossovers": rows, "crossover_summary": crossovers.summary(rows)}


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main(prog="python -m fastann.bench"))
