"""The machine line: CPU model, vector ISA from /proc/cpuinfo, cores, load, libraries
and BLAS; and the CPU time other processes took while the bench ran."""
import os
import platform
import time

import numba
import numpy as np

import fastann

ISA_FLAGS = ("avx2", "fma", "avx512f")


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

