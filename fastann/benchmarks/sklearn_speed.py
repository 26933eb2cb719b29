"""fastann.sklearn against scikit-learn's MLPs: fit time and test score, same settings,
same data, in one run (``run_sklearn_bench``).

Cases: breast_cancer (30-64, adam, 200 iterations), digits (64-128, adam, 200), a
synthetic 50,000 x 100 problem (100-256-128, adam, batch 200, 20 iterations), lbfgs on
breast_cancer, and a grid search of 16 configurations on breast_cancer with n_jobs=2
against n_jobs=1 (fastann on both sides). Every fit is timed from a fresh estimator
after an untimed warm-up fit (the warm-up pays fastann's compile, or loads it from the
cache); the two sides' fits alternate (the machine may be loaded by others) and a case's
time is the best of ``repeats`` fits.

The grid search measures steady-state workers: an untimed small grid with n_jobs=2 first
starts joblib's worker processes and loads fastann's kernels in them (joblib keeps the
workers for the next search), so the timed searches compare the fits themselves, not a
worker's start (its Python, NumPy, scikit-learn and fastann imports and kernel cache
load, a few seconds that a long search pays once). Serial and parallel searches
alternate ``repeats`` times; each side's best is kept.
"""
import os
import platform
import time
import warnings

import numpy as np


def _cases(small):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    def split(X, y):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test

    cancer = split(*datasets.load_breast_cancer(return_X_y=True))
    digits = split(*datasets.load_digits(return_X_y=True))
    n = 5_000 if small else 50_000
    X, y = datasets.make_classification(n_samples=n, n_features=100, n_informative=40,
                                        n_classes=4, random_state=0)
    synthetic = split(X, y)
    iterations = 20 if small else 200
    return [
        ("breast_cancer 30-64 adam", cancer,
         dict(hidden_layer_sizes=(64,), max_iter=iterations)),
        ("digits 64-128 adam", digits, dict(hidden_layer_sizes=(128,), max_iter=iterations)),
        (f"synthetic {n}x100 100-256-128 adam", synthetic,
         dict(hidden_layer_sizes=(256, 128), batch_size=200, max_iter=2 if small else 20)),
        ("breast_cancer 30-64 lbfgs", cancer,
         dict(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=iterations)),
    ]


def _time_fit(cls, params, data):
    """Seconds of one fit of a fresh estimator, and its test score."""
    X_train, X_test, y_train, y_test = data
    estimator = cls(random_state=0, **params)
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    return time.perf_counter() - started, estimator.score(X_test, y_test)


def _best_alternating(timers, repeats):
    """Call each timer in turn ``repeats`` times (``timers``: name -> (function,
    calls)); the best seconds and the last score of each."""
    best = {name: (np.inf, None) for name in timers}
    for repeat in range(repeats):
        for name, (function, calls) in timers.items():
            if repeat < calls:
                seconds, score = function()
                best[name] = (min(best[name][0], seconds), score)
    return best


def _grid_seconds(n_jobs, small):
    from sklearn import datasets
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..sklearn import MLPClassifier

    X, y = datasets.load_breast_cancer(return_X_y=True)
    grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (32,), (64,), (32, 16)],
            "mlpclassifier__alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(max_iter=20 if small else 200, random_state=0))
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs)
    started = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - started, search.best_score_


def run_sklearn_bench(small=False, repeats=3, file=None):
    """Time fastann.sklearn against scikit-learn and print the table.

    Parameters
    ----------
    small : bool
        Smaller sizes and fewer iterations (a smoke run, not a measurement).
    repeats : int
        Fits per case and side; the best time is kept.
    file : file-like, optional
        Where the table goes (stdout by default).

    Returns
    -------
    list of dict
        One row per case: ``case``, ``fastann_s``, ``sklearn_s``, ``speedup``,
        ``fastann_score``, ``sklearn_score``; the grid search row has ``n_jobs_1_s``,
        ``n_jobs_2_s`` and ``speedup``.
    """
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    from ..sklearn import MLPClassifier

    rows = []
    _print_header(file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for case, data, params in _cases(small):
            _time_fit(MLPClassifier, params, data)  # warm-up: compile or cache load
            best = _best_alternating({
                "ours": (lambda: _time_fit(MLPClassifier, params, data), repeats),
                "theirs": (lambda: _time_fit(neural_network.MLPClassifier, params, data),
                           1 if "synthetic" in case else repeats)}, repeats)
            (ours, our_score), (theirs, their_score) = best["ours"], best["theirs"]
            rows.append(dict(case=case, fastann_s=ours, sklearn_s=theirs,
                             speedup=theirs / ours, fastann_score=our_score,
                             sklearn_score=their_score))
            _print_row(rows[-1], file)
        _grid_seconds(2, True)  # starts the workers and loads their kernels (untimed)
        best = _best_alternating({"serial": (lambda: _grid_seconds(1, small), repeats),
                                  "parallel": (lambda: _grid_seconds(2, small), repeats)},
                                 repeats)
        (serial, serial_score), (parallel, parallel_score) = best["serial"], best["parallel"]
    rows.append(dict(case="grid search 16 configs x 3 folds, breast_cancer",
                     n_jobs_1_s=serial, n_jobs_2_s=parallel, speedup=serial / parallel,
                     same_best_score=serial_score == parallel_score))
    _print_row(rows[-1], file)
    return rows


def _print_header(file):
    import sklearn

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}",
          file=file, flush=True)
    print(f"{'case':44} {'fastann s':>10} {'sklearn s':>10} {'speedup':>8} "
          f"{'score fa':>9} {'score sk':>9}", file=file, flush=True)


def _print_row(row, file):
    if "n_jobs_1_s" in row:
        print(f"{row['case']:44} {'n_jobs=2':>10} {'n_jobs=1':>10} "
              f"{row['speedup']:7.2f}x", file=file)
        print(f"{'':44} {row['n_jobs_2_s']:10.3f} {row['n_jobs_1_s']:10.3f}", file=file,
              flush=True)
    else:
        print(f"{row['case']:44} {row['fastann_s']:10.3f} {row['sklearn_s']:10.3f} "
              f"{row['speedup']:7.1f}x {row['fastann_score']:9.4f} "
              f"{row['sklearn_score']:9.4f}", file=file, flush=True)


if __name__ == "__main__":
    run_sklearn_bench()


def job(settings, names, options, progress):
    """``fastann bench --sklearn``: the table above, smaller under ``--quick``; the
    machine line first, as every job prints it."""
    from .machine import format_machine, machine_info

    print(format_machine(machine_info()))
    rows = run_sklearn_bench(small=settings.mode == "quick")
    return {"sklearn": rows}
