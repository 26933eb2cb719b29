"""The estimator contract beyond scikit-learn's checks: clone, pickle and joblib round
trips, warm_start, partial_fit, multi-label and multi-output targets, string labels,
DataFrame feature names, scikit-learn's errors, refused calls leaving the estimator
as it was, scores against scikit-learn's on real data sets, and parallel grid searches
(processes and a real Dask cluster) identical to the serial one."""
import copy
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets, neural_network
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from fastann.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def cancer():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_same_parameters_as_sklearn():
    for ours, theirs in ((MLPClassifier(), neural_network.MLPClassifier()),
                         (MLPRegressor(), neural_network.MLPRegressor())):
        extra = {"dtype"} | ({"class_weight"} if isinstance(ours, MLPClassifier) else set())
        mine = ours.get_params()
        assert set(mine) - extra == set(theirs.get_params())
        for name, value in theirs.get_params().items():
            assert mine[name] == value, name


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickle_joblib_clone(cancer, solver, tmp_path):
    X, y = cancer
    clf = MLPClassifier((8,), solver=solver, max_iter=20, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib", mmap_mode="r")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "coefs_")
    np.testing.assert_array_equal(fresh.fit(X, y).predict_proba(X), expected)


def test_fit_starts_over_and_warm_start_continues(cancer):
    X, y = cancer
    clf = MLPClassifier((8,), max_iter=5, random_state=0)
    first = clf.fit(X, y).coefs_[0].copy()
    np.testing.assert_array_equal(clf.fit(X, y).coefs_[0], first)
    clf.set_params(warm_start=True)
    assert not np.array_equal(clf.fit(X, y).coefs_[0], first)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, np.where(y == 1, 2, y) + (y == 0))


def test_partial_fit(cancer):
    X, y = cancer
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    assert clf.n_iter_ == 1 and clf.t_ == 300
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:5], np.full(5, 7))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


def test_multilabel_and_multioutput():
    X, Y = datasets.make_multilabel_classification(n_samples=80, n_classes=4,
                                                   random_state=0)
    clf = MLPClassifier((16,), max_iter=50, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape and clf.out_activation_ == "logistic"
    assert clf.predict_proba(X).shape == Y.shape
    X, Y = datasets.make_regression(n_samples=80, n_targets=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == Y.shape and reg.n_outputs_ == 3


def test_string_labels_and_binary_proba(cancer):
    X, y = cancer
    names = np.array(["benign", "malignant"])[y]
    clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, names)
    assert set(clf.predict(X)) <= {"benign", "malignant"}
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_dataframe_feature_names(cancer):
    X, y = cancer
    frame = pd.DataFrame(X[:, :5], columns=list("abcde"))
    clf = MLPClassifier((8,), max_iter=10, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list("abcde")
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[list("edcba")])


def test_sklearn_errors_and_refused_calls_change_nothing(cancer):
    X, y = cancer
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(InvalidParameterError, match="solver"):
        MLPClassifier(solver="nadam").fit(X, y)
    with pytest.raises(InvalidParameterError, match="alpha"):
        MLPRegressor(alpha=-1).fit(X, y)
    clf = MLPClassifier((8,), max_iter=10, random_state=0).fit(X, y)
    before = pickle.dumps(clf)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    with pytest.raises(InvalidParameterError):
        clf.set_params(max_iter=0).fit(X, y)
    clf.set_params(max_iter=10)
    assert pickle.dumps(clf) == before
    with pytest.raises(ValueError, match="non-negative for loss='poisson'"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)


def test_sparse_input_is_converted(cancer):
    import scipy.sparse
    X, y = cancer
    dense = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    sparse = MLPClassifier((8,), max_iter=5, random_state=0).fit(scipy.sparse.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X))


def test_float32_stays_float32(cancer):
    X, y = cancer
    clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
    assert MLPClassifier((8,), max_iter=5, dtype="float32").fit(X, y).coefs_[0].dtype == \
        np.float32


def test_class_weight(cancer):
    X, y = cancer
    plain = MLPClassifier((8,), max_iter=5, random_state=0, shuffle=False).fit(X, y)
    heavy = MLPClassifier((8,), max_iter=5, random_state=0, shuffle=False,
                          class_weight={0: 5.0, 1: 1.0}).fit(X, y)
    assert heavy.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean()


