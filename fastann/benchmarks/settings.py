"""What each job of ``fastann bench`` measures and how long: the targets, the scaling
series and the default and ``--quick`` settings."""
from dataclasses import dataclass

from .workloads import NAMES

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
    rows: object = None  # --rows: a cap on every workload's training rows
    pause_s: float = 0.25  # before each side's round in --peers (spinning BLAS/XLA threads)
    contention_s: float = 3.0  # seconds of training per --contention measurement
    contention_rounds: int = 3

    def rows_of(self, name):
        """The training rows of workload ``name`` (None: all)."""
        rows = self.mnist_rows if name == "mnist_shape" else None
        if self.rows is not None:
            rows = self.rows if rows is None else min(rows, self.rows)
        return rows


DEFAULT = Settings("default", rounds=7, target_s=0.5, mnist_rows=None,
                   peak_sizes=(2048, 4096), peak_repeats=3, thread_rounds=3,
                   compile_workloads=NAMES, probe_rows=512, scaling_rounds=3,
                   scaling_target_s=0.3, crossover_target_s=0.01, crossover_repeats=5)
QUICK = Settings("quick", rounds=3, target_s=0.2, mnist_rows=6000, peak_sizes=(2048,),
                 peak_repeats=3, thread_rounds=2, compile_workloads=("and_gate",),
                 probe_rows=512, scaling_rounds=1, scaling_target_s=0.1,
                 crossover_target_s=0.002, crossover_repeats=3, contention_s=1.5,
                 contention_rounds=2)


