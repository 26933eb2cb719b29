"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's parameters, defaults and
fitted attributes, trained by fastann (see ``fastann.sklearn._base``)."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._base import BaseMLP

_DOC_PARAMETERS = """
    Parameters
    ----------
    Every parameter of scikit-learn 1.9's estimator of the same name, with the same
    default and meaning (``hidden_layer_sizes=(100,)``, ``activation="relu"``,
    ``solver="adam"``, ``alpha=1e-4``, ``batch_size="auto"``, ``learning_rate``,
    ``learning_rate_init=1e-3``, ``power_t``, ``max_iter=200``, ``shuffle``,
    ``random_state``, ``tol=1e-4``, ``verbose``, ``warm_start``, ``momentum=0.9``,
    ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction=0.1``, ``beta_1``,
    ``beta_2``, ``epsilon=1e-8``, ``n_iter_no_change=10``, ``max_fun=15000``), and:

    dtype : {None, "float32", "float64"}, default None
        Precision of the weights and of every kernel. None follows X, as scikit-learn
        does: float32 input trains in float32, anything else in float64.
"""


def _shared_init(self, params):
    for name, value in params.items():
        setattr(self, name, value)


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` on
    fastann's compiled trainer.

    Binary and multi-label targets use a logistic output layer (one column per label),
    multi-class targets a softmax one; labels may be any values ``LabelBinarizer``
    takes (strings included).
    """ + _DOC_PARAMETERS + """
    class_weight : dict, "balanced" or None, default None
        Multiplies each sample's weight by its class's weight (as
        ``sklearn.utils.class_weight.compute_sample_weight``).

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_,
    best_validation_score_, t_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As scikit-learn's (``coefs_[i]`` is (n_in, n_out), ``intercepts_[i]`` (n_out,)).
    blas_threads_ : int or None
        The most BLAS threads the last fit could use: the limit of the process it ran
        in (a joblib or Dask worker gets cores // workers), never raised by fastann.
    """

    _parameter_constraints = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype=None, class_weight=None):
        _shared_init(self, {k: v for k, v in locals().items() if k != "self"})

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset, binarizer=None):
        """X and y checked as scikit-learn checks them, y encoded as Y (n_samples,
        n_outputs) bool, and the label attributes to set once every check has passed
        (nothing is set here). ``binarizer``: the first partial_fit's."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        binarizer = self._checked_binarizer(y, incremental, binarizer)
        Y = binarizer.transform(y).astype(bool)
        labels = {"_label_binarizer": binarizer, "classes_": binarizer.classes_}
        return X, Y.reshape(Y.shape[0], -1), y, labels

    def _checked_binarizer(self, y, incremental, first_partial):
        """The fitted LabelBinarizer this call encodes y with, by scikit-learn's rules: a
        new one for a fit that starts over; else the estimator's (or ``first_partial``,
        fitted on partial_fit's ``classes``) once y's labels are checked against it."""
        starts_over = not hasattr(self, "classes_") or (not self.warm_start and
                                                        not incremental)
        if first_partial is None and starts_over:
            return LabelBinarizer().fit(y)
        binarizer = self._label_binarizer if first_partial is None else first_partial
        classes = unique_labels(y)
        if self.warm_start:
            if set(classes) != set(binarizer.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {binarizer.classes_}, `y` has "
                    f"{classes}")
        elif len(np.setdiff1d(classes, binarizer.classes_, assume_unique=True)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                             f"has {binarizer.classes_}. 'y' has {classes}.")
        return binarizer

    def _sample_weight(self, sample_weight, X, y):
        sample_weight = super()._sample_weight(sample_weight, X, y)
        if self.class_weight is None:
            return sample_weight
        class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if sample_weight is None else class_weights * sample_weight

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y[:, 0] if Y.shape[1] == 1 else Y)

    def _from_outputs(self, outputs):
        return self._label_binarizer.inverse_transform(
            outputs.ravel() if self.n_outputs_ == 1 else outputs)

    def _score_function(self, y, y_pred, sample_weight=None):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Class labels, (n_samples,), or an indicator matrix (n_samples, n_classes)
        for multi-label targets."""
        check_is_fitted(self)
        return self._from_outputs(self._forward(X))

    def predict_proba(self, X):
        """Probabilities (n_samples, n_classes) in the order of ``classes_``: two columns
        for a binary problem, as scikit-learn."""
        check_is_fitted(self)
        outputs = self._forward(X)
        if self.n_outputs_ == 1:
            positive = outputs.ravel()
            return np.vstack([1 - positive, positive]).T
        return outputs

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, (n_samples, n_classes)."""
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer.

        Parameters
        ----------
        X : array-like, (n_samples, n_features)
        y : array-like, (n_samples,)
        sample_weight : array-like, (n_samples,), optional
        classes : array, (n_classes,)
            Every class of all the calls; required on the first call.

        Returns
        -------
        self
        """
        first_partial = None  # fitted here, set on the estimator only if the call succeeds
        if getattr(self, "classes_", None) is None:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            first_partial = LabelBinarizer().fit(
                y if type_of_target(y).startswith("multilabel") else classes)
        elif classes is not None:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                                 f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True, binarizer=first_partial)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` on
    fastann's compiled trainer (identity output, half squared error; multi-output y
    trains one output unit per column).
    """ + _DOC_PARAMETERS + """
    loss : {"squared_error", "poisson"}, default "squared_error"
        As scikit-learn's: half the squared error with an identity output, or half the
        Poisson deviance with an exponential output (``out_activation_ = "exp"``; y
        must be non-negative).

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_,
    coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_,
    n_outputs_, out_activation_
        As scikit-learn's.
    blas_threads_ : int or None
        As the classifier's.
    """

    _parameter_constraints = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype=None):
        _shared_init(self, {k: v for k, v in locals().items() if k != "self"})

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset, binarizer=None):
        """X and y checked as scikit-learn checks them, and y as Y (n_samples,
        n_outputs); a regressor sets no label attributes."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(f"y must be non-negative for loss='poisson' (the Poisson "
                             f"deviance is defined for counts and rates); got the value "
                             f"{y.min()!r}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(y.shape[0], -1), y, {}

    def _decode(self, Y):
        return Y  # scikit-learn scores the validation targets as (n_samples, n_outputs)

    def _from_outputs(self, outputs):
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def _score_function(self, y, y_pred, sample_weight=None):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values, (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._from_outputs(self._forward(X))

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and optimizer.

        Parameters
        ----------
        X : array-like, (n_samples, n_features)
        y : array-like, (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like, (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
