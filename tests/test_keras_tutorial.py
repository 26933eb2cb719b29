"""examples/keras_tutorial.py: the Keras tutorial's classifier reaches >= 0.95 test
accuracy, prints Keras' per-epoch lines, and times fastann against the reference."""

import pytest
from cases import load_example

@pytest.fixture(scope="module")
def tutorial():
    return load_example("keras_tutorial")


def test_data_is_the_tutorials(tutorial):
    X_train, y_train, X_test, y_test = tutorial.make_data()
    assert X_train.shape == (900, 2) and X_test.shape == (300, 2)
    assert ((X_train[:, 0] + X_train[:, 1] > 1) == y_train).all()
    assert 0.4 < y_train.mean() < 0.6


def test_tutorial_reaches_95_percent_and_prints_keras_lines(tutorial, capsys):
    result = tutorial.main(verbose=2, timing=True)
    out = capsys.readouterr().out
    assert result["test_accuracy"] >= 0.95
    history = result["history"]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 25 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    lines = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert len(lines) == 25
    assert lines[0].startswith("Epoch 1/25 - loss: ") and " - val_accuracy: " in lines[0]
    assert "test accuracy" in out and "epochs/s" in out
    assert result["fastann_epochs_per_s"] > 0 and result["reference_epochs_per_s"] > 0
