"""Pictures of the bench's results: ``--scaling``'s curves and the speed-up table as a
bar chart (``--plot PATH``). matplotlib is optional."""
import numpy as np

from .settings import SCALING_BASE

MATPLOTLIB_MISSING = ("plot: skipped: matplotlib is not installed (pip install "
                      "'fastann[bench]' or pip install matplotlib)")


def _pyplot():
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_speedups(ratios, path, title="epochs/s over fastann.reference (NumPy)"):
    """Write a bar chart (log scale) of ``ratios``, {workload: {side: epochs/s over the
    reference's}}: one group of bars per workload, one bar per side. Returns ``path``,
    or None when matplotlib is not installed."""
    plt = _pyplot()
    if plt is None:
        return None
    workloads = list(ratios)
    sides = []
    for values in ratios.values():
        sides += [side for side in values if side not in sides]
    width = 0.8 / max(1, len(sides))
    figure, axis = plt.subplots(figsize=(min(14, 3 + 0.5 * len(workloads) * len(sides)), 4.5))
    for index, side in enumerate(sides):
        xs = [w + (index - (len(sides) - 1) / 2) * width for w in range(len(workloads))
              if side in ratios[workloads[w]]]
        ys = [ratios[name][side] for name in workloads if side in ratios[name]]
        bars = axis.bar(xs, ys, width, label=side)
        for bar, value in zip(bars, ys):
            axis.annotate(f"{value:.3g}x", (bar.get_x() + bar.get_width() / 2, value),
                          ha="center", va="bottom", fontsize=7)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xticks(range(len(workloads)), workloads)
    axis.set_ylabel("epochs/s over the NumPy reference (log)")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8)
    axis.grid(True, axis="y", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_scaling(results, path):
    """Write a PNG of the scaling results; None when matplotlib is not installed."""
    plt = _pyplot()
    if plt is None:
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


