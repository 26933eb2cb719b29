"""fastann imports and trains where no compile cache can be written, with the one
RuntimeWarning ``fastann.kernels._jit`` documents, and ``FASTANN_DISABLE_CACHE=1`` turns
the disk cache off.

Both run in a subprocess on a copy of the package, so they compile from nothing (about
half a minute each). File permissions do not stop root, so when the tests run as root
the subprocess first gives up the capabilities that let root ignore them
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, dropped from its bounding set so
they stay dropped across ``exec``), or else becomes the ``nobody`` user (uid and gid
65534); the test is skipped, saying why, when neither works.
"""
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastann

NOBODY = 65534
PR_CAPBSET_DROP = 24  # from <linux/prctl.h>
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
WARNING = "fastann: no writable cache directory"

# Trains the AND gate (float64, as examples/and_gate.py) and reports what happened.
SCRIPT = textwrap.dedent("""
    import json, os, sys, warnings

    def writable(directory):
        try:
            open(os.path.join(directory, "probe"), "w").close()
        except OSError:
            return False
        os.remove(os.path.join(directory, "probe"))
        return True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import numpy as np
        import fastann as fa
        from fastann.kernels import _jit, train
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        y = np.array([0, 0, 0, 1])
        model = fa.Model([fa.Dense(4, activation="relu", kernel_initializer="scaled_normal",
                                   init_scale=0.01),
                          fa.Dense(1, activation="sigmoid", kernel_initializer="scaled_normal",
                                   init_scale=0.01)], input_dim=2, dtype="float64", seed=42)
        model.compile(loss="binary_crossentropy", optimizer=fa.SGD(lr=0.1))
        history = model.fit(X, y, epochs=int(sys.argv[1]), batch_size="full", verbose=0)
        predictions = model.predict_classes(X)
    package = os.path.dirname(fa.__file__)
    print(json.dumps({
        "package": package,
        "uid": os.getuid(),
        "package_writable": writable(os.path.join(package, "kernels")),
        "cache_enabled": _jit.CACHE_ENABLED,
        "cached_kernels": len(_jit.kernels_on_disk),
        "train_epochs_cache_path": train.train_epochs.stats.cache_path,
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
        "predictions": predictions.tolist(),
        "weights": [w.tolist() for w in model.get_weights()],
        "loss": history.history["loss"][-1],
    }))
""")
EPOCHS = 2000


def reference_run():
    """The same training in this process (cached kernels)."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    model = fastann.Model([fastann.Dense(4, activation="relu", kernel_initializer="scaled_normal",
                                         init_scale=0.01),
                           fastann.Dense(1, activation="sigmoid",
                                         kernel_initializer="scaled_normal", init_scale=0.01)],
                          input_dim=2, dtype="float64", seed=42)
    model.compile(loss="binary_crossentropy", optimizer=fastann.SGD(lr=0.1))
    model.fit(X, [0, 0, 0, 1], epochs=EPOCHS, batch_size="full", verbose=0)
    return model.get_weights()


@pytest.fixture
def workspace():
    """A directory every user may read and enter (pytest's tmp_path is private to its
    owner, which would lock the nobody user out), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="fastann-cache-test-"))
    path.chmod(0o755)
    yield path
    for root, directories, _ in os.walk(path):  # give write access back, to delete it
        for name in directories:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path, ignore_errors=True)


def copy_package(destination):
    """A copy of the fastann package without any compiled cache."""
    source = Path(fastann.__file__).parent
    target = destination / "fastann"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def read_only(path):
    """Remove write permission from a whole tree (read and enter stay allowed)."""
    for root, directories, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        for name in directories:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(path, 0o555)


def drop_capabilities():
    """Stay root, but without the capabilities that bypass file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def become_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


PROBE = textwrap.dedent("""
    import sys
    import numba, numpy, scipy
    try:
        open(sys.argv[1] + "/probe", "w")
    except PermissionError:
        print("bound by permissions")
