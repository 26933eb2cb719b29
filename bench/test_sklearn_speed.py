"""fastann.sklearn against scikit-learn's MLPs, fit time on the same data and settings.

    pytest bench/test_sklearn_speed.py --benchmark-enable   # measure
    python -m fastann.benchmarks.sklearn_speed              # the whole table, grid too

Under ``--benchmark-disable`` (CI) each case runs once at small sizes and still checks
that both sides reach scores within 0.05 of each other.
"""
import warnings

import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

from fastann.benchmarks import sklearn_speed
from fastann.sklearn import MLPClassifier


@pytest.fixture(scope="module")
def cases(small):
    return {case: (data, params) for case, data, params in sklearn_speed._cases(small)}


CASE_NAMES = ["breast_cancer 30-64 adam", "digits 64-128 adam", "synthetic",
              "breast_cancer 30-64 lbfgs"]


def _find(cases, name):
    return next((key, value) for key, value in cases.items() if key.startswith(name))


@pytest.mark.parametrize("side", ["fastann", "sklearn"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_fit(benchmark, cases, name, side):
    case, (data, params) = _find(cases, name)
    cls = MLPClassifier if side == "fastann" else neural_network.MLPClassifier
    X_train, X_test, y_train, y_test = data
    benchmark.group = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if side == "fastann":
            cls(random_state=0, **params).fit(X_train, y_train)  # untimed compile
        fitted = benchmark.pedantic(
            lambda: cls(random_state=0, **params).fit(X_train, y_train), rounds=1
            if "synthetic" in case else 3, iterations=1)
        reference = neural_network.MLPClassifier(random_state=0, **params).fit(
            X_train, y_train) if side == "fastann" else fitted
    assert abs(fitted.score(X_test, y_test) - reference.score(X_test, y_test)) <= 0.05
