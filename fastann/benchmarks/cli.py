"""``fastann bench``: the command line. Each job is one module; ``JOBS`` maps an option
to the function that runs it and prints its table.

    fastann bench                  # the workloads against the NumPy reference
    fastann bench --quick          # the same, shorter
    fastann bench --peers          # against JAX, scikit-learn, Keras, PyTorch, FANN
    fastann bench --contention     # epochs/s idle, beside a busy process, two side by side
    fastann bench --scaling        # epoch time against width, batch size and rows
    fastann bench --crossovers     # every dense path against its rules
    fastann bench --plot PATH      # with any job that has a picture
    fastann bench --json PATH      # any job's numbers, machine-readable
"""
import argparse
import datetime
import importlib
import json
import sys
import time
from dataclasses import replace

import numpy as np

from . import settings as _settings
from .machine import _cpu_snapshot, _other_cpu, busy_warning, format_machine, machine_info
from .workloads import NAMES


# option -> (module in this package, help). Each module's ``job(settings, names,
# options, progress)`` measures, prints its table and returns its report (what --json
# writes). A job module is imported only when its option is given.
JOBS = {
    "scaling": ("scaling", "epoch time against hidden width, batch size and rows"),
    "crossovers": ("crossovers", "time every path of the dense kernels over a table of "
                   "layer shapes against the paths their rules pick"),
    "peers": ("peers", "fastann against JAX, scikit-learn, Keras 3, PyTorch and FANN "
              "(whichever are installed) on the workloads"),
    "contention": ("contention", "each workload's epochs/s idle, beside a CPU-bound "
                   "process, and two trainings side by side"),
    "sklearn": ("sklearn_speed", "fastann's scikit-learn estimators against "
                "scikit-learn's own"),
}
DEFAULT_JOB = "table"  # the workloads against the NumPy reference (table.py)


def parser(prog="fastann bench"):
    arguments = argparse.ArgumentParser(
        prog=prog, description="Time fastann against its NumPy reference on the "
        "workloads (and_gate, perceptron, keras_tutorial, digits, mnist_shape), or run "
        "one of the other jobs instead.")
    arguments.add_argument("--quick", action="store_true",
                           help="fewer rounds and 6,000 mnist_shape rows: under a minute once "
                                "the kernels are cached")
    arguments.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    instead = arguments.add_mutually_exclusive_group()
    for option, (_, text) in JOBS.items():
        instead.add_argument(f"--{option}", action="store_true",
                             help=f"{text} (instead of the workload table)")
    arguments.add_argument("--plot", metavar="PATH",
                           help="draw the results: the speed-ups as a bar chart (log "
                           "scale) for the workload table and --peers, the curves for "
                           "--scaling (default there: fastann-scaling.png); needs "
                           "matplotlib")
    arguments.add_argument("--workloads", metavar="NAMES",
                           help=f"comma-separated subset of {','.join(NAMES)}")
    arguments.add_argument("--rounds", type=int, help="timed rounds per workload")
    arguments.add_argument("--rows", type=int,
                           help="cap every workload's training rows (a quick look; the "
                           "tests use it)")
    arguments.add_argument("--no-compile", action="store_true",
                           help="skip the cold and cached compile measurements")
    return arguments


def main(argv=None, prog="fastann bench"):
    options = parser(prog).parse_args(argv)
    settings = _settings.QUICK if options.quick else _settings.DEFAULT
    if options.rounds is not None:
        if options.rounds < 1:
            parser(prog).error(f"--rounds must be >= 1; got {options.rounds}")
        settings = replace(settings, rounds=options.rounds, scaling_rounds=options.rounds)
    if options.rows is not None:
        if options.rows < 1:
            parser(prog).error(f"--rows must be >= 1; got {options.rows}")
        settings = replace(settings, rows=options.rows, probe_rows=min(
            settings.probe_rows, options.rows))
    names = NAMES
    if options.workloads:
        names = tuple(n.strip() for n in options.workloads.split(",") if n.strip())
        unknown = [n for n in names if n not in NAMES]
        if unknown:
            parser(prog).error(f"unknown workload(s) {', '.join(unknown)}; expected some of "
                               f"{', '.join(NAMES)}")

    def progress(message):
        print(f"... {message}", file=sys.stderr, flush=True)

    chosen = next((option for option in JOBS if getattr(options, option)), DEFAULT_JOB)
    module_name = JOBS[chosen][0] if chosen in JOBS else DEFAULT_JOB
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{module_name}":
            raise
        print(f"fastann bench: --{chosen} is not available in this installation (no "
              f"module {error.name})", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = module.job(settings, names, options, progress)
    report["elapsed_s"] = time.perf_counter() - started
    print(f"({report['elapsed_s']:.0f} s)")
    if options.json:
        with open(options.json, "w") as file:
            json.dump(report, file, indent=2, default=_json_default)
            file.write("\n")
        print(f"wrote {options.json}")
    return 0


def measured_alone(settings, measure):
    """The report of a job that runs instead of the workload table (``measure()``
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


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main(prog="python -m fastann.benchmarks"))
