"""examples/keras_tutorial.py is the Keras tutorial's "Try it out" program with only its
imports changed (``import fastann as keras``, ``from fastann import layers``): it runs
unchanged, prints Keras' lines, reaches >= 0.95 test accuracy, and its ``predictions``
are float32 (300, 1) probabilities."""
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "keras_tutorial.py"
SEED = sorted((ROOT.parent / "shared" / "seeds").glob("004_*.txt"))  # ../shared beside the checkout


def test_the_example_is_the_seed_program_with_its_imports_changed():
    program = EXAMPLE.read_text().splitlines()
    assert program[:3] == ["import numpy as np", "import fastann as keras",
                           "from fastann import layers"]
    body = "\n".join(program[3:])
    for line in ("model = keras.Sequential([",
                 "layers.Dense(64, activation='relu', input_shape=(2,)),",
                 "model.compile(optimizer='adam', loss='binary_crossentropy', "
                 "metrics=['accuracy'])",
                 "history = model.fit(X_train, y_train, epochs=25, batch_size=32, "
                 "validation_split=0.2)",
                 "loss, accuracy = model.evaluate(X_test, y_test)",
                 "print(f'Test loss: {loss:.4f}, Test accuracy: {accuracy:.4f}')",
                 "predictions = model.predict(X_test)"):
        assert line in body
    if SEED:  # the seed text is there in the project's checkout: compare line by line
        text = SEED[0].read_text()
        start = text.index("Try it out")
        seed = text[text.index("import numpy as np", start):
                    text.index("predictions = model.predict(X_test)", start)].splitlines()
        seed = [line for line in seed if line.strip()]
        tail = [line for line in seed if "tensorflow" not in line and "import numpy" not in line]
        assert program[3:3 + len(tail)] == tail


def test_it_runs_with_stdout_piped_and_prints_keras_lines():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(EXAMPLE)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # 25 epochs of two lines, the evaluate line, the print, the predict line
    assert len(lines) == 2 * 25 + 3, done.stdout
    steps = -(-720 // 32)
    for epoch in range(1, 26):
        assert lines[2 * epoch - 2] == f"Epoch {epoch}/25"
        assert re.fullmatch(rf"{steps}/{steps} - \d+s - \d+(us|ms|s)/step - accuracy: "
                            r"[01]\.\d{4} - loss: \d\.\d{4} - val_accuracy: [01]\.\d{4} - "
                            r"val_loss: \d\.\d{4}", lines[2 * epoch - 1]), lines[2 * epoch - 1]
    assert re.fullmatch(r"10/10 - \d+s - \d+(us|ms|s)/step - accuracy: [01]\.\d{4} - "
                        r"loss: \d\.\d{4}", lines[50]), lines[50]
    match = re.fullmatch(r"Test loss: (\d\.\d{4}), Test accuracy: ([01]\.\d{4})", lines[51])
    assert match and float(match.group(2)) >= 0.95
    assert re.fullmatch(r"10/10 - \d+s - \d+(us|ms|s)/step", lines[52]), lines[52]


def test_its_results_are_keras_types(capsys):
    names = runpy.run_path(str(EXAMPLE), run_name="__main__")
    capsys.readouterr()
    assert isinstance(names["loss"], float) and isinstance(names["accuracy"], float)
    assert names["accuracy"] >= 0.95
    predictions = names["predictions"]
    assert predictions.dtype == np.float32 and predictions.shape == (300, 1)
    assert ((predictions >= 0) & (predictions <= 1)).all()
    history = names["history"].history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 25 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert names["history"].params == {"verbose": "auto", "epochs": 25, "steps": 23}
    labels = (predictions[:, 0] > 0.5).astype(float)
    assert (labels == names["y_test"]).mean() == pytest.approx(names["accuracy"], abs=1e-6)
