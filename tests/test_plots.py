"""plot_history / History.plot: one panel per log name, train and validation lines drawn
from the history's own values, a PNG of a sensible size when given a path."""
import os

import numpy as np
import pytest

import fastann as fa

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def history():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    model = fa.Model([fa.Dense(6, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=3, dtype="float64", seed=0)
    model.compile(loss="binary_crossentropy", optimizer=fa.Adam(lr=0.05),
                  metrics=["accuracy"])
    return model.fit(X, y, epochs=12, batch_size=30, validation_split=0.25, verbose=0)


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_lines_are_the_history(history, tmp_path):
    path = tmp_path / "history.png"
    figure = history.plot(path=path)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    for ax in axes:
        name = ax.get_title()
        lines = _lines(ax)
        assert set(lines) == {"train", "validation"}
        epochs = np.arange(1, len(history.history[name]) + 1)
        for label, key in (("train", name), ("validation", "val_" + name)):
            x, y = lines[label].get_data()
            np.testing.assert_array_equal(x, epochs)
            np.testing.assert_array_equal(y, history.history[key])
        assert ax.get_xlabel() == "epoch" and ax.get_yscale() == "linear"
    _check_png(path, figure)


def _check_png(path, figure):
    image = matplotlib.image.imread(path)
    width, height = figure.get_size_inches() * figure.dpi
    assert image.shape[:2] == (round(height), round(width))
    # not blank: many distinct colours, and the line colours appear
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 50
    assert image[..., :3].std() > 0.05


def test_log_y_metrics_and_title(history, tmp_path):
    figure = fa.plot_history(history.history, log_y=True, metrics=["loss"], title="run")
    (ax,) = figure.get_axes()
    assert ax.get_yscale() == "log"
    assert figure._suptitle.get_text() == "run"
    np.testing.assert_array_equal(_lines(ax)["train"].get_ydata(), history.history["loss"])


def test_history_without_validation(tmp_path):
    figure = fa.plot_history({"loss": [3.0, 2.0, 1.5], "mae": [1.0, 0.8, 0.7]},
                             path=tmp_path / "h.png")
    assert [set(_lines(ax)) for ax in figure.get_axes()] == [{"train"}, {"train"}]
    _check_png(tmp_path / "h.png", figure)


@pytest.mark.parametrize("history, error, match", [
    ({}, ValueError, "no epochs"),
    ({"loss": []}, ValueError, "no epochs"),
    ({"loss": [1, 2], "val_loss": [1]}, ValueError, "different lengths"),
    ({"loss": [[1, 2]]}, ValueError, "one per epoch"),
    ([1, 2], TypeError, "History or a dict"),
])
def test_bad_history(history, error, match):
    with pytest.raises(error, match=match):
        fa.plot_history(history)


def test_unknown_metric_and_log_y(history):
    with pytest.raises(ValueError, match="metrics \\['auc'\\] are not in the history"):
        history.plot(metrics=["auc"])
    with pytest.raises(TypeError, match="log_y must be True or False"):
        history.plot(log_y="yes")


def test_without_matplotlib(monkeypatch, history):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        history.plot()


def test_train_plot_export_example(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("h5py")
    from cases import load_example

    example = load_example("train_plot_export")
    model, history, paths = example.main(tmp_path, epochs=3)
    out = capsys.readouterr().out
    assert "ONNX Runtime's outputs differ from fastann's by at most" in out
    assert "read back by fastann: same predictions" in out
    assert sorted(os.path.basename(p) for p in paths.values()) == sorted(os.listdir(tmp_path))
    image = matplotlib.image.imread(paths["png"])
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert len(history.history["loss"]) == 3


# ------------------------------------------------------------------------ version
def test_version_command(capsys):
    from fastann.__main__ import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fastann {fa.__version__}\n"
    import pathlib
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert fa.__version__ == tomllib.loads(pyproject.read_text())["project"]["version"]
