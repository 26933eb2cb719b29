"""scikit-learn's own estimator checks, with no expected failures, for both estimators
(the default solver and lbfgs), and float32 input."""
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastann.sklearn import MLPClassifier, MLPRegressor

ESTIMATORS = [
    MLPClassifier(max_iter=100),  # scikit-learn checks its own MLPs with max_iter=100
    MLPRegressor(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=100),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
