"""Ctrl-C during fit, with a real SIGINT sent to a real process: the first stops after
the running kernel call and fit returns the History with a warning; a second raises
KeyboardInterrupt. Either way History and the weights agree."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fastann._signals import _Interrupt

CHILD = textwrap.dedent("""
    import sys, time, warnings
    import numpy as np
    import fastann as fa

    model = fa.Model([fa.Dense(8, activation="tanh"), fa.Dense(1, activation="sigmoid")],
                     input_dim=4, dtype="float64", seed=0)
    model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.1))
    X = np.random.default_rng(0).normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)

    class Slow(fa.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                print("READY", flush=True)
            time.sleep(0.4)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(X, y, epochs=100000, batch_size=16, verbose=0,
                                callbacks=[Slow()])
        print("RETURNED", len(history.history["loss"]), model.epochs_trained,
              any("fit interrupted" in str(w.message) for w in caught), flush=True)
    except KeyboardInterrupt:
        print("RAISED", len(model.history.history["loss"]), model.epochs_trained,
              flush=True)
""")


def interrupted_run(tmp_path, n_signals):
    """Run CHILD, send ``n_signals`` SIGINTs once it is training; its last line, split."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = child.stdout.readline()  # blocks until training runs (or the child died)
        assert line.strip() == "READY", (line, child.stderr.read())
        for _ in range(n_signals):
            child.send_signal(signal.SIGINT)
            time.sleep(0.1)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    return out.strip().splitlines()[-1].split()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_one_ctrl_c_returns_the_history_so_far_with_a_warning(tmp_path):
    word, recorded, trained, warned = interrupted_run(tmp_path, 1)
    assert word == "RETURNED" and warned == "True"
    assert int(recorded) == int(trained) >= 3


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_raises_keyboard_interrupt_with_history_kept(tmp_path):
    word, recorded, trained = interrupted_run(tmp_path, 2)
    assert word == "RAISED"
    assert int(recorded) == int(trained) >= 3


def test_a_second_ctrl_c_during_a_kernel_call_raises_once_it_is_recorded():
    state = _Interrupt()
    state.hold()
    state._signal()
    assert state.requested
    state._signal()  # held: no raise inside the bookkeeping
    with pytest.raises(KeyboardInterrupt):
        state.release()
    state.release()  # raised once only
    with pytest.raises(KeyboardInterrupt):
        state._signal()  # not held: at once