SCORE_CASES = {
    "breast_cancer": (datasets.load_breast_cancer, MLPClassifier, dict(max_iter=60)),
    "digits": (datasets.load_digits, MLPClassifier, dict(max_iter=40)),
    "wine": (datasets.load_wine, MLPClassifier, dict(max_iter=150)),
    "iris": (datasets.load_iris, MLPClassifier, dict(max_iter=300)),
    "diabetes": (datasets.load_diabetes, MLPRegressor,
                 dict(max_iter=30, learning_rate_init=0.01)),
    "iris_lbfgs": (datasets.load_iris, MLPClassifier, dict(solver="lbfgs", max_iter=100)),
}


@pytest.mark.parametrize("name", sorted(SCORE_CASES))
def test_test_scores_within_002_of_sklearn(name):
    load, cls, params = SCORE_CASES[name]
    X, y = load(return_X_y=True)
    if cls is MLPRegressor:
        y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    theirs_cls = getattr(neural_network, cls.__name__)
    scores = []
    for seed in range(3):
        ours = cls(hidden_layer_sizes=(32,), random_state=seed, **params)
        theirs = theirs_cls(hidden_layer_sizes=(32,), random_state=seed, **params)
        ours.fit(X_train, y_train)
        theirs.fit(X_train, y_train)
        scores.append((ours.score(X_test, y_test), theirs.score(X_test, y_test)))
    ours_mean, theirs_mean = np.mean(scores, axis=0)
    assert abs(ours_mean - theirs_mean) <= 0.02, scores


def grid(n_jobs, backend=None):
    X, y = datasets.load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=15, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)],
                                 "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3, n_jobs=n_jobs)
    if backend is None:
        search.fit(X, y)
    else:
        with joblib.parallel_backend(backend):
            search.fit(X, y)
    return search.cv_results_["mean_test_score"], search.best_params_


def test_parallel_grid_search_and_cross_val_equal_serial():
    serial = grid(1)
    parallel = grid(-1)
    np.testing.assert_array_equal(parallel[0], serial[0])
    assert parallel[1] == serial[1]
    X, y = datasets.load_iris(return_X_y=True)
    clf = MLPClassifier((8,), max_iter=20, random_state=0)
    np.testing.assert_array_equal(cross_val_score(clf, X, y, n_jobs=-1),
                                  cross_val_score(clf, X, y, n_jobs=1))


def test_dask_example_imports_without_side_effects(capsys):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "examples" / "sweep_on_dask.py"
    spec = importlib.util.spec_from_file_location("fastann_example_sweep_on_dask", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert callable(example.main) and capsys.readouterr().out == ""


def test_grid_search_on_a_dask_cluster_equals_serial():
    distributed = pytest.importorskip("dask.distributed")
    serial = grid(1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        on_dask = grid(-1, backend="dask")
    np.testing.assert_array_equal(on_dask[0], serial[0])
    assert on_dask[1] == serial[1]


def _trained_threads(estimator, X, y):
    """A scorer reporting the BLAS thread budget the fit it scores ran under."""
    return float(estimator[-1].blas_threads_)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_grid_search_workers_share_the_cores(solver):
    """Each of two worker processes trains on at most cores // 2 BLAS threads (the
    workers report it through a scorer), and the scores equal the serial run's."""
    pytest.importorskip("threadpoolctl")
    import os
    X, y = datasets.load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(max_iter=10, random_state=0, solver=solver))
    scoring = {"accuracy": "accuracy", "threads": _trained_threads}
    results = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)]},
                              cv=2, n_jobs=n_jobs, scoring=scoring, refit="accuracy")
        search.fit(X, y)
        results[n_jobs] = search.cv_results_
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count()
    worker_threads = np.concatenate([results[2][f"split{i}_test_threads"] for i in (0, 1)])
    assert (worker_threads >= 1).all()
    assert (2 * worker_threads <= max(cores, 2)).all(), (worker_threads, cores)
    np.testing.assert_array_equal(results[2]["mean_test_accuracy"],
                                  results[1]["mean_test_accuracy"])


# ---------------------------------------------------------------- state kept
def small_problem():
    X = np.random.RandomState(0).randn(60, 4)
    return X, np.argmax(X[:, :3], axis=1)


def partially_fitted(**params):
    X, y = small_problem()
    clf = MLPClassifier((5,), random_state=0, batch_size=16, **params)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    return clf.partial_fit(X, y)


@pytest.mark.parametrize("params", [
    dict(solver="adam", shuffle=False), dict(solver="adam", shuffle=True),
    dict(solver="sgd", momentum=0.9, shuffle=False),
    dict(solver="sgd", learning_rate="invscaling", shuffle=False)])
