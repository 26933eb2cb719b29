"""Peak resident memory of a training: mnist_shape trained in a fresh process, its
peak RSS (``resource.getrusage``) against the bytes of its data, broken down into
what the imports hold before any data exists, the data, and what ``fit`` adds; and
the peak of what a second ``fit`` allocates (``tracemalloc`` sees NumPy's arrays too),
which a copy of the data would raise by the data's size."""
import json
import subprocess
import sys

_PROBE = r"""
import json, resource, sys
def peak():
    # VmHWM starts afresh at exec; getrusage's ru_maxrss keeps the parent's peak across
    # fork and exec (it read 186 MB here before this process imported anything)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
bare = peak()
import numpy, scipy.linalg
before_numba = peak()
import numba
after_numba = peak()
from fastann.benchmarks import workloads
before_data = peak()
workload = workloads.build(sys.argv[1], rows=None if sys.argv[2] == "all" else int(sys.argv[2]))
data = workload.X.nbytes + workload.y.nbytes
model = workload.model()
before_fit = peak()
workload.fit(model, int(sys.argv[3]))
trained = peak()
import tracemalloc  # a second fit, its kernels loaded: what fit itself allocates
tracemalloc.start()
workload.fit(model, 1)
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({"peak_rss": trained, "before_data_rss": before_data, "data_bytes": data,
                  "numba_import_rss": after_numba - before_numba, "bare_rss": bare,
                  "before_fit_rss": before_fit, "fit_numpy_peak": traced}))
"""
MARGIN = 100e6  # the target: peak RSS within 1.2x of the data plus this


def rss_probe(name="mnist_shape", rows=None, epochs=1):
    """{"peak_rss", "before_data_rss", "data_bytes", "numba_import_rss", "bare_rss",
    "before_fit_rss", "fit_numpy_peak", "target_bytes"} (bytes) of ``epochs`` epochs
    of ``name`` in a fresh process, or {"error": ...}."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, name, "all" if rows is None else str(rows),
         str(epochs)], capture_output=True, text=True)
    if completed.returncode != 0:
        return {"error": (completed.stderr.strip().splitlines() or ["no output"])[-1]}
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["target_bytes"] = 1.2 * (result["data_bytes"] + MARGIN)
    return result


def format_rss(result, name="mnist_shape"):
    if "error" in result:
        return f"peak RSS ({name}): failed ({result['error']})"
    mb = 1e6
    fit_added = result["peak_rss"] - result["before_fit_rss"]
    return (f"peak RSS ({name}, one epoch in a fresh process): {result['peak_rss'] / mb:.0f} "
            f"MB for {result['data_bytes'] / mb:.0f} MB of data; target 1.2 x (data + 100 "
            f"MB) = {result['target_bytes'] / mb:.0f} MB: "
            f"{'ok' if result['peak_rss'] <= result['target_bytes'] else 'NO'}. Of it: "
            f"the imports before any data {result['before_data_rss'] / mb:.0f} MB "
            f"(import numba alone {result['numba_import_rss'] / mb:.0f}), the data and a "
            f"fresh model {(result['before_fit_rss'] - result['before_data_rss']) / mb:.0f}"
            f" MB, fit {fit_added / mb:.0f} MB more (its kernels loaded, its buffers); "
            f"a second fit's allocations (tracemalloc, NumPy's included) peaked at "
            f"{result['fit_numpy_peak'] / mb:.1f} MB (a copy of the data would add "
            f"{result['data_bytes'] / mb:.0f})")
