"""The fused training kernel allocates nothing per epoch.

Numba's runtime (NRT) counts every allocation it makes when ``NUMBA_NRT_STATS=1`` is set
before Numba is imported, so the measurement runs in a subprocess. There each
``train_epochs`` call that ``Model.fit`` makes is wrapped: the NRT's allocation counters
are read before and after it. Handing NumPy arrays to a compiled function costs a fixed
number of NRT allocations per call (one per array argument), so the claim to check is:
every call costs the same, whether it runs 1 epoch or thousands. The same call is then
replayed with N and with 10 N epochs to compare the two directly.

``test_a_kernel_that_allocates_per_epoch_is_caught`` runs the same harness on a variant
that allocates once per epoch, to show the check can fail.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

HARNESS = textwrap.dedent("""
    import json
    import sys

    import numba
    import numpy as np
    from numba.core.runtime import rtsys

    import fastann as fa
    import fastann.model
    from fastann.kernels import train

    # Let fit's chunks grow 1, 8, 64, ... epochs per call however slow the machine is
    # (they are sized to take CHUNK_SECONDS each), so calls of very different lengths
    # are compared.
    assert hasattr(fastann.model, "CHUNK_SECONDS"), "update this harness: fit's chunking changed"
    fastann.model.CHUNK_SECONDS = 30.0

    numba.njit(lambda: 0)()  # initialises the NRT, which turns the counters on
    assert numba.config.NRT_STATS, "NUMBA_NRT_STATS=1 was not seen before Numba's import"

    train_epochs = train.train_epochs


    def counts():
        stats = rtsys.get_allocation_stats()
        return np.array([stats.alloc, stats.free, stats.mi_alloc, stats.mi_free], np.int64)


    @numba.njit
    def allocate_per_epoch(n_epochs):
        # what a careless kernel does: a fresh scratch array every epoch
        total = 0.0
        for epoch in range(n_epochs):
            scratch = np.empty(8)
            scratch[0] = epoch
            total += scratch[0]
        return total


    def leaky_train_epochs(*args):
        done = train_epochs(*args)
        allocate_per_epoch(args[-3].rates.shape[0])  # args[-3]: the Update, rates per epoch
        return done


    def run_case(case, kernel):
        sizes, batch_size, n_samples, dtype, validation, n_epochs = (
            case["sizes"], case["batch_size"], case["n_samples"], case["dtype"],
            case["validation"], case["n_epochs"])
        random = np.random.default_rng(0)
        X = random.normal(size=(n_samples, sizes[0]))
        y = random.integers(0, sizes[-1], n_samples)
        layers = [fa.Dense(units, activation="relu") for units in sizes[1:-1]]
        if sizes[-1] == 1:
            layers.append(fa.Dense(1, activation="sigmoid"))
            loss, metrics = "binary_crossentropy", ["accuracy", "mae"] if validation else []
        else:
            layers.append(fa.Dense(sizes[-1], activation="softmax"))
            loss, metrics = "sparse_categorical_crossentropy", (["accuracy", "mse"]
                                                                if validation else [])
        model = fa.Model(layers, input_dim=sizes[0], dtype=dtype, seed=0)
        model.compile(loss=loss, optimizer=fa.Adam(lr=1e-3), metrics=metrics)
        options = dict(batch_size=batch_size, shuffle=case["shuffle"], verbose=0)
        if validation:
            options["validation_data"] = (X[: n_samples // 4], y[: n_samples // 4])
        model.fit(X, y, epochs=2, **options)  # warm-up: loads or compiles the kernels

        calls = []  # (epochs in the call, NRT counter deltas)
        last_args = []

        def measured(*args):
            before = counts()
            done = kernel(*args)
            calls.append((int(args[-3].rates.shape[0]), (counts() - before).tolist()))
            last_args[:] = [args]
            return done

        train.train_epochs = measured
        try:
            model.fit(X, y, epochs=n_epochs, **options)
            model.fit(X, y, epochs=10 * n_epochs, **options)
        finally:
            train.train_epochs = train_epochs
        assert model.epochs_trained == 2 + 11 * n_epochs

        # replay the last call with exactly N and 10 N epochs, fresh per-epoch outputs
        args = list(last_args[0])
        replays = {}
        for epochs in (n_epochs, 10 * n_epochs):
            args[1] = type(args[1])(*(np.zeros((epochs,) + a.shape[1:], a.dtype)
                                      for a in args[1]))  # fresh Logs
            update = args[-3]
            args[-3] = update._replace(rates=np.full((epochs, 1), 1e-4, update.rates.dtype))
            before = counts()
            done = kernel(*args)
            replays[epochs] = (counts() - before).tolist()
            assert done == epochs
        return {"calls": calls, "replays": {str(k): v for k, v in replays.items()}}


    request = json.loads(sys.argv[1])
    kernel = leaky_train_epochs if request["leaky"] else train_epochs
    print(json.dumps([run_case(case, kernel) for case in request["cases"]]))
""")

SMALL = dict(sizes=[2, 4, 1], n_samples=4)  # the AND gate's size: explicit loops
LARGE = dict(sizes=[64, 128, 10], n_samples=512)  # BLAS products
CASES = [
    dict(SMALL, batch_size="full", shuffle=False, validation=False, n_epochs=200),
    dict(SMALL, batch_size=3, shuffle=True, validation=True, n_epochs=200),
    dict(LARGE, batch_size="full", shuffle=False, validation=False, n_epochs=5),
    dict(LARGE, batch_size=64, shuffle=True, validation=True, n_epochs=5),
]


def measure(cases, leaky=False):
    """Run the harness in a subprocess with NRT statistics on; one result per case."""
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    done = subprocess.run([sys.executable, "-c", HARNESS,
                           json.dumps({"cases": cases, "leaky": leaky})],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def assert_allocations_independent_of_epochs(result):
    """Every train_epochs call allocates (and frees) the same, whatever its epoch count."""
    calls = result["calls"]
    epochs = sorted({n for n, _ in calls})
    assert epochs[0] == 1 and epochs[-1] >= 8, f"the calls ran {epochs} epochs: too few sizes"
    per_call = {tuple(delta) for _, delta in calls}
    assert len(per_call) == 1, f"NRT allocations depend on the epochs per call: {calls}"
    alloc, free, mi_alloc, mi_free = per_call.pop()
    assert alloc == free and mi_alloc == mi_free, f"a kernel call leaks: {calls[0]}"
    small, large = result["replays"].values()
    assert small == large, f"N epochs: {small}, 10 N epochs: {large} NRT allocations"


@pytest.fixture(scope="module")
def measured():
    return {dtype: measure([dict(case, dtype=dtype) for case in CASES])
            for dtype in ("float32", "float64")}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", range(len(CASES)), ids=[
    "2-4-1-full-batch", "2-4-1-mini-batch-shuffle-validation-metrics",
    "64-128-10-full-batch", "64-128-10-batch-64-shuffle-validation-metrics"])
def test_train_epochs_allocates_nothing_per_epoch(measured, dtype, index):
    assert_allocations_independent_of_epochs(measured[dtype][index])


def test_a_kernel_that_allocates_per_epoch_is_caught():
    for case in (CASES[1], CASES[3]):
        result = measure([dict(case, dtype="float64")], leaky=True)[0]
        with pytest.raises(AssertionError, match="NRT allocations depend on the epochs"):
            assert_allocations_independent_of_epochs(result)
        small, large = result["replays"].values()
        assert large[0] - small[0] == 9 * case["n_epochs"]  # one array per extra epoch
