"""Every path of the dense kernels timed over a table of layer shapes: the measurement
behind the path rules of ``kernels/dense.py`` (``fastann bench --crossovers``).

For each dtype, operation (forward, weight gradient, input gradient), shape and path, one
compiled loop calls the path's kernel on the same buffers many times, as the training
loop does, and the best of a few such loops gives the time of a call. The table shows
the fastest path beside the one the rule picks, so a rule that no longer fits the
machine (another CPU, another BLAS) shows up as a row where the two differ.
"""
import statistics
import time

import numba
import numpy as np

from .. import _blas_threads
from ..kernels.dense import (PATH_NAMES, PATHS, VECTOR_BYTES, dense_backward,
                             dense_backward_input, dense_forward, forward_path,
                             input_gradient_path, weight_gradient_path)

OPERATIONS = ("forward", "weight_gradient", "input_gradient")  # the keys of PATHS
FORWARD, WEIGHT_GRADIENT, INPUT_GRADIENT = range(3)  # their codes in repeat_operation
RULES = {"forward": forward_path, "weight_gradient": weight_gradient_path,
         "input_gradient": input_gradient_path}

# (rows, n_in, n_out): the workloads' layers, then shapes on either side of each rule's
# constants (the fields of dense.Crossovers for either vector width, NARROW,
# TINY_GRADIENT), and single rows (gemv).
SHAPES = (
    (4, 2, 4), (4, 4, 1),  # and_gate
    (7, 3, 1),  # perceptron
    (32, 2, 64), (32, 64, 1),  # keras_tutorial
    (64, 64, 128), (64, 128, 10),  # digits
    (128, 784, 256), (128, 256, 256), (128, 256, 10),  # mnist_shape
    (4, 8, 8), (4, 8, 16), (8, 8, 8), (8, 16, 16),  # about BLAS_MIN_WORK
    (128, 2, 64), (128, 3, 64), (128, 4, 64),  # about BLAS_MIN_SIDE
    (4, 64, 8), (4, 64, 32), (4, 64, 128), (4, 128, 10), (7, 64, 64),  # short batches
    (128, 64, 4), (128, 64, 7), (128, 64, 8), (32, 16, 4),  # about NARROW
    (128, 4, 1), (128, 2, 4), (32, 8, 1),  # about TINY_GRADIENT
    (1, 64, 128), (1, 128, 10),  # one row: gemv
)
CLOSE = 1.1  # a rule within this factor of the fastest path counts as agreeing
DTYPES = ("float32", "float64")


# Not cached: a cached function that inlines fastann's kernels outlives their source in
# Numba's cache when they change (Numba checks only the defining file's timestamp).
@numba.njit(nogil=True)
def repeat_operation(operation, path, calls, A_prev, W, b, Z, dZ, dW, db, dA_prev):
    """Run one dense operation (its index in OPERATIONS) by ``path``, ``calls`` times."""
    for _ in range(calls):
        if operation == FORWARD:
            dense_forward(Z, A_prev, W, b, path)
        elif operation == WEIGHT_GRADIENT:
            dense_backward(dW, db, dZ, A_prev, path)
        else:
            dense_backward_input(dA_prev, dZ, W, path)


def _buffers(shape, dtype):
    rows, n_in, n_out = shape
    generator = np.random.default_rng(0)
    return (generator.standard_normal((rows, n_in)).astype(dtype),  # A_prev
            generator.standard_normal((n_in, n_out)).astype(dtype),  # W
            generator.standard_normal(n_out).astype(dtype),  # b
            np.empty((rows, n_out), dtype),  # Z
            generator.standard_normal((rows, n_out)).astype(dtype),  # dZ
            np.empty((n_in, n_out), dtype), np.empty(n_out, dtype),  # dW, db
            np.empty((rows, n_in), dtype))  # dA_prev


