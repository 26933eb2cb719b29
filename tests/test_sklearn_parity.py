"""fastann.sklearn against scikit-learn's own MLPs: the same initial weights (drawn
from the same random_state), unshuffled batches, float64: the same weights, loss curve
and stopping epoch after several epochs, for every solver setting, activation and head.

Every comparison has scikit-learn's L2 term (alpha > 0); lbfgs's objective is also
compared with sample weights.
"""
import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score

from fastann import sklearn as fsk

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
HEADS = ["binary", "multiclass", "multilabel", "regression", "multioutput", "poisson",
         "poisson_multioutput"]
REGRESSION_HEADS = ("regression", "multioutput", "poisson", "poisson_multioutput")
SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "sgd_momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False,
                         learning_rate_init=0.02),
    "sgd_nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                         learning_rate_init=0.02),
    "sgd_invscaling": dict(solver="sgd", learning_rate="invscaling", power_t=0.3,
                           learning_rate_init=0.05),
    # tol so large that no epoch improves: the rate drops 5x every 3 epochs
    "sgd_adaptive": dict(solver="sgd", learning_rate="adaptive", tol=10.0,
                         n_iter_no_change=2, learning_rate_init=0.05),
}


def problem(head, n=61, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    score = X @ rng.standard_normal((n_features, 3))
    if head == "binary":
        y = (score[:, 0] > 0).astype(int)
    elif head == "multiclass":
        y = score.argmax(axis=1)
    elif head == "multilabel":
        y = (score > 0).astype(int)
    elif head == "regression":
        y = score[:, 0]
    elif head == "multioutput":
        y = score[:, :2]
    else:  # counts, zeros included
        counts = rng.poisson(np.exp(0.4 * score[:, :2]))
        y = counts[:, 0] if head == "poisson" else counts
    return X, y


def pair(head, **params):
    cls = "MLPRegressor" if head in REGRESSION_HEADS else "MLPClassifier"
    common = dict(hidden_layer_sizes=(7, 4), shuffle=False, random_state=3, alpha=0.01,
                  batch_size=16, max_iter=6)
    if head.startswith("poisson"):
        common["loss"] = "poisson"
    common.update(params)
    return getattr(fsk, cls)(**common), getattr(neural_network, cls)(**common)


def fit_both(head, X, y, **params):
    ours, theirs = pair(head, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    return ours, theirs


def assert_same_fit(ours, theirs, atol=1e-10):
    """Weights, counters, loss curve and loss equal."""
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0,
                                   atol=atol)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=0, atol=atol)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_solvers_match_sklearn(solver, head):
    X, y = problem(head)
    ours, theirs = fit_both(head, X, y, activation="tanh", **SOLVERS[solver])
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations_match_sklearn(activation, head):
    X, y = problem(head, seed=1)
    for solver in ("adam", "sgd_nesterov"):
        ours, theirs = fit_both(head, X, y, activation=activation, **SOLVERS[solver])
        assert_same_fit(ours, theirs)


def test_adaptive_rate_drops_as_sklearn():
    X, y = problem("multiclass")
    ours, theirs = fit_both("multiclass", X, y, max_iter=9, **SOLVERS["sgd_adaptive"])
    assert_same_fit(ours, theirs)
    assert ours._learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert ours._learning_rate == pytest.approx(0.05 / 25)


@pytest.mark.parametrize("head", ["binary", "regression"])
def test_tol_stops_at_the_same_epoch(head):
    X, y = problem(head)
    ours, theirs = fit_both(head, X, y, solver="adam", tol=10.0, n_iter_no_change=3,
                            max_iter=50)
    assert theirs.n_iter_ == 5  # the first epoch always improves on inf
    assert_same_fit(ours, theirs)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, abs=1e-10)


