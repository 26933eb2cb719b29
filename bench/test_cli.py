"""``fastann bench`` itself: the command runs, prints its table and writes its JSON, and
the workloads are defined as issue 4 fixes them."""
import json
from dataclasses import replace

import numpy as np
import pytest

from fastann.benchmarks import (cli, compile_probes, crossovers, scaling, settings,
                                table)
from fastann.benchmarks import workloads as _workloads
from fastann.benchmarks.products import ProductsRound
from fastann.kernels import dense
from fastann.__main__ import main as fastann_main
from fastann.kernels.network import UNIT_OFFSET


def test_mnist_shape_flops_are_counted_exactly():
    workload = _workloads.build("mnist_shape", rows=100)
    products = 784 * 256 + 256 * 256 + 256 * 10
    # forward and dW for every layer, dA_prev for all but the first
    assert workload.flops_per_epoch() == 2 * 100 * (2 * products + products - 784 * 256)


@pytest.mark.parametrize("name, sizes, rows, dtype", [
    ("and_gate", (2, 4, 1), 4, "float64"),
    ("perceptron", (3, 1), 7, "float64"),
    ("keras_tutorial", (2, 64, 1), 720, "float32"),
    ("digits", (64, 128, 10), 1437, "float32"),
])
def test_workloads_match_the_issue(name, sizes, rows, dtype):
    try:
        workload = _workloads.build(name)
    except _workloads.MissingDependency as error:
        pytest.skip(str(error))
    assert workload.sizes == sizes
    assert workload.n_samples == rows
    assert workload.X.dtype == np.dtype(dtype)
    weights, _ = workload.initial_weights()
    assert [w.shape for w in weights[0::2]] == list(zip(sizes[:-1], sizes[1:]))
    assert all(w.dtype == np.dtype(dtype) for w in weights)


def test_initial_weights_are_the_models():
    workload = _workloads.build("keras_tutorial", rows=64)
    weights, _ = workload.initial_weights()
    for given, fresh in zip(weights, workload.model().get_weights()):
        np.testing.assert_array_equal(given, fresh)


@pytest.fixture
def small_peak(monkeypatch):
    """--quick with a small GEMM for the peak, to keep these tests short."""
    monkeypatch.setattr(settings, "QUICK", replace(settings.QUICK, peak_sizes=(256,)))


