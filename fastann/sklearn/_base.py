"""The shared body of ``MLPClassifier`` and ``MLPRegressor``: scikit-learn's parameters,
fitted attributes and stopping rules around a fastann ``Model``.

The estimator owns no math. Stochastic solvers train a fastann ``Model`` in chunks of
epochs (``Model.fit``), each chunk as long as the stopping rule allows: a rule that
counts epochs without improvement cannot stop before ``n_iter_no_change + 1 - count``
more epochs, so that is the chunk; early stopping scores the validation set after
every epoch, so its chunks are one epoch. ``solver="lbfgs"`` hands the compiled
full-batch objective (``fastann.kernels.objective``) to SciPy's L-BFGS-B.

How scikit-learn's objective maps onto fastann's losses (each row weighted by its
sample weight):

=================  ====================================  ==============================
output             scikit-learn                          fastann loss
=================  ====================================  ==============================
logistic           log-loss summed over output columns   binary_crossentropy, summed
softmax            categorical log-loss                  categorical_crossentropy
identity           mean of (y - p)**2 / 2 over outputs   half_squared_error
exp (poisson)      y log(y / p) - y + p, summed over     half Poisson deviance on the
                   output columns                        log-mean, summed
=================  ====================================  ==============================

("summed": hyper[OUTPUTS_SUMMED], a row's loss the sum over its outputs, not the mean.)

Each mini-batch's loss is divided by the sum of its sample weights, in the kernel
(Keras' "mean_with_sample_weight" reduction), so the output gradient is
scikit-learn's ``w (p - y) / batch_weight_sum``, shuffled or not. The L2 term
``alpha * W / batch_weight_sum`` (weights only) is ``fastann.regularizers.BatchMeanL2``
on every layer's kernel, its batch-mean term divided as the loss is; the lbfgs
objective computes it itself.

A call that raises leaves the estimator as it was: everything is checked before the
first attribute is set, and ``_Snapshot`` puts back what a failure after that changed.
"""
import copy
import dataclasses
import math
import numbers
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_array, validate_data

from .. import _blas_threads, losses, optimizers, schedules
from ..layers import Dense
from ..regularizers import BatchMeanL2
from ..layout import Workspace
from ..model import Model
from ..kernels import objective
from ..kernels import regularizers as regularizer_kernels
from ..kernels import train as train_kernels
from ..kernels import losses as loss_codes

# scikit-learn's activation names -> fastann's
ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's half Poisson deviance with its exp output, fused in one loss kernel
# (fastann's Keras "poisson" adds an epsilon inside the log, and no constant term)
HALF_POISSON_DEVIANCE = losses.Loss("half_poisson_deviance", loss_codes.HALF_POISSON_DEVIANCE,
                                    losses.regression_targets, "exponential", ())
# scikit-learn's squared loss: its value averages the outputs, its gradient sums them
HALF_SQUARED_ERROR = losses.Loss("half_squared_error", loss_codes.HALF_SQUARED_ERROR,
                                 losses.regression_targets, None, ())


def _scikit_learns(loss, outputs_summed):
    """``loss`` as scikit-learn's MLPs reduce it: each batch divided by its weight sum,
    a row's loss the sum over its outputs where ``outputs_summed``."""
    summed = ((loss_codes.OUTPUTS_SUMMED, 1.0),) if outputs_summed else ()
    return dataclasses.replace(loss, hyper=loss.hyper + summed).with_reduction(
        "mean_with_sample_weight")


# output activation -> (fastann's output activation, fastann's loss)
OUTPUTS = {
    "logistic": ("sigmoid", _scikit_learns(losses.get("binary_crossentropy"), True)),
    "softmax": ("softmax", _scikit_learns(losses.get("categorical_crossentropy"), False)),
    "identity": ("linear", _scikit_learns(HALF_SQUARED_ERROR, False)),
    "exp": ("exponential", _scikit_learns(HALF_POISSON_DEVIANCE, True)),
}
STOCHASTIC_SOLVERS = ("sgd", "adam")


