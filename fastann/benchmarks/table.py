"""``fastann bench``'s main table: every workload against ``fastann.reference``, with
the GEMM peak, mnist_shape's products alone and its peak RSS, one thread against the
thread policy, and the compile times."""
import datetime

from . import workloads as _workloads
from .compile_probes import measure_compile
from .memory import format_rss, rss_probe
from .machine import _cpu_snapshot, _other_cpu, busy_warning, format_machine, machine_info
from .peak import gemm_peak
from .products import ProductsRound
from .rounds import measure, measure_threads
from .settings import NUMBA_FLOOR, TARGET_PEAK_FRACTION, TARGETS
from .workloads import NAMES


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
            workload = _workloads.build(name, settings.rows_of(name))
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
        for side, products in extra_sides:
            result[side]["blas_threads"] = products.blas_threads
        report["workloads"].append(result)
        if name == "mnist_shape":
            progress("mnist_shape: 1 thread against all threads ...")
            epochs = {side: result[side]["epochs_per_round"]
                      for side in ("fastann", "reference") if side in result}
            report["threads"] = measure_threads(workload, settings.thread_rounds, epochs,
                                                with_reference)
            # every row even in --quick (the target is set for the whole data; one
            # epoch is seconds), unless --rows caps them
            progress("mnist_shape: peak RSS in a fresh process ...")
            report["memory"] = rss_probe(name, settings.rows)
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
    if "memory" in report:
        lines.append(format_rss(report["memory"]))
    if compile_results:
        lines.append(_format_compile(compile_results))
    return "\n".join(lines)




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
                 f"the peak (median {result['products']['gflops']:.1f}, on "
                 f"{result['products'].get('blas_threads') or '?'} BLAS thread(s) as fit "
                 f"chooses them), the ceiling for these products on this BLAS; fastann's "
                 f"median is "
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
            policy = "; as its thread policy chooses" if side == "fastann" else ""
            parts.append(f"{side} {_number(one)} ep/s on 1 thread, {_number(every)} on up "
                         f"to {threads['all_threads']} ({every / one:.2f}x{policy})")
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




def job(settings, names, options, progress):
    """The default job: the workloads against the reference; ``--plot`` draws the
    speed-ups as bars."""
    report = run(settings, names, compile_times=not options.no_compile, progress=progress)
    print(format_report(report))
    if options.plot:
        from .plots import MATPLOTLIB_MISSING, plot_speedups

        ratios = {r["workload"]: {"fastann": r["speedup"]} for r in report["workloads"]
                  if "speedup" in r}
        written = plot_speedups(ratios, options.plot, title=f"fastann against its NumPy "
                                f"reference, {report['date']}")
        print(f"plot: {written}" if written else MATPLOTLIB_MISSING)
    return report
