"""Editing a kernel source takes effect in every cached kernel compiled from it: in
``kernels/`` and in other modules whose kernels inline it, a user's module too (Numba
alone checks only the file that defines a cached function).

Runs in subprocesses on a copy of the package with its own ``NUMBA_CACHE_DIR``: the
first process compiles, the second loads from the cache, and after ``blas.py`` is
edited (its ``gemm`` then doubles every product) the third must compile again and
give the new result from ``dense.py``'s and the user's kernels.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import fastann

# A user's module whose cached kernel inlines fastann's gemm.
USER_MODULE = textwrap.dedent("""
    from fastann.kernels._jit import kernel
    from fastann.kernels.blas import gemm


    @kernel
    def product(C, A, B):
        gemm(C, A, B, False, False)
""")

# Calls small cached kernels: dense_forward through BLAS (dense.py inlines blas.py),
# the user's product, and the first and a later kernel of train.py (a module's first
# kernel checks its digest); prints where fastann came from, the products and how often
# each kernel hit the cache.
SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import fastann
    from fastann.kernels import dense, train
    import userkernels
    A = np.arange(12.0).reshape(3, 4)
    W = np.arange(20.0).reshape(4, 5) / 10
    Z = np.zeros((3, 5))
    dense.dense_forward(Z, A, W, np.zeros(5), dense.BLAS)
    C = np.zeros((3, 5))
    userkernels.product(C, A, W)
    train.all_finite(np.zeros(3))
    train.fill(np.zeros(3), 0.0)
    kernels = (dense.dense_forward, userkernels.product, train.all_finite, train.fill)
    print(json.dumps({"package": fastann.__file__, "Z": Z.tolist(), "C": C.tolist(),
                      "hits": [sum(k.stats.cache_hits.values()) for k in kernels]}))
""")
EDIT = ("like(1, C),", "like(2, C),")  # gemm's alpha, in its general (gemm) branch


def test_editing_a_kernel_source_takes_effect_in_kernels_compiled_from_it(tmp_path):
    copy = tmp_path / "fastann"
    shutil.copytree(Path(fastann.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "userkernels.py").write_text(USER_MODULE)
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
                       PYTHONPATH=str(tmp_path))
    environment.pop("FASTANN_DISABLE_CACHE", None)
    environment.pop("NUMBA_DISABLE_JIT", None)
    product = (np.arange(12.0).reshape(3, 4) @ (np.arange(20.0).reshape(4, 5) / 10))

    def run(factor):
        completed = subprocess.run([sys.executable, "-c", SCRIPT], env=environment,
                                   capture_output=True, text=True, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        assert Path(result["package"]).parent == copy
        np.testing.assert_allclose(result["Z"], factor * product)
        np.testing.assert_allclose(result["C"], factor * product)
        return result["hits"]

    assert run(1) == [0, 0, 0, 0]  # compiled
    assert run(1) == [1, 1, 1, 1]  # loaded from the cache
    blas = copy / "kernels" / "blas.py"
    source = blas.read_text()
    assert source.count(EDIT[0]) == 1, "update EDIT: gemm's source changed"
    blas.write_text(source.replace(*EDIT))
    # compiled again, though dense.py, train.py and userkernels.py did not change
    assert run(2) == [0, 0, 0, 0]
    assert run(2) == [1, 1, 1, 1]
