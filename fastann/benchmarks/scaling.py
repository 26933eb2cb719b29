"""``fastann bench --scaling``: epoch time against hidden width, batch size and rows."""
from . import workloads as _workloads
from .rounds import _has_threadpoolctl, fastann_round_one_thread, measure
from .settings import SCALING_BASE, SCALING_SERIES


def scaling(settings, with_reference, progress):
    """Epoch time of a 64-hidden-10 relu/softmax network against one parameter at a time,
    fastann also with one thread (so the table shows where threads pay)."""
    one_thread = [("fastann_1thread", fastann_round_one_thread)] if _has_threadpoolctl() \
        else []
    results = {}
    for parameter, values in SCALING_SERIES.items():
        points = []
        for value in values:
            config = dict(SCALING_BASE, **{parameter: value})
            workload = _workloads.synthetic(**config)
            progress(f"scaling: {parameter} = {value}")
            measured = measure(workload, settings.scaling_rounds, settings.scaling_target_s,
                               with_reference, one_thread)
            point = {"value": value, "config": config, "rounds": settings.scaling_rounds,
                     "fastann_ms_per_epoch": 1e3 / measured["fastann"]["epochs_per_s"],
                     "fastann_gflops": measured["fastann"]["gflops"],
                     "noise": max(measured[side]["spread"] for side in measured
                                  if isinstance(measured[side], dict)
                                  and "spread" in measured[side])}
            if one_thread:
                point["fastann_1thread_ms_per_epoch"] = \
                    1e3 / measured["fastann_1thread"]["epochs_per_s"]
            if with_reference:
                point["reference_ms_per_epoch"] = 1e3 / measured["reference"]["epochs_per_s"]
                point["speedup"] = measured["speedup"]
            points.append(point)
        results[parameter] = points
    return results


def format_scaling(results):
    lines = []
    base = ", ".join(f"{k} {v}" for k, v in SCALING_BASE.items())
    lines.append(f"scaling: {SCALING_BASE['n_features']}-hidden-{SCALING_BASE['n_classes']} "
                 f"relu/softmax, SGD, float32; base {base}; one parameter varied at a time")
    for parameter, points in results.items():
        lines.append("")
        header = (f"{parameter:>10}  {'fastann ms/epoch':>16}  {'1 thread':>9}  "
                  f"{'reference ms/epoch':>18}  {'speed-up':>8}  {'fastann GFLOP/s':>15}  "
                  f"{'noise':>6}")
        lines.append(header)
        lines.append("-" * len(header))
        for p in points:
            one = p.get("fastann_1thread_ms_per_epoch")
            one = f"{one:9.3f}" if one is not None else f"{'-':>9}"
            reference = f"{p['reference_ms_per_epoch']:18.3f}" if "speedup" in p else \
                f"{'-':>18}"
            speedup = f"{p['speedup']:7.1f}x" if "speedup" in p else f"{'-':>8}"
            noise = f"{100 * p['noise']:5.0f}%" if p["rounds"] > 1 else f"{'-':>6}"
            lines.append(f"{p['value']:>10}  {p['fastann_ms_per_epoch']:16.3f}  {one}  "
                         f"{reference}  {speedup}  {p['fastann_gflops']:15.2f}  {noise}")
    return "\n".join(lines)




def job(settings, names, options, progress):
    from .cli import measured_alone
    from .plots import MATPLOTLIB_MISSING, plot_scaling

    missing_reference = _workloads.reference_available()
    report = measured_alone(settings, lambda: {
        "reference_note": missing_reference,
        "scaling": scaling(settings, missing_reference is None, progress)})
    if missing_reference:
        print(f"reference: {missing_reference}; fastann measured alone")
    print(format_scaling(report["scaling"]))
    written = plot_scaling(report["scaling"], options.plot or "fastann-scaling.png")
    print(f"plot: {written}" if written else MATPLOTLIB_MISSING)
    return report