def test_warm_start_and_partial_fit_continue_as_sklearn():
    X, y = problem("multiclass")
    ours, theirs = pair("multiclass", solver="sgd", momentum=0.9, learning_rate_init=0.02,
                        warm_start=True, max_iter=3, activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for estimator in (ours, theirs):
            estimator.fit(X, y)
            estimator.fit(X, y)
            estimator.partial_fit(X, y)
            estimator.partial_fit(X[:20], y[:20])
    assert_same_fit(ours, theirs)


def test_early_stopping_matches_sklearn():
    X, y = problem("multiclass", n=120)
    ours, theirs = fit_both("multiclass", X, y, solver="adam", learning_rate_init=0.01,
                            early_stopping=True, n_iter_no_change=2, tol=0.5, max_iter=30)
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is None


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lbfgs_objective_matches_sklearn(activation, head):
    """The compiled objective against scikit-learn's ``_loss_grad_lbfgs`` at the same
    point, with the L2 penalty and sample weights."""
    X, y = problem(head, seed=2)
    weights = np.random.default_rng(5).uniform(0.2, 3.0, X.shape[0])
    ours, theirs = fit_both(head, X, y, solver="lbfgs", activation=activation, max_iter=1,
                            alpha=0.3)
    Y = (theirs._label_binarizer.transform(y) if head in ("binary", "multiclass",
                                                         "multilabel") else y)
    Y = np.asarray(Y, np.float64).reshape(X.shape[0], -1)
    point = np.random.default_rng(7).uniform(-0.5, 0.5, sum(
        c.size + i.size for c, i in zip(theirs.coefs_, theirs.intercepts_)))
    layer_units = [X.shape[1], 7, 4, Y.shape[1]]
    theirs._coef_indptr, theirs._intercept_indptr, start = [], [], 0
    for n_in, n_out in zip(layer_units[:-1], layer_units[1:]):
        theirs._coef_indptr.append((start, start + n_in * n_out, (n_in, n_out)))
        start += n_in * n_out
    for n_out in layer_units[1:]:
        theirs._intercept_indptr.append((start, start + n_out))
        start += n_out
    n_layers = len(layer_units)
    for sample_weight in (None, weights):
        expected_loss, expected_grad = theirs._loss_grad_lbfgs(
            point.copy(), X, Y, sample_weight, [X] + [None] * (n_layers - 1),
            [None] * (n_layers - 1), [np.empty(0)] * (n_layers - 1),
            [np.empty(0)] * (n_layers - 1))
        problem_ = ours._lbfgs_problem(X, Y, sample_weight)
        loss, grad = problem_(point)
        assert loss == pytest.approx(expected_loss, abs=1e-10)
        np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("head", ["binary", "multiclass", "regression"])
def test_lbfgs_fit_matches_sklearn(head):
    X, y = problem(head, seed=3)
    ours, theirs = fit_both(head, X, y, solver="lbfgs", activation="tanh", max_iter=15,
                            alpha=0.01)
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("head", ["poisson", "poisson_multioutput"])
def test_poisson_lbfgs_fit_matches_sklearn(head):
    X, y = problem(head, seed=4)
    ours, theirs = fit_both(head, X, y, solver="lbfgs", activation="relu", max_iter=15,
                            alpha=0.01)
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-10)
    assert (ours.predict(X) > 0).all()


def test_poisson_refuses_negative_targets_and_leaves_the_model():
    X, y = problem("poisson")
    model = fsk.MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=3,
                             random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    coefs = [c.copy() for c in model.coefs_]
    bad = y.astype(float)
    bad[3] = -1.0
    with pytest.raises(ValueError, match="non-negative.*poisson"):
        model.fit(X, bad)
    for before, after in zip(coefs, model.coefs_):
        np.testing.assert_array_equal(before, after)


def fit_both_weighted(head, X, y, sample_weight, **params):
    ours, theirs = pair(head, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y, sample_weight=sample_weight)
        theirs.fit(X, y, sample_weight=sample_weight)
    return ours, theirs


@pytest.mark.parametrize("head", ["binary", "multiclass", "multilabel", "regression",
                                  "multioutput", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "sgd_nesterov", "sgd_invscaling"])
def test_sample_weight_mini_batches_match_sklearn(solver, head):
    """Each mini-batch's loss, gradient and L2 term divided by its own weight sum, as
    scikit-learn: uneven weights, a shorter last batch, alpha > 0."""
    X, y = problem(head)
    weights = np.random.default_rng(11).uniform(0.0, 4.0, X.shape[0])
    assert X.shape[0] % 16
    ours, theirs = fit_both_weighted(head, X, y, weights, activation="tanh", alpha=0.3,
                                     **SOLVERS[solver])
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("head", ["multiclass", "regression", "multioutput"])
@pytest.mark.parametrize("solver", ["adam", "sgd_nesterov"])
def test_negative_sample_weights_in_mini_batches_match_sklearn(solver, head):
    X, y = problem(head, seed=5)
    weights = np.random.default_rng(12).uniform(-0.5, 3.0, X.shape[0])
    ours, theirs = fit_both_weighted(head, X, y, weights, activation="relu", alpha=0.1,
                                     **SOLVERS[solver])
    assert_same_fit(ours, theirs)


def test_weighted_multioutput_loss_in_one_batch_matches_sklearn():
    """The full batch (batch_size="auto" > n) has the mean weight by definition."""
    X, y = problem("multioutput")
    weights = np.arange(X.shape[0]) % 3 + 0.5
    ours, theirs = fit_both_weighted("multioutput", X, y, weights, batch_size="auto",
                                     hidden_layer_sizes=(3,), alpha=1e-4, max_iter=3)
    assert_same_fit(ours, theirs)


def test_partial_fit_with_changing_sample_weights_matches_sklearn():
    """scikit-learn's L2 term follows each call's weights: the kernel divides it by each
    batch's weight sum too."""
    X, y = problem("regression")
    ours, theirs = pair("regression", batch_size="auto", solver="adam",
                        learning_rate_init=0.01)
    weights = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0])
    for estimator in (ours, theirs):
        for sample_weight in (weights * 3.0, None, weights):
            estimator.partial_fit(X, y, sample_weight=sample_weight)
    assert_same_fit(ours, theirs)


