"""``fastann bench --contention``: each workload's epochs/s on an idle machine, beside
one CPU-bound process (a busy loop in a subprocess), and as one of two fastann
trainings side by side; printed as the share of the idle speed each keeps.

Every training runs in a worker subprocess that builds its workload, warms up
(compiling or loading the kernels), and then trains on command for a fixed time, so
the two trainings of a pair start together and neither pays the other's start-up.
Each measurement is taken twice: with fastann's thread policy (``fastann._blas_threads``)
and with ``FASTANN_BLAS_THREADS=off`` (BLAS' own thread count: what fastann did
before the policy), in alternating rounds.
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

from . import workloads as _workloads

MODES = {"policy": "auto", "blas_default": "off"}  # column -> FASTANN_BLAS_THREADS
TARGET_BUSY, TARGET_PAIR = 0.70, 0.45  # kept shares of the idle epochs/s

_WORKER = r"""
import json, sys, time
from fastann import _blas_threads
from fastann.benchmarks import workloads
from fastann.benchmarks.products import _current_blas_threads
workload = workloads.build(sys.argv[1], rows=None if sys.argv[2] == "all" else int(sys.argv[2]))
model = workload.model()
workload.fit(model, 1)  # compile or load the kernels
chunk, elapsed = 1, 0.0
while elapsed < 0.05 and chunk < 10 ** 8:  # epochs per fit call: about 0.05 s or more
    chunk *= 4 if elapsed < 0.0125 else 2
    started = time.perf_counter(); workload.fit(model, chunk)
    elapsed = time.perf_counter() - started
print("ready", flush=True)
for line in sys.stdin:
    seconds = float(line)
    epochs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        workload.fit(model, chunk)
        epochs += chunk
    elapsed = time.perf_counter() - started
    # what the thread policy reads and picks now, as the last fit call did
    with _blas_threads.for_training(workload.sizes, workload.batch_size, workload.n_samples):
        threads = _current_blas_threads()
    print(json.dumps({"epochs_per_s": epochs / elapsed, "blas_threads": threads,
                      "busy_cores": _blas_threads.busy_cores(),
                      "usable_cores": _blas_threads.usable_cores()}), flush=True)