def time_call(operation, path, buffers, target_s, repeats):
    """Seconds per call of ``operation`` by ``path``: the best of ``repeats`` loops of
    calls, each loop sized to take about ``target_s``."""
    index = OPERATIONS.index(operation)
    calls = 1
    while True:  # calibrate (the first pass also compiles)
        started = time.perf_counter()
        repeat_operation(index, path, calls, *buffers)
        elapsed = time.perf_counter() - started
        if elapsed >= target_s / 4 or calls >= 1 << 24:
            break
        calls *= 4
    calls = max(1, int(calls * target_s / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        repeat_operation(index, path, calls, *buffers)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def policy_threads(multiply_adds):
    """(BLAS threads, busy cores read): what ``fit``'s thread policy gives a network
    whose largest product is ``multiply_adds``, with the cores free now
    (``_blas_threads.for_training``), so that a BLAS path is timed as training runs it
    and not on every core of a machine where another process holds one."""
    if multiply_adds < 2 * _blas_threads.WORK_PER_THREAD:
        return 1, None
    busy = _blas_threads.busy_cores()
    return _blas_threads.blas_threads(multiply_adds, _blas_threads.usable_cores(), busy), busy


def measure(shapes=None, dtypes=DTYPES, target_s=0.01, repeats=5, progress=None):
    """One row per dtype, operation and shape (default SHAPES): each path's seconds per
    call, the fastest path, the rule's path and how much slower that is than the
    fastest, and the BLAS threads the paths ran on."""
    rows = []
    shapes = SHAPES if shapes is None else shapes
    for dtype in map(np.dtype, dtypes):
        if progress:
            progress(f"crossovers: {dtype.name}, {len(shapes)} shapes")
        for shape in shapes:
            buffers = _buffers(shape, dtype)
            threads, busy = policy_threads(int(np.prod(shape)))
            with _blas_threads.limited(threads):
                timed = {operation: {PATH_NAMES[path]: time_call(operation, path, buffers,
                                                                 target_s, repeats)
                                     for path in PATHS[operation]}
                         for operation in OPERATIONS}
            for operation, seconds in timed.items():
                fastest = min(seconds, key=seconds.get)
                rule = PATH_NAMES[RULES[operation](*shape, dtype.itemsize)]
                rows.append({"dtype": dtype.name, "operation": operation,
                             "shape": list(shape), "multiply_adds": int(np.prod(shape)),
                             "seconds": seconds, "fastest": fastest, "rule": rule,
                             "rule_over_fastest": seconds[rule] / seconds[fastest],
                             "blas_threads": threads, "busy_cores": busy})
    return rows


def summary(rows):
    """How often the rules pick the fastest path (or one within CLOSE of it)."""
    ratios = [row["rule_over_fastest"] for row in rows]
    worst = max(rows, key=lambda row: row["rule_over_fastest"])
    close = sum(ratio <= CLOSE for ratio in ratios)
    return {"cases": len(rows),
            "fastest": sum(row["rule"] == row["fastest"] for row in rows),
            "close": close, "hit_rate": close / len(rows),
            "vector_bytes": VECTOR_BYTES,
            "median_rule_over_fastest": statistics.median(ratios),
            "worst": worst, "usable_cores": _blas_threads.usable_cores(),
            "blas_threads": sorted({row.get("blas_threads") for row in rows}, key=str),
            "busy_cores_seen": sorted({row["busy_cores"] for row in rows
                                       if row.get("busy_cores") is not None})}


def format_table(rows):
    names = [PATH_NAMES[path] for path in PATHS["weight_gradient"]]
    header = (f"{'dtype':<8} {'operation':<16} {'shape':>12} "
              + " ".join(f"{name + ' us':>16}" for name in names)
              + f" {'threads':>7}  {'fastest':>13} {'rule':>13} {'rule/fastest':>12}")
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = [f"{row['seconds'][name] * 1e6:16.3f}" if name in row["seconds"]
                 else f"{'-':>16}" for name in names]
        flag = "" if row["rule_over_fastest"] <= CLOSE else "  <- the rule is slower"
        lines.append(f"{row['dtype']:<8} {row['operation']:<16} "
                     f"{'x'.join(map(str, row['shape'])):>12} "
                     + " ".join(cells) + f" {row.get('blas_threads', '?'):>7}"
                     + f"  {row['fastest']:>13} {row['rule']:>13} "
                       f"{row['rule_over_fastest']:11.2f}x{flag}")
    result = summary(rows)
    worst = result["worst"]
    lines.append("")
    lines.append(
        f"the rules pick the fastest path in {result['fastest']} of {result['cases']} "
        f"cases and one within {CLOSE:.1f}x of it in {result['close']} (hit rate "
        f"{100 * result['hit_rate']:.0f} %, target 90 %; rules for {VECTOR_BYTES}-byte "
        f"vectors); median "
        f"{result['median_rule_over_fastest']:.2f}x; worst: {worst['dtype']} "
        f"{worst['operation']} "
        f"{'x'.join(map(str, worst['shape']))}, {worst['rule']} at "
        f"{worst['rule_over_fastest']:.2f}x {worst['fastest']}")
    busy = result["busy_cores_seen"]
    lines.append(
        f"threads: each shape's paths ran on the BLAS threads fit's thread policy gives "
        f"a product of that size with the cores free then ({', '.join(map(str, result['blas_threads']))} "
        f"seen, of {result['usable_cores']} usable cores; other running work read on the "
        f"shapes large enough to ask: "
        f"{', '.join(map(str, busy)) if busy else 'none of them'} busy cores)")
    return "\n".join(lines)


def job(settings, names, options, progress):
    """``fastann bench --crossovers``: the table and how often the rules hit."""
    from .cli import measured_alone

    def measure_all():
        rows = measure(target_s=settings.crossover_target_s,
                       repeats=settings.crossover_repeats, progress=progress)
        return {"crossovers": rows, "crossover_summary": summary(rows)}

    report = measured_alone(settings, measure_all)
    print(f"dense kernel paths, best of {settings.crossover_repeats} loops of about "
          f"{settings.crossover_target_s * 1e3:g} ms per path and shape; us per call")
    print(format_table(report["crossovers"]))
    return report
