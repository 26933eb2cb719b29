"""The jobs added to ``fastann bench``: --peers, --contention, the bar chart and the
peak-RSS probe run on tiny subsamples, print their tables and write their JSON
(correctness only: nothing here asserts a speed). And the benchmarks stay out of
``import fastann``."""
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from fastann.benchmarks import cli, memory, peers, plots, settings


@pytest.fixture
def tiny(monkeypatch):
    """--quick with short rounds, a small GEMM and short contention measurements."""
    monkeypatch.setattr(settings, "QUICK", replace(
        settings.QUICK, peak_sizes=(128,), target_s=0.02, pause_s=0.0, contention_s=0.1,
        contention_rounds=1))


def test_import_fastann_does_not_load_the_benchmarks():
    code = ("import sys, fastann; fastann.Model; "
            "print(sorted(m for m in sys.modules if m.startswith('fastann.benchmarks')))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_peers_job_runs_and_compares_losses_at_the_same_epochs(tmp_path, capsys, tiny):
    path = tmp_path / "peers.json"
    picture = tmp_path / "peers.png"
    assert cli.main(["--peers", "--quick", "--rounds", "1", "--rows", "40",
                     "--workloads", "and_gate,digits", "--json", str(path),
                     "--plot", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "machine:" in out and "final loss" in out and "fastann" in out
    report = json.loads(path.read_text())
    assert [r["workload"] for r in report["workloads"]] == ["and_gate", "digits"]
    for result in report["workloads"]:
        assert result["fastann"]["epochs_per_s"] > 0
        measured = [s for s in peers.ALL_SIDES if s in result and s != "fastann"]
        assert set(measured) | set(result["skipped"]) == set(peers.ALL_SIDES) - {"fastann"}
        for side in measured:
            assert result[side]["epochs_per_s"] > 0 and result[side]["fastann_over"] > 0
            assert np.isfinite(result[side]["final_loss"])
        if "reference" in result:  # the same math from the same start
            np.testing.assert_allclose(result["reference"]["final_loss"],
                                       result["fastann"]["final_loss"], rtol=1e-4)
        if "jax" in result:  # the same network, loss and optimizer in JAX
            np.testing.assert_allclose(result["jax"]["final_loss"],
                                       result["fastann"]["final_loss"], rtol=0.05)
    and_gate = report["workloads"][0]
    if "jax" in and_gate:  # unshuffled full batches: the same trajectory
        np.testing.assert_allclose(and_gate["jax"]["final_loss"],
                                   and_gate["fastann"]["final_loss"], rtol=1e-6)
    if plots._pyplot() is not None:
        assert picture.stat().st_size > 5000


def test_fann_side_starts_from_the_given_weights():
    """FANN's connection array takes the workload's initial weights: the weights read
    back from libfann are the ones set."""
    from fastann.benchmarks import workloads

    workload = workloads.build("perceptron")
    try:
        side = peers.FannSide(workload)
    except peers._Unsupported as why:
        pytest.skip(str(why))
    try:
        side._set_initial_weights(workload)
        read = (peers._Connection * side.n_connections)()
        side.lib.fann_get_connection_array(side.ann, read)
        weights, _ = workload.initial_weights()
        expected = sorted([*weights[0].ravel(), *weights[1]])
        np.testing.assert_allclose(sorted(c.weight for c in read), expected)
        elapsed, loss = side(workload, 10)
        assert elapsed > 0 and 0 < loss[0] < 1
    finally:
        side.close()


def test_contention_job_runs(tmp_path, capsys, tiny):
    path = tmp_path / "contention.json"
    assert cli.main(["--contention", "--quick", "--workloads", "perceptron",
                     "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kept" in out and "policy" in out and "blas_default" in out
    assert "BLAS threads" in out and "usable cores" in out
    [result] = json.loads(path.read_text())["workloads"]
    for mode in ("policy", "blas_default"):
        assert result[mode]["idle"] > 0 and result[mode]["busy"] > 0
        assert len(result[mode]["samples"]["pair"]) == 2
        assert len(result[mode]["threads"]["pair"]) == 2
        assert result[mode]["usable_cores"] >= 1
        assert result[mode]["busy_kept"] == pytest.approx(
            result[mode]["busy"] / result[mode]["idle"])
    # perceptron's products are far too small for a second thread
    assert set(result["policy"]["threads"]["busy"]) == {1}


def test_speedup_bars_are_drawn_from_the_ratios(tmp_path):
    if plots._pyplot() is None:
        assert plots.plot_speedups({"a": {"fastann": 2.0}}, tmp_path / "x.png") is None
        return
    import matplotlib.image

    ratios = {"and_gate": {"fastann": 200.0, "jax": 40.0}, "digits": {"fastann": 5.0}}
    path = plots.plot_speedups(ratios, tmp_path / "bars.png")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.05  # not blank


def test_rss_probe_reports_the_peak_against_the_data():
    result = memory.rss_probe("mnist_shape", rows=2000)
    assert "error" not in result, result
    assert result["data_bytes"] == 2000 * 784 * 4 + 2000 * 8
    assert result["peak_rss"] >= result["before_fit_rss"] >= result["before_data_rss"] \
        > result["bare_rss"] > 0
    # the probe's own process: a fresh Python is far below this one's imports
    assert result["bare_rss"] < result["before_data_rss"] / 2
    # fit trains on the data in place: its allocations are a small fraction of it
    assert 0 < result["fit_numpy_peak"] < 0.25 * result["data_bytes"]
    text = memory.format_rss(result)
    assert "peak RSS" in text and "import numba" in text and "second fit" in text


def test_an_unknown_job_module_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(cli.JOBS, "sklearn", ("no_such_job_module", "x"))
    assert cli.main(["--sklearn"]) == 2
    assert "not available" in capsys.readouterr().err


@pytest.mark.parametrize("name, rows", [("and_gate", None), ("perceptron", None),
                                        ("mnist_shape", 300), ("keras_tutorial", 100)])
def test_torch_side_trains_the_same_network_from_the_same_weights(name, rows):
    """PyTorch's loop from fastann's initial weights: unshuffled workloads follow
    fastann's trajectory; a shuffled one (other permutations) lands near it. The
    thread count it sets is put back after the round."""
    torch = pytest.importorskip("torch")
    from fastann.benchmarks import workloads
    from fastann.benchmarks.rounds import fastann_round

    workload = workloads.build(name, rows)
    side = peers.TorchSide(workload)
    threads = torch.get_num_threads()
    epochs = 4
    _, torch_losses = side(workload, epochs)
    assert torch.get_num_threads() == threads and side.threads >= 1
    _, fastann_losses = fastann_round(workload, epochs)
    tolerance = 0.05 if workload.shuffle else 1e-4
    np.testing.assert_allclose(torch_losses[-1], fastann_losses[-1], rtol=tolerance)
    # a second round restarts from the initial weights with a fresh optimizer
    np.testing.assert_allclose(side(workload, epochs)[1], torch_losses, rtol=1e-6)
