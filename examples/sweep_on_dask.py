"""A grid search of fastann.sklearn.MLPClassifier on a Dask cluster.

    python examples/sweep_on_dask.py                          # a local 2-worker cluster
    python examples/sweep_on_dask.py tcp://scheduler:8786     # an existing cluster

Each worker process pays fastann's first compile once (about 20 s per process when
the kernel cache is cold; a fraction of a second when the workers share a warm cache
directory, e.g. NUMBA_CACHE_DIR on a shared disk or an image built after one run);
after that every fit is compiled code. The results equal a serial grid search's.
"""
import sys

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastann.sklearn import MLPClassifier


def main(address=None):
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=200, random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (32,), (64,), (32, 16)],
            "mlpclassifier__alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=-1)
    if address is None:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(address)
    try:
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"best {search.best_params_}: cross-validated accuracy {search.best_score_:.4f}")
    return search


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