def test_pickle_and_deepcopy_keep_the_optimizer_state(params, tmp_path):
    """As scikit-learn's: pickling leaves the estimator as it was, and an unpickled (or
    deep-copied, or memory-mapped) copy's partial_fit continues bit for bit as the
    original's (Adam's moments, the velocity, the step count, the shuffling RNG)."""
    X, y = small_problem()
    expected = partially_fitted(**params).partial_fit(X, y)
    original = partially_fitted(**params)
    pickled = pickle.loads(pickle.dumps(original))
    copied = copy.deepcopy(original)
    joblib.dump(original, tmp_path / "clf.joblib")
    mapped = joblib.load(tmp_path / "clf.joblib", mmap_mode="r")
    for clf in (original, pickled, copied, mapped):
        clf.partial_fit(X, y)
        for got, want in zip(clf.coefs_ + clf.intercepts_,
                             expected.coefs_ + expected.intercepts_):
            np.testing.assert_array_equal(got, want)
        assert clf.t_ == expected.t_ and clf.loss_ == expected.loss_


def fitted_state(estimator):
    """Every attribute of the estimator as pickled bytes, the fastann Model as its
    training state (parameters, optimizer state, RNG, counters)."""
    state = {}
    for name, value in vars(estimator).items():
        if name == "_model" and value is not None:
            value = value.get_training_state().arrays()
        state[name] = pickle.dumps(value)
    return state


def fitted_on_frame():
    X, y = small_problem()
    frame = pd.DataFrame(X, columns=list("abcd"))
    return MLPClassifier((5,), max_iter=5, random_state=0, batch_size=16,
                         shuffle=False).fit(frame, y)


FITTED = {
    "fit on a DataFrame": fitted_on_frame,
    "partial_fit, sgd": lambda: partially_fitted(solver="sgd", learning_rate_init=0.5,
                                                 shuffle=False),
    "RandomState instance": lambda: MLPClassifier(
        (5,), max_iter=5, batch_size=16, shuffle=False,
        random_state=np.random.RandomState(0)).fit(*small_problem()),
}
ZERO_FIRST_BATCH = np.where(np.arange(60) < 16, 0.0, 1.0)


def first_columns(X, n):
    return X.iloc[:, :n] if isinstance(X, pd.DataFrame) else X[:, :n]


def with_nan(X):
    X = X.copy()
    X[X > 2] = np.nan
    return X


REFUSED = {
    "continuous y": (ValueError, lambda clf, X, y: clf.fit(X, np.asarray(X)[:, 0])),
    "short sample_weight, fewer features": (ValueError, lambda clf, X, y: clf.fit(
        first_columns(X, 3), y, sample_weight=np.ones(5))),
    "validation set too small": (ValueError, lambda clf, X, y: clf.set_params(
        early_stopping=True, validation_fraction=0.01).fit(X, y)),
    "hidden_layer_sizes not integers": (TypeError, lambda clf, X, y: clf.set_params(
        hidden_layer_sizes=(3.5,)).fit(X, y)),
    "a mini-batch weighing 0": (
        ZeroDivisionError, lambda clf, X, y: clf.fit(X, y, sample_weight=ZERO_FIRST_BATCH)),
    "every weight 0": (ValueError, lambda clf, X, y: clf.fit(X, y, sample_weight=np.zeros(60))),
    "NaN in X": (ValueError, lambda clf, X, y: clf.fit(with_nan(X), y)),
    "unknown class in partial_fit": (ValueError,
                                     lambda clf, X, y: clf.partial_fit(X, y + 5)),
    "partial_fit with fewer features": (
        ValueError, lambda clf, X, y: clf.partial_fit(first_columns(X, 3), y)),
    "warm start with other classes": (ValueError, lambda clf, X, y: clf.set_params(
        warm_start=True).fit(X, y + 5)),
    "diverging partial_fit": (ValueError, lambda clf, X, y: clf.partial_fit(X * 1e307, y)),
}


@pytest.mark.parametrize("refused", sorted(REFUSED))
@pytest.mark.parametrize("fitted", sorted(FITTED))
def test_a_refused_call_leaves_the_fitted_estimator_unchanged(fitted, refused):
    """Every attribute, the Model's training state and the predictions are those of
    before the call, and training afterwards continues as if it never happened."""
    X, y = small_problem()
    clf, twin = FITTED[fitted](), FITTED[fitted]()
    if hasattr(clf, "feature_names_in_"):
        X = pd.DataFrame(X, columns=clf.feature_names_in_)
    params = clf.get_params()
    before, expected = fitted_state(clf), clf.predict_proba(X)
    error, call = REFUSED[refused]
    with pytest.raises(error):
        call(clf, X, y)
    clf.set_params(**params)
    assert fitted_state(clf) == before
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.partial_fit(X, y)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], twin.coefs_[0])