class _ChunkRates(schedules.LearningRateSchedule):
    """The learning rate of each epoch of the next chunk, set by the estimator before
    the chunk: scikit-learn's invscaling rate depends on the samples seen so far
    (``t_``), which a schedule of the epoch alone cannot know."""

    def __init__(self):
        self.first_epoch = 0
        self.values = np.zeros(0)

    def rates(self, first_epoch, n_epochs):
        start = first_epoch - self.first_epoch
        return self.values[start:start + n_epochs]

    def __call__(self, epoch):
        return float(self.values[epoch - self.first_epoch])


def _checked_sample_weight(sample_weight, n_samples):
    """The sample weights as a float64 (n_samples,) array, refused as scikit-learn's
    validation refuses them (a scalar weighs every sample the same)."""
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sample_weight = check_array(sample_weight, accept_sparse=False, ensure_2d=False,
                                dtype=np.float64, order="C", input_name="sample_weight")
    if sample_weight.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got "
                         f"{sample_weight.ndim}D array. Expected either a scalar value or a "
                         f"1D array of length {n_samples}.")
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected "
                         f"{(n_samples,)}!")
    if not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


class _Snapshot:
    """What a fit or partial_fit may change, taken before it starts: the attributes
    (the lists training appends to, copied), the Model's training state and the
    position of a ``RandomState`` given as ``random_state``. ``restore`` puts them
    back, so that a call that raises leaves the estimator as it was."""

    APPENDED = ("loss_curve_", "validation_scores_")

    def __init__(self, estimator):
        self.attributes = dict(vars(estimator))
        self.lists = {name: list(self.attributes[name]) for name in self.APPENDED
                      if isinstance(self.attributes.get(name), list)}
        model = self.attributes.get("_model")
        self.training_state = None if model is None else model.get_training_state()
        rng = estimator.random_state
        self.rng_state = rng.get_state() if isinstance(rng, np.random.RandomState) else None

    def restore(self, estimator):
        vars(estimator).clear()
        vars(estimator).update(self.attributes)
        for name, values in self.lists.items():
            self.attributes[name][:] = values  # the same list objects, as before
        if self.training_state is not None:
            self.attributes["_model"].set_training_state(self.training_state)
        if self.rng_state is not None:
            estimator.random_state.set_state(self.rng_state)


def _penalty_of(model):
    """The BatchMeanL2 coefficient of the Model's kernels (0: none)."""
    regularizer = model.layers[-1].kernel_regularizer
    return 0.0 if regularizer is None else regularizer.alpha


