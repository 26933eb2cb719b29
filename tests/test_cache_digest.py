"""Editing a kernel source drops the cached kernels compiled from the old one, in
``kernels/`` (Numba alone checks only the file that defines a cached function; the
benchmarks define no cached kernels).

Runs in subprocesses on a copy of the package with its own ``NUMBA_CACHE_DIR``: the
first process compiles, the second loads from the cache, and after ``blas.py`` is
edited the third must compile again.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import fastann

# Calls small cached kernels: the first and a later kernel of train.py (a module's first kernel reads its digest, the later ones follow it); prints
# where fastann came from and how often each kernel hit the cache.
SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import fastann
    from fastann.kernels import train
    train.all_finite(np.zeros(3))
    train.fill(np.zeros(3), 0.0)
    kernels = (train.all_finite, train.fill)
    print(json.dumps({"package": fastann.__file__,
                      "hits": [sum(k.stats.cache_hits.values()) for k in kernels]}))
""")


def test_editing_a_kernel_source_drops_the_kernels_compiled_from_it(tmp_path):
    copy = tmp_path / "fastann"
    shutil.copytree(Path(fastann.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
                       PYTHONPATH=str(tmp_path))
    environment.pop("FASTANN_DISABLE_CACHE", None)

    def run():
        completed = subprocess.run([sys.executable, "-c", SCRIPT], env=environment,
                                   capture_output=True, text=True, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        assert Path(result["package"]).parent == copy
        return result["hits"]

    assert run() == [0, 0]  # compiled
    assert run() == [1, 1]  # loaded from the cache
    with open(copy / "kernels" / "blas.py", "a") as source:
        source.write("\n# edited\n")
    assert run() == [0, 0]  # compiled again, though train.py did not change
    assert run() == [1, 1]