def test_fastann_bench_quick_runs(tmp_path, capsys, small_peak):
    path = tmp_path / "bench.json"
    assert fastann_main(["bench", "--quick", "--workloads", "and_gate", "--rounds", "1",
                         "--no-compile", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "machine:" in out and "GEMM peak" in out and "and_gate" in out
    report = json.loads(path.read_text())
    [result] = report["workloads"]
    assert result["workload"] == "and_gate"
    assert result["fastann"]["epochs_per_s"] > 0
    assert report["gemm_peak"]["numpy_gflops"] > 0
    if report["reference_note"] is None:
        assert result["speedup"] > 0
        assert result["loss_max_rel_diff"] < 1e-9


def test_unknown_workload_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--workloads", "nope"])
    assert "unknown workload" in capsys.readouterr().err


def test_fastann_command_lists_its_commands(capsys):
    assert fastann_main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert fastann_main(["nope"]) == 2


def test_fastann_bench_scaling_runs(tmp_path, capsys, monkeypatch, small_peak):
    monkeypatch.setattr(scaling, "SCALING_SERIES", {"hidden": (8, 16), "batch_size": (4,)})
    monkeypatch.setattr(scaling, "SCALING_BASE", dict(scaling.SCALING_BASE, rows=64))
    path = tmp_path / "scaling.json"
    assert cli.main(["--scaling", "--quick", "--rounds", "1", "--json", str(path),
                       "--plot", str(tmp_path / "scaling.png")]) == 0
    out = capsys.readouterr().out
    assert "ms/epoch" in out and "plot:" in out
    report = json.loads(path.read_text())
    assert [p["value"] for p in report["scaling"]["hidden"]] == [8, 16]
    assert all(p["fastann_ms_per_epoch"] > 0 for p in report["scaling"]["batch_size"])


def test_fastann_bench_crossovers_runs(tmp_path, capsys, monkeypatch):
    """Every path of every operation is timed on each shape, and the rule column is the
    path the kernels' own rule takes there."""
    shapes = ((4, 4, 1), (16, 12, 10))
    monkeypatch.setattr(crossovers, "SHAPES", shapes)
    path = tmp_path / "crossovers.json"
    assert cli.main(["--crossovers", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rule/fastest" in out and "the rules pick the fastest path" in out
    report = json.loads(path.read_text())
    rows = report["crossovers"]
    assert [(r["dtype"], r["operation"], tuple(r["shape"])) for r in rows] == \
        [(dtype, operation, shape) for dtype in crossovers.DTYPES for shape in shapes
         for operation in crossovers.OPERATIONS]
    for row in rows:
        paths = dense.PATHS[row["operation"]]
        assert set(row["seconds"]) == {dense.PATH_NAMES[p] for p in paths}
        assert all(seconds > 0 for seconds in row["seconds"].values())
        rule = crossovers.RULES[row["operation"]](*row["shape"],
                                                  np.dtype(row["dtype"]).itemsize)
        assert row["rule"] == dense.PATH_NAMES[rule]
        assert row["rule_over_fastest"] >= 1
        assert row["blas_threads"] == 1  # products far under the policy's second thread
    assert report["crossover_summary"]["cases"] == len(rows)
    assert "threads: each shape's paths ran on" in out and "usable cores" in out


def test_crossovers_time_large_products_on_the_policys_threads():
    """A product big enough for threads gets what fit's policy would give it, never
    more than the usable cores; a small one gets one thread."""
    from fastann import _blas_threads

    assert crossovers.policy_threads(128 * 64 * 8) == (1, None)
    threads, busy = crossovers.policy_threads(128 * 784 * 256)
    assert busy is not None and busy >= 0
    assert 1 <= threads <= _blas_threads.usable_cores()
    assert threads == _blas_threads.blas_threads(128 * 784 * 256,
                                                 _blas_threads.usable_cores(), busy)


def test_scaling_and_crossovers_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--scaling", "--crossovers"])
    assert "not allowed with" in capsys.readouterr().err


def test_products_round_runs_the_networks_products():
    """The products-alone ceiling does every batch's forward and backward products
    (checked on the last batch: 3 rows of a 10-row epoch at batch size 7)."""
    workload = _workloads.synthetic(5, 6, 4, rows=10, batch_size=7)
    products = ProductsRound(workload)
    elapsed, _ = products(workload, 1)
    assert elapsed > 0
    layout, capacity = products.layout, products.capacity
    weights, gradients = layout.views(products.params), layout.views(products.grads)
    X = workload.X[7:]
    rows = X.shape[0]

    def block(buffer, l):
        offset = capacity * layout.table[l, UNIT_OFFSET]
        return buffer[offset:offset + rows * layout.sizes[l + 1]].reshape(rows, -1)

    close = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(block(products.Z, 0), X @ weights[0], **close)
    np.testing.assert_allclose(block(products.Z, 1), block(products.Z, 0) @ weights[2],
                               **close)
    np.testing.assert_allclose(gradients[2], block(products.Z, 0).T @ block(products.dZ, 1),
                               **close)
    np.testing.assert_allclose(gradients[0], X.T @ block(products.dZ, 0), **close)
    np.testing.assert_allclose(products.dA[:rows * 6].reshape(rows, 6),
                               block(products.dZ, 1) @ weights[2].T, **close)


def test_numba_floor_probe_runs_cold_and_cached(tmp_path):
    cold = compile_probes.numba_floor_probe(str(tmp_path))
    cached = compile_probes.numba_floor_probe(str(tmp_path))
    assert "error" not in cold and "error" not in cached, (cold, cached)
    assert cold["to_first_epoch_s"] > cold["import_s"] > 0
    assert any(name.endswith(".nbi") for name in _all_files(tmp_path))  # it cached
    line = table._format_compile({settings.NUMBA_FLOOR: {"cold": cold, "cached": cached}})
    assert "one-function Numba program" in line


def _all_files(root):
    return [path.name for path in root.rglob("*") if path.is_file()]
