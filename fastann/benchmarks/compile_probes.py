"""Compile time, in fresh processes from process start to the first trained epoch:
cold (an empty ``NUMBA_CACHE_DIR``) and cached (a second process on it), and a
one-function Numba program for scale."""
import json
import os
import subprocess
import sys
import tempfile
import time

from .settings import NUMBA_FLOOR

_PROBE = r"""
import time
start = time.perf_counter()
import json, sys
from numba.core import event
from numba.extending import is_jitted
from fastann.benchmarks import workloads as _workloads
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
            if is_jitted(value):
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