def test_negative_sample_weights_with_lbfgs_match_sklearn():
    X, y = problem("multiclass", seed=3)
    weights = np.random.default_rng(4).uniform(-0.5, 2.0, X.shape[0])
    ours, theirs = fit_both_weighted("multiclass", X, y, weights, solver="lbfgs",
                                     activation="tanh", max_iter=10)
    assert_same_fit(ours, theirs)


def test_refused_where_sklearn_refuses_with_its_exception_type():
    """hidden_layer_sizes that are not integers: TypeError; a mini-batch (or lbfgs's
    full batch) whose weights sum to 0: scikit-learn's np.average ZeroDivisionError."""
    X, y = problem("multiclass")
    zero_first_batch = np.where(np.arange(X.shape[0]) < 16, 0.0, 1.0)
    opposite = np.where(np.arange(X.shape[0]) % 2, 1.0, -1.0)
    opposite[-1] = 0.0  # n is odd: the weights sum to exactly 0
    cases = [(TypeError, dict(hidden_layer_sizes=(3.5,)), None),
             (TypeError, dict(hidden_layer_sizes=(3.0, 2)), None),
             (ZeroDivisionError, dict(solver="adam"), zero_first_batch),
             (ZeroDivisionError, dict(solver="sgd", batch_size=20), zero_first_batch[::-1]),
             (ZeroDivisionError, dict(solver="lbfgs"), opposite)]
    for error, params, sample_weight in cases:
        for estimator in pair("multiclass", **params):
            with pytest.raises(error):
                estimator.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_one_matches_sklearn(nesterov):
    """scikit-learn's momentum range is [0, 1], closed."""
    X, y = problem("multiclass")
    ours, theirs = fit_both("multiclass", X, y, activation="tanh", solver="sgd",
                            momentum=1.0, nesterovs_momentum=nesterov,
                            learning_rate_init=0.01)
    assert_same_fit(ours, theirs)


def test_warm_start_keeps_the_fitted_network_when_hidden_layer_sizes_change():
    """As scikit-learn: a warm start trains the coefs_ it has (a new size applies at
    the next cold start); where scikit-learn crashes (another depth), the same."""
    X, y = problem("multiclass")
    ours, theirs = pair("multiclass", warm_start=True, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for estimator in (ours, theirs):
            estimator.fit(X, y)
            estimator.set_params(hidden_layer_sizes=(9, 2)).fit(X, y)
        assert_same_fit(ours, theirs)
        ours.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    assert [c.shape for c in ours.coefs_] == [(5, 7), (7, 4), (4, 3)]
    assert ours.n_layers_ == 4


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fitted_numbers_have_sklearns_types(solver):
    X, y = problem("multioutput")
    params = dict(solver=solver, max_iter=3)
    if solver == "adam":
        params.update(early_stopping=True, validation_fraction=0.3)
    ours, theirs = fit_both("multioutput", X, y, **params)
    for name in ("loss_", "best_loss_", "best_validation_score_"):
        assert type(getattr(ours, name, None)) is type(getattr(theirs, name, None)), name
    for name in ("loss_curve_", "validation_scores_"):
        assert [type(v) for v in getattr(ours, name, [])] == \
            [type(v) for v in getattr(theirs, name, [])], name


@pytest.mark.parametrize("head", ["regression", "multioutput", "multiclass"])
def test_validation_score_is_sklearns_score_bit_for_bit(head):
    """Early stopping's score is scikit-learn's ``_score`` (R^2 or accuracy of the
    predictions, targets shaped as scikit-learn shapes them): on fastann's predictions
    the same float, and from the same weights scikit-learn's to 1e-14 (the compiled
    products may sum in another order than NumPy's, a last-bit difference)."""
    X, y = problem(head)
    weights = np.random.default_rng(8).uniform(0.2, 3.0, X.shape[0])
    ours, theirs = fit_both(head, X, y, activation="relu", max_iter=2)
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [i.copy() for i in ours.intercepts_]
    target = y if head == "multiclass" else np.reshape(y, (X.shape[0], -1))
    predictions = ours.predict(X)
    score_function = accuracy_score if head == "multiclass" else r2_score
    for sample_weight in (None, weights):
        score = ours._score_arrays(X, target, sample_weight)
        assert score == score_function(target, predictions.reshape(target.shape),
                                       sample_weight=sample_weight)
        assert score == pytest.approx(theirs._score(X, target, sample_weight=sample_weight),
                                      rel=1e-14)


def test_sample_weight_early_stopping_matches_sklearn():
    X, y = problem("binary", n=120)
    weights = np.random.default_rng(12).uniform(0.1, 2.0, X.shape[0])
    ours, theirs = fit_both_weighted("binary", X, y, weights, solver="adam",
                                     learning_rate_init=0.01, alpha=0.0, early_stopping=True,
                                     n_iter_no_change=2, tol=0.5, max_iter=30)
    assert_same_fit(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
