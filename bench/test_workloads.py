"""One benchmark group per workload: fastann and the reference, same data, same start,
the same epochs per round; epochs/s in ``extra_info``; per-epoch losses checked equal."""
import time

import numpy as np
import pytest

from fastann.benchmarks import workloads as _workloads
from fastann.benchmarks.rounds import loss_agreement, reference_losses

ROUNDS = 5  # timed rounds per side, each from a fresh start

# Per-epoch losses of the two sides must agree this closely (relative). float64 runs
# the same math in a different order; float32 also differs in where it rounds.
LOSS_RTOL = {"float64": 1e-9, "float32": 1e-4}


def _fastann_setup(workload, epochs):
    """A call that trains a fresh model for ``epochs`` epochs through Model.fit."""
    model = workload.model()
    return lambda: workload.fit(model, epochs)


def _reference_setup(workload, epochs):
    """A call that runs the reference for ``epochs`` epochs from the initial weights."""
    return workload.reference_call(epochs)


def _fastann_losses(result):
    return np.asarray(result.history["loss"], np.float64)


def _reference_losses(result):
    return reference_losses(result[1])


SIDES = {"fastann": (_fastann_setup, _fastann_losses),
         "reference": (_reference_setup, _reference_losses)}


@pytest.fixture(scope="session")
def losses():
    """{(workload, side, epochs): per-epoch losses}, so each side runs once per size."""
    return {}


def _losses_of(losses, workload, side, epochs):
    key = (workload.name, side, epochs)
    if key not in losses:
        setup, read = SIDES[side]
        losses[key] = read(setup(workload, epochs)())
    return losses[key]


@pytest.mark.parametrize("side", ["fastann", "reference"])
@pytest.mark.parametrize("name", _workloads.NAMES)
def test_workload(benchmark, sized_workload, losses, speeds, name, side):
    missing_reference = _workloads.reference_available()
    if side == "reference" and missing_reference:
        pytest.skip(missing_reference)
    workload, epochs = sized_workload(name)
    setup, read = SIDES[side]
    benchmark.group = name

    started = time.perf_counter()
    setup(workload, 1)()  # the warm-up: compiles (or loads the cache) untimed
    first_call_s = time.perf_counter() - started

    # Each round gets a fresh start from ``setup``, outside the timing.
    result = benchmark.pedantic(lambda run: run(),
                                setup=lambda: ((setup(workload, epochs),), {}),
                                rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        workload=name, side=side, description=workload.describe(), rows=workload.n_samples,
        epochs_per_round=epochs, first_call_s=first_call_s,
        flops_per_epoch=workload.flops_per_epoch())
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        benchmark.extra_info["epochs_per_s"] = epochs / median
        benchmark.extra_info["gflops"] = workload.flops_per_epoch() * epochs / median / 1e9
        speeds[name, side] = epochs / median

    mine = read(result)
    losses[name, side, epochs] = mine
    assert mine.shape == (epochs,)
    assert np.isfinite(mine).all()
    if missing_reference is None:
        other = _losses_of(losses, workload, "reference" if side == "fastann" else "fastann",
                           epochs)
        difference = loss_agreement(mine, other) if side == "fastann" else \
            loss_agreement(other, mine)
        benchmark.extra_info["loss_max_rel_diff"] = difference
        assert difference <= LOSS_RTOL[workload.dtype], (
            f"{name}: fastann and reference losses differ by {difference:.2e} (relative) "
            f"over {epochs} epochs")