""")


def permission_bound_runner(workspace):
    """A ``preexec_fn`` under which file permissions apply to the subprocess (None when
    they already do), or skip the test."""
    if os.geteuid() != 0:
        return None
    locked = workspace / "locked"
    locked.mkdir(mode=0o555)
    failures = []
    for preexec in (drop_capabilities, become_nobody):
        try:
            done = subprocess.run([sys.executable, "-c", PROBE, str(locked)], cwd="/",
                                  preexec_fn=preexec, capture_output=True, text=True,
                                  timeout=120)
        except (OSError, subprocess.SubprocessError) as error:
            failures.append(f"{preexec.__name__}: {error}")
            continue
        if done.returncode == 0 and "bound by permissions" in done.stdout:
            return preexec
        failures.append(f"{preexec.__name__}: {done.stdout.strip()} {done.stderr.strip()[-200:]}")
    pytest.skip("running as root, which file permissions do not stop, and neither dropping "
                "CAP_DAC_OVERRIDE nor becoming uid 65534 gave a subprocess that both runs "
                f"{sys.executable} and is refused writes: {'; '.join(failures)}")


def run_script(env, preexec=None):
    base = {key: os.environ[key] for key in ("PATH", "LANG", "SYSTEMROOT") if key in os.environ}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(EPOCHS)], env={**base, **env},
                          capture_output=True, text=True, timeout=600, cwd=env["HOME"],
                          preexec_fn=preexec)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*") if p.is_file())


def assert_trained_like_the_cached_kernels(result):
    assert result["predictions"] == [0, 0, 0, 1]
    # compiled in memory or loaded from the cache, the machine code computes the same
    for weights, expected in zip(result["weights"], reference_run()):
        np.testing.assert_array_equal(np.array(weights), expected)


def test_read_only_package_and_no_writable_cache_directory(workspace):
    preexec = permission_bound_runner(workspace)
    package = copy_package(workspace)
    read_only(package)
    cache = workspace / "cache"  # NUMBA_CACHE_DIR: exists, not writable
    cache.mkdir(mode=0o555)
    home = workspace / "home"  # the user-wide cache dir (~/.cache) cannot be made there
    home.mkdir(mode=0o555)
    env = {"PYTHONPATH": str(workspace), "NUMBA_CACHE_DIR": str(cache), "HOME": str(home),
           "XDG_CACHE_HOME": str(home / ".cache")}

    result = run_script(env, preexec)

    assert result["package"] == str(package)  # the copy, not the installed package
    if result["package_writable"]:
        pytest.skip("the package copy stayed writable for the subprocess (uid "
                    f"{result['uid']}), so the fallback cannot be exercised")
    assert result["cache_enabled"] and result["cached_kernels"] == 0
    assert result["train_epochs_cache_path"] is None  # not cached
    ours = [w for w in result["warnings"] if WARNING in w[1]]
    assert len(ours) == 1, result["warnings"]
    category, message = ours[0]
    assert category == "RuntimeWarning"
    assert "kernels are compiled in memory for this process" in message
    assert "Set NUMBA_CACHE_DIR to a writable directory" in message
    assert [w for w in result["warnings"] if w[0] == "RuntimeWarning"] == ours
    assert_trained_like_the_cached_kernels(result)
    assert files_under(cache) == [] and files_under(home) == []
    assert not [f for f in files_under(package) if f.endswith((".nbi", ".nbc"))]


def test_fastann_disable_cache(workspace):
    package = copy_package(workspace)
    cache = workspace / "cache"  # writable, yet nothing may be written there
    cache.mkdir()
    home = workspace / "home"
    home.mkdir()
    env = {"PYTHONPATH": str(workspace), "NUMBA_CACHE_DIR": str(cache), "HOME": str(home),
           "FASTANN_DISABLE_CACHE": "1"}

    result = run_script(env)

    assert result["package"] == str(package)
    assert not result["cache_enabled"] and result["cached_kernels"] == 0
    assert result["train_epochs_cache_path"] is None  # not cached
    assert not [w for w in result["warnings"] if WARNING in w[1]]  # off on purpose: silent
    assert_trained_like_the_cached_kernels(result)
    assert files_under(cache) == []
    assert not [f for f in files_under(package) if f.endswith((".nbi", ".nbc", ".sha256"))]