"""
_BUSY_LOOP = "while True:\n    pass\n"


class _Worker:
    def __init__(self, name, rows, mode):
        environment = dict(os.environ, FASTANN_BLAS_THREADS=MODES[mode])
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER, name, "all" if rows is None else str(rows)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment)
        self.name = name

    def wait_ready(self):
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"the {self.name} worker failed to start")

    def start(self, seconds):
        self.process.stdin.write(f"{seconds}\n")
        self.process.stdin.flush()

    def result(self, seen):
        """The epochs/s of the last measurement; its thread readings appended to
        ``seen``."""
        answer = json.loads(self.process.stdout.readline())
        seen.append({key: answer[key] for key in ("blas_threads", "busy_cores",
                                                  "usable_cores")})
        return answer["epochs_per_s"]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def measure_workload(name, rows, seconds, rounds, pause_s):
    """{mode: {"idle", "busy", "pair"}: median epochs/s}, and the kept shares."""
    speeds = {mode: {"idle": [], "busy": [], "pair": []} for mode in MODES}
    seen = {mode: {"idle": [], "busy": [], "pair": []} for mode in MODES}
    workers = {mode: (_Worker(name, rows, mode), _Worker(name, rows, mode))
               for mode in MODES}  # all four start up at once
    try:
        for pair in workers.values():
            for worker in pair:
                worker.wait_ready()
        for _ in range(rounds):
            for mode, (first, second) in workers.items():
                time.sleep(pause_s)
                first.start(seconds)
                speeds[mode]["idle"].append(first.result(seen[mode]["idle"]))
                busy = subprocess.Popen([sys.executable, "-c", _BUSY_LOOP])
                try:
                    time.sleep(pause_s)
                    first.start(seconds)
                    speeds[mode]["busy"].append(first.result(seen[mode]["busy"]))
                finally:
                    busy.kill()
                    busy.wait()
                time.sleep(pause_s)
                first.start(seconds)
                second.start(seconds)
                speeds[mode]["pair"] += [first.result(seen[mode]["pair"]),
                                         second.result(seen[mode]["pair"])]
    finally:
        for pair in workers.values():
            for worker in pair:
                worker.close()
    result = {"workload": name, "rows": rows}
    for mode, measured in speeds.items():
        idle = statistics.median(measured["idle"])
        result[mode] = {key: statistics.median(values) for key, values in measured.items()}
        result[mode]["busy_kept"] = result[mode]["busy"] / idle
        # each of the two trainings: the slower one's share counts
        result[mode]["pair_kept"] = min(measured["pair"]) / idle
        result[mode]["pair_kept_median"] = result[mode]["pair"] / idle
        result[mode]["samples"] = measured
        # per situation: the BLAS threads fit trained on, and the other work the policy
        # saw (busy cores of the usable), as read at the end of each measurement
        result[mode]["threads"] = {key: [r["blas_threads"] for r in readings]
                                   for key, readings in seen[mode].items()}
        result[mode]["busy_cores"] = {key: [round(r["busy_cores"], 2) for r in readings]
                                      for key, readings in seen[mode].items()}
        result[mode]["usable_cores"] = seen[mode]["idle"][0]["usable_cores"]
    return result


def run(settings, names, progress=print):
    from .machine import _cpu_snapshot, _other_cpu, machine_info

    started = _cpu_snapshot()
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "settings": settings.__dict__, "workloads": [], "skipped": {}}
    for name in names:
        try:
            _workloads.build(name, 1)
        except _workloads.MissingDependency as error:
            report["skipped"][name] = str(error)
            continue
        progress(f"contention: {name}")
        report["workloads"].append(measure_workload(
            name, settings.rows_of(name), settings.contention_s,
            settings.contention_rounds, settings.pause_s))
    report["machine"] = machine_info()
    report["other_cpu"] = _other_cpu(started, _cpu_snapshot())
    return report


def format_report(report):
    from .machine import format_machine

    settings = report["settings"]
    lines = [f"fastann bench --contention, {report['date']}, {settings['mode']} mode: "
             f"{settings['contention_rounds']} rounds of {settings['contention_s']} s per "
             f"measurement; epochs/s (medians) and the share of the idle speed kept",
             format_machine(report["machine"]), ""]
    header = (f"{'workload':<15} {'mode':<13} {'idle ep/s':>11} {'busy ep/s':>11} "
              f"{'kept':>6} {'pair ep/s':>11} {'kept':>6}   BLAS threads / busy cores "
              f"seen (idle; busy; pair)")
    lines += [header, "-" * len(header)]
    for result in report["workloads"]:
        for mode in MODES:
            m = result[mode]
            busy_ok = "" if m["busy_kept"] >= TARGET_BUSY else "!"
            pair_ok = "" if m["pair_kept"] >= TARGET_PAIR else "!"
            lines.append(
                f"{result['workload']:<15} {mode:<13} {_number(m['idle']):>11} "
                f"{_number(m['busy']):>11} {100 * m['busy_kept']:5.0f}%{busy_ok} "
                f"{_number(m['pair']):>11} {100 * m['pair_kept']:5.0f}%{pair_ok}   "
                f"{_seen(m)}")
    lines.append("")
    usable = sorted({r[mode]["usable_cores"] for r in report["workloads"] for mode in MODES
                     if "usable_cores" in r[mode]})
    lines.append(f"busy: beside one CPU-bound process (a Python busy loop); pair: each of "
                 f"two fastann trainings of the workload side by side (kept: the slower "
                 f"one's epochs/s over the idle median). Targets: {100 * TARGET_BUSY:.0f} % "
                 f"and {100 * TARGET_PAIR:.0f} % (! below). policy: fastann's thread "
                 f"policy; blas_default: FASTANN_BLAS_THREADS=off, BLAS' own thread count. "
                 f"BLAS threads: what fit trained on at the end of each measurement; busy "
                 f"cores: the other running work the policy read then, of "
                 f"{'/'.join(map(str, usable)) or '?'} usable cores.")
    not_idle = [r["workload"] for r in report["workloads"]
                if any(max(r[mode].get("busy_cores", {}).get("idle", [0]) or [0]) > 0
                       for mode in MODES)]
    if not_idle:
        lines.append(f"WARNING: other work ran during the idle measurements of "
                     f"{', '.join(not_idle)} (busy cores > 0): the machine was not idle, "
                     f"so those kept shares compare two loaded runs; rerun on an idle "
                     f"machine")
    for name, why in report["skipped"].items():
        lines.append(f"{name}: skipped ({why})")
    return "\n".join(lines)


def _seen(measured):
    """The BLAS thread counts and the most busy cores seen in each situation, as
    "1/0; 1/1; 1/2" (idle; busy; pair)."""
    parts = []
    for key in ("idle", "busy", "pair"):
        threads = sorted(set(measured.get("threads", {}).get(key, [])), key=str)
        busy = measured.get("busy_cores", {}).get(key, [])
        parts.append(f"{','.join(map(str, threads)) or '?'}/"
                     f"{max(busy) if busy else '?'}")
    return "; ".join(parts)


def _number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def job(settings, names, options, progress):
    report = run(settings, names, progress=progress)
    print(format_report(report))
    return report