class BaseMLP(BaseEstimator):
    """scikit-learn's ``BaseMultilayerPerceptron`` on fastann's compiled trainer."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None,
                                                      closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None,
                                                      closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [None, StrOptions({"float32", "float64"})],
    }

    # ------------------------------------------------------------ sklearn API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y (n_samples,) or
        (n_samples, n_outputs), starting over unless ``warm_start``.

        Parameters
        ----------
        X : array-like or sparse matrix, (n_samples, n_features)
            Sparse input is converted to a dense array.
        y : array-like, (n_samples,) or (n_samples, n_outputs)
            Class labels (classifier) or values (regressor).
        sample_weight : array-like, (n_samples,), optional
            Per-sample weights (negative ones too, as scikit-learn takes them).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        """The pickle holds arrays and plain objects, not the fastann Model: its optimizer,
        training state and L2 coefficient (``_resume``) rebuild it on first use
        (``_engine``), so an unpickled estimator's partial_fit continues exactly as the
        original's, and it unpickles writable, also from a read-only memory map."""
        state = dict(super().__getstate__())  # a copy: Python 3.11's is the live __dict__
        model = state.pop("_model", None)
        if model is not None and model.optimizer is not None:
            state["_resume"] = (model.optimizer, model.get_training_state(),
                                _penalty_of(model))
        return state

    # --------------------------------------------------------------- fitting
    def _hidden_layer_sizes(self):
        """``hidden_layer_sizes`` as a list of ints, refused as scikit-learn refuses it: a
        size <= 0 is a ValueError, one that is not an integer (3.5, 3.0, True) a
        TypeError."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        for size in sizes:
            if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
                raise TypeError(f"hidden_layer_sizes must hold integers, got {sizes}: "
                                f"'{type(size).__name__}' object cannot be interpreted as "
                                "an integer")
        return [int(size) for size in sizes]

    def _sample_weight(self, sample_weight, X, y):
        """The sample weights as a float64 (n_samples,) array (or None), checked as
        scikit-learn checks them; the classifier multiplies in ``class_weight``."""
        if sample_weight is None:
            return None
        return _checked_sample_weight(sample_weight, X.shape[0])

    def _fit(self, X, y, sample_weight, incremental, binarizer=None):
        """fit and partial_fit, all or nothing: a call that raises (refused input, a
        diverged solver, Ctrl-C in lbfgs) leaves the estimator as it was.
        ``binarizer``: the classifier's LabelBinarizer for a first partial_fit."""
        snapshot = _Snapshot(self)
        try:
            self._validate_and_train(X, y, sample_weight, incremental, binarizer)
        except BaseException:
            snapshot.restore(self)
            raise
        return self

    def _validate_and_train(self, X, y, sample_weight, incremental, binarizer):
        if self.solver not in STOCHASTIC_SOLVERS and incremental:
            raise AttributeError("partial_fit is only available for stochastic optimizers")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        hidden_layer_sizes = self._hidden_layer_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        # validate_data sets n_features_in_ (and feature_names_in_) on a first pass: the
        # one change before the last check, put back by _fit's snapshot if one fails
        X, Y, y, fitted_labels = self._validate_input(X, y, incremental, first_pass,
                                                      binarizer)
        if scipy.sparse.issparse(X):
            X = X.toarray()
        sample_weight = self._sample_weight(sample_weight, X, y)
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the estimator was fitted with "
                             f"{self.n_outputs_}; fit again with warm_start=False")
        # the rows train_test_split(test_size=validation_fraction) holds out
        if self.early_stopping and self.solver in STOCHASTIC_SOLVERS and \
                math.ceil(self.validation_fraction * X.shape[0]) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
        if first_pass:
            layer_units = [X.shape[1]] + hidden_layer_sizes + [Y.shape[1]]
        else:  # a warm start continues the fitted network (scikit-learn keeps coefs_)
            layer_units = [X.shape[1]] + [c.shape[1] for c in self.coefs_]
            dtype = self.coefs_[0].dtype  # and its precision
        X = np.array(X, dtype=dtype, order="C")  # writable: one compiled variant

        for name, value in fitted_labels.items():
            setattr(self, name, value)
        self.n_outputs_ = Y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, dtype)
        # the BLAS thread budget of this process: a joblib (loky) or Dask worker
        # starts with cores // workers, and fastann's policy never goes above it
        self.blas_threads_ = _blas_thread_budget()
        if self.solver in STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, Y, sample_weight, incremental, layer_units)
        else:
            with _blas_threads.for_training(layer_units, None, X.shape[0]):
                self._fit_lbfgs(X, Y, sample_weight)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")

    def _initialize(self, layer_units, dtype):
        """scikit-learn's ``_initialize``: counters, the output activation and the
        initial weights drawn by its ``_init_coef`` from ``random_state``."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))
        self._set_engine(None)
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _new_model(self, layer_units, dtype, seed, penalty=0.0, optimizer=None, state=None):
        """A Model of scikit-learn's architecture holding ``coefs_``/``intercepts_``;
        ``penalty``: the BatchMeanL2 coefficient of every kernel (0: none). Given an
        ``optimizer`` and a training ``state`` (another engine's), it continues them."""
        hidden = ACTIVATIONS[self.activation]
        output = OUTPUTS[self.out_activation_][0]
        regularizer = BatchMeanL2(penalty) if penalty > 0 else None
        layers = [Dense(units, activation=hidden, kernel_regularizer=regularizer)
                  for units in layer_units[1:-1]]
        layers.append(Dense(layer_units[-1], activation=output,
                            kernel_regularizer=regularizer))
        model = Model(layers, input_dim=layer_units[0], dtype=np.dtype(dtype).name, seed=seed)
        if optimizer is not None:
            self._compile(model, optimizer)
            model.set_training_state(state)
        self._load_weights(model)
        return model

    def _load_weights(self, model):
        weights = []
        for coef, intercept in zip(self.coefs_, self.intercepts_):
            weights += [coef, intercept]
        model.set_weights(weights)

    def _store_weights(self, model):
        weights = model.get_weights()
        self.coefs_ = weights[0::2]
        self.intercepts_ = weights[1::2]

    def _set_engine(self, model):
        """Make ``model`` the engine (None: none yet); a pending ``_resume`` is spent."""
        self._model = model
        vars(self).pop("_resume", None)

    def _engine(self):
        """The fastann Model holding the fitted weights (after unpickling, rebuilt with
        the optimizer and training state the pickle carried)."""
        model = getattr(self, "_model", None)
        if model is None:
            layer_units = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
            optimizer, state, penalty = vars(self).get("_resume", (None, None, 0.0))
            model = self._new_model(layer_units, self.coefs_[0].dtype, 0, penalty,
                                    optimizer, state)
            self._set_engine(model)
        return model

    def _training_engine(self, layer_units, dtype, penalty, incremental):
        """The Model this call trains. fit (and partial_fit after lbfgs) starts a fresh
        optimizer, as scikit-learn makes one; partial_fit continues the engine's optimizer
        and state, moved to a model with this call's L2 coefficient when ``alpha`` has
        changed since (``set_params``)."""
        model = self._engine() if incremental else None
        if model is None or model.optimizer is None:
            seed = int(self._random_state.randint(np.iinfo(np.int32).max))
            model = self._new_model(layer_units, dtype, seed, penalty)
            self._compile(model)
        elif _penalty_of(model) != penalty:
            model = self._new_model(layer_units, dtype, 0, penalty, model.optimizer,
                                    model.get_training_state())
        else:
            self._load_weights(model)
        self._set_engine(model)
        return model

    def _row_weights(self, sample_weight, n_samples, dtype, batch_size=None):
        """The sample weights in ``dtype`` (ones for None), as fastann's loss kernels
        take them, and their sum.

        The kernels divide each batch's loss by its weight sum, as scikit-learn does;
        where scikit-learn's ``np.average`` would raise ZeroDivisionError on reaching a
        batch that weighs 0, this refuses it before training: each unshuffled
        mini-batch (``batch_size`` given) and lbfgs's full batch. Shuffled batches are
        drawn inside the kernel, and one that weighs 0 contributes nothing (Keras'
        ``divide_no_nan``)."""
        if sample_weight is None:
            return np.ones(n_samples, dtype), float(n_samples)
        step = n_samples if batch_size is None else batch_size
        if batch_size is None or not self.shuffle or batch_size >= n_samples:
            for start in range(0, n_samples, step):
                if sample_weight[start:start + step].sum() == 0:
                    divided = "each mini-batch's" if batch_size is not None else "the"
                    raise ZeroDivisionError(
                        f"Weights sum to zero, can't be normalized: the sample weights of "
                        f"training rows {start}..{min(start + step, n_samples) - 1} sum to "
                        f"0, and scikit-learn divides {divided} loss by its weight sum.")
        return sample_weight.astype(dtype), float(sample_weight.sum())

    def _fit_stochastic(self, X, Y, sample_weight, incremental, layer_units):
        dtype = X.dtype
        if self.early_stopping:
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = parts[:4]
            weight_train, weight_val = parts[4:] if sample_weight is not None else (None,
                                                                                    None)
            y_val = self._decode(Y_val)
        else:
            X_train, Y_train, weight_train = X, Y, sample_weight
            X_val = y_val = weight_val = None
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It "
                              "is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        weight, _ = self._row_weights(weight_train, n_samples, dtype, batch_size)
        Y_train = np.ascontiguousarray(Y_train, dtype=dtype)
        model = self._training_engine(layer_units, dtype, self.alpha, incremental)
        self.n_iter_ = 0
        stop = False
        try:
            while not stop:
                remaining = self.max_iter - self.n_iter_
                if incremental or self.early_stopping:
                    chunk = 1
                elif np.isinf(self.n_iter_no_change):
                    chunk = remaining
                else:
                    chunk = min(remaining, int(self.n_iter_no_change) + 1
                                - self._no_improvement_count)
                self._set_rates(model, chunk, n_samples)
                try:
                    history = model.fit(X_train, Y_train, epochs=chunk, batch_size=batch_size,
                                        verbose=0, shuffle=bool(self.shuffle),
                                        sample_weight=weight)
                except FloatingPointError:
                    raise ValueError("Solver produced non-finite parameter weights. The input "
                                     "data may contain large values and need to be "
                                     "preprocessed.") from None
                for epoch_loss in np.asarray(history.history["loss"], np.float64):
                    stop = self._end_epoch(epoch_loss, n_samples, model, X_val, y_val,
                                           weight_val)
                    if stop:
                        break
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    if not stop:
                        warnings.warn(f"Stochastic Optimizer: Maximum iterations "
                                      f"({self.max_iter}) reached and the optimization "
                                      "hasn't converged yet.", ConvergenceWarning)
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        self._store_weights(model)
        if self.early_stopping:
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts
            self._load_weights(model)

    def _compile(self, model, optimizer=None):
        """Compile with a copy of ``optimizer`` (it attaches to one model's counters) or
        a fresh one, as scikit-learn makes one per ``fit``."""
        if optimizer is None:
            optimizer = self._new_optimizer()
            self._learning_rate = float(self.learning_rate_init)
        else:
            optimizer = copy.copy(optimizer)
        model.compile(optimizer=optimizer, loss=OUTPUTS[self.out_activation_][1])

    def _new_optimizer(self):
        if self.solver == "adam":
            return optimizers.Adam(lr=self.learning_rate_init, beta_1=self.beta_1,
                                   beta_2=self.beta_2, epsilon=self.epsilon)
        return optimizers.SGD(lr=self.learning_rate_init, momentum=float(self.momentum),
                              nesterov=bool(self.nesterovs_momentum))

    def _set_rates(self, model, chunk, n_samples):
        """The next chunk's per-epoch learning rates (scikit-learn updates the rate at
        the end of each epoch from the samples seen, ``t_``)."""
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            rates = _ChunkRates()
            rates.first_epoch = model.epochs_trained
            t = self.t_ + n_samples * np.arange(chunk)
            rates.values = self.learning_rate_init / (t + 1.0) ** self.power_t
            rates.values[0] = self._learning_rate
            model.optimizer.lr = rates
        else:
            model.optimizer.lr = self._learning_rate

    def _end_epoch(self, loss, n_samples, model, X_val, y_val, weight_val):
        """scikit-learn's bookkeeping after one epoch (``loss``: np.float64, as
        scikit-learn's); True when training stops."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n_samples
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if self.early_stopping:
            self._store_weights(model)
            score = self._score_arrays(X_val, y_val, weight_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = loss
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._learning_rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
            if self.solver != "sgd" or self.learning_rate != "adaptive":
                if self.verbose:
                    print(message + " Stopping.")
                return True
            if self._learning_rate <= 1e-6:
                if self.verbose:
                    print(message + " Learning rate too small. Stopping.")
                return True
            self._learning_rate /= 5.0
            if self.verbose:
                print(message + f" Setting learning rate to {self._learning_rate:f}")
            self._no_improvement_count = 0
        return False

    def _lbfgs_problem(self, X, Y, sample_weight):
        """The objective of the packed parameters over (X, Y) (a ``LossAndGradient``);
        also makes the engine the result is loaded into."""
        layer_units = [X.shape[1]] + [c.shape[1] for c in self.coefs_]
        self._set_engine(self._new_model(layer_units, X.dtype, seed=0))
        weight, weight_sum = self._row_weights(sample_weight, X.shape[0], X.dtype)
        loss = OUTPUTS[self.out_activation_][1]
        return LossAndGradient(self._model, loss, X, Y, weight, weight_sum, self.alpha)

    def _fit_lbfgs(self, X, Y, sample_weight):
        problem = self._lbfgs_problem(X, Y, sample_weight)
        model = self._model
        result = scipy.optimize.minimize(
            problem, problem.pack(self.coefs_, self.intercepts_), method="L-BFGS-B",
            jac=True, options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                               "gtol": self.tol})
        self.n_iter_ = min(result.nit, self.max_iter)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += (f"\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        self.loss_ = np.float64(result.fun)
        problem.unpack_into(model, result.x)
        self._store_weights(model)

    # ------------------------------------------------------------- inference
    def _forward(self, X, check_input=True):
        """The network's outputs (n_samples, n_outputs) in the fitted dtype."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        if scipy.sparse.issparse(X):
            X = X.toarray()
        X = np.array(X, dtype=self.coefs_[0].dtype, order="C")
        return self._engine().predict_proba(X)

    def _score_arrays(self, X, y, sample_weight):
        """scikit-learn's ``_score`` on already validated arrays (early stopping's
        validation set): its score function on the predictions, NaN when they are not
        finite."""
        outputs = self._engine().predict_proba(X)
        if not np.isfinite(outputs).all():
            return np.nan
        return self._score_function(y, self._from_outputs(outputs),
                                    sample_weight=sample_weight)


class LossAndGradient:
    """scikit-learn's ``_loss_grad_lbfgs`` as one compiled kernel call: the objective of
    the packed vector (every ``coefs_`` flattened, then every ``intercepts_``) and its
    gradient in the same packing.

    Parameters
    ----------
    model : fastann.Model
        Its layout, activations and dtype; its weights are not touched.
    loss : fastann.losses.Loss
        The fastann loss (its kernel code and parameters).
    X : ndarray (n_samples, n_features), Y : ndarray (n_samples, n_outputs)
    weight : ndarray (n_samples,)
        Per-row weights for the loss kernel (see ``BaseMLP._row_weights``).
    weight_sum : float
        The sum of the sample weights (n_samples when unweighted).
    alpha : float
    """

    def __init__(self, model, loss, X, Y, weight, weight_sum, alpha):
        self.layout = model.layout
        self.dtype = model.dtype
        self.dataset = train_kernels.Dataset(X, np.ascontiguousarray(Y, dtype=self.dtype),
                                             weight)
        self.objective = train_kernels.Objective(loss.code, loss.hyper_vector(self.dtype),
                                                 np.zeros(0, np.int64))
        slopes = np.array([layer.negative_slope for layer in model.layers], self.dtype)
        no_penalty = np.zeros((self.layout.table.shape[0],  # the objective adds its L2
                               regularizer_kernels.N_COEFFICIENTS), self.dtype)
        self.network = train_kernels.Network(self.layout.table, slopes, no_penalty)
        self.features = train_kernels.features(self.network, self.objective)
        workspace = Workspace(self.layout, X.shape[0], self.dtype)
        self.scratch = workspace.kernel_scratch(workspace.order)
        self.params = np.zeros(self.layout.n_params, self.dtype)
        self.grads = workspace.grads
        self.scalars = tuple(self.dtype.type(v) for v in (alpha, weight_sum))
        # sklearn's packing as indices into fastann's flat layer-by-layer layout
        index = np.arange(self.layout.n_params)
        views = self.layout.views(index)
        self.order = np.concatenate([v.ravel() for v in views[0::2] + views[1::2]])

    def pack(self, coefs, intercepts):
        return np.concatenate([np.ravel(a) for a in list(coefs) + list(intercepts)])

    def __call__(self, packed):
        self.params[self.order] = packed
        alpha, weight_sum = self.scalars
        loss = objective.loss_and_gradient(self.scratch, self.dataset, self.params,
                                           self.network, self.features, self.objective,
                                           alpha, weight_sum)
        return float(loss), self.grads[self.order].astype(np.float64)

    def unpack_into(self, model, packed):
        self.params[self.order] = packed
        model.set_weights(self.layout.views(self.params))


def _blas_thread_budget():
    """The most BLAS threads a fit here may use (fastann's thread policy never raises
    the limit it finds), or None without threadpoolctl."""
    controller = _blas_threads._blas_controller()
    if controller is None or not controller.lib_controllers:
        return None
    return min(lib.num_threads for lib in controller.lib_controllers)
