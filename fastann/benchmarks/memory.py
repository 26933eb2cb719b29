"""Peak resident memory of a training: mnist_shape trained in a fresh process, its
peak RSS (``resource.getrusage``) against the bytes of its data."""
import json
import subprocess
import sys

_PROBE = r"""
import json, resource, sys
from fastann.benchmarks import workloads
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
before_data = peak()
workload = workloads.build(sys.argv[1], rows=None if sys.argv[2] == "all" else int(sys.argv[2]))
data = workload.X.nbytes + workload.y.nbytes
model = workload.model()
workload.fit(model, int(sys.argv[3]))
print(json.dumps({"peak_rss": peak(), "before_data_rss": before_data, "data_bytes": data}))
"""
MARGIN = 100e6  # the target: peak RSS within 1.2x of the data plus this


def rss_probe(name="mnist_shape", rows=None, epochs=1):
    """{"peak_rss", "before_data_rss", "data_bytes"} of ``epochs`` epochs of ``name`` in a
    fresh process, or {"error": ...}."""
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
    return (f"peak RSS ({name}, one epoch in a fresh process): {result['peak_rss'] / mb:.0f} "
            f"MB for {result['data_bytes'] / mb:.0f} MB of data (after imports, before the "
            f"data: {result['before_data_rss'] / mb:.0f} MB); target 1.2 x (data + 100 MB) "
            f"= {result['target_bytes'] / mb:.0f} MB: "
            f"{'ok' if result['peak_rss'] <= result['target_bytes'] else 'NO'}")
