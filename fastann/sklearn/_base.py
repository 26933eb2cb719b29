"""The shared body of ``MLPClassifier`` and ``MLPRegressor``: scikit-learn's parameters,
fitted attributes and stopping rules around a fastann ``Model``.

The estimator owns no math. Stochastic solvers train a fastann ``Model`` in chunks of
epochs (``Model.fit``), each chunk as long as the stopping rule allows: a rule that
counts epochs without improvement cannot stop before ``n_iter_no_change + 1 - count``
more epochs, so that is the chunk; early stopping scores the validation set after
every epoch, so its chunks are one epoch. ``solver="lbfgs"`` hands the compiled
full-batch objective (``fastann.kernels.objective``) to SciPy's L-BFGS-B.

How scikit-learn's objective maps onto fastann's losses (per-row weights ``w``, scaled
to mean 1 in each unshuffled mini-batch, else over the training rows; see
``BaseMLP._row_weights``):

=================  ====================================  ==============================
output             scikit-learn                          fastann loss, row weight
=================  ====================================  ==============================
logistic           sum over output columns, mean rows    binary_crossentropy, w * n_out
softmax            categorical log-loss, mean rows       categorical_crossentropy, w
identity           mean of (y - p)**2 / 2 over elements  mean_squared_error, w * n_out/2
exp (poisson)      y log(y / p) - y + p, summed over     half Poisson deviance on the
                   output columns, mean rows             log-mean, w * n_out
=================  ====================================  ==============================

With those weights the output gradient is scikit-learn's ``(p - y) / batch_rows``; the
squared error's reported data term is rescaled by ``1 / n_out``. The L2 term
``alpha * W / batch_rows`` (weights only) is ``fastann.regularizers.BatchMeanL2`` on
every layer's kernel in the stochastic solvers; the lbfgs objective computes it itself.
"""
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
from ..kernels import losses as loss_codes

# scikit-learn's activation names -> fastann's
ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's half Poisson deviance with its exp output, fused in one loss kernel
# (fastann's Keras "poisson" adds an epsilon inside the log, and no constant term)
HALF_POISSON_DEVIANCE = losses.Loss("half_poisson_deviance", loss_codes.HALF_POISSON_DEVIANCE,
                                    losses.regression_targets, "exponential", ())
# output activation -> (fastann's output activation, fastann's loss, row-weight factor
# as a function of n_outputs)
OUTPUTS = {
    "logistic": ("sigmoid", losses.get("binary_crossentropy"),
                 lambda n_outputs: float(n_outputs)),
    "softmax": ("softmax", losses.get("categorical_crossentropy"), lambda n_outputs: 1.0),
    "identity": ("linear", losses.get("mean_squared_error"),
                 lambda n_outputs: n_outputs / 2.0),
    "exp": ("exponential", HALF_POISSON_DEVIANCE, lambda n_outputs: float(n_outputs)),
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
        # fastann's SGD takes momentum < 1 (a momentum of 1 never forgets a gradient)
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
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
        # The Model is a training engine rebuilt from coefs_/intercepts_ when needed,
        # so a pickle holds plain arrays only (and unpickles writable, also from a
        # read-only memory map). partial_fit after unpickling restarts the optimizer's
        # moments.
        state = super().__getstate__()
        state.pop("_model", None)
        return state

    # --------------------------------------------------------------- fitting
    def _layer_units(self, n_features):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [n_features] + [int(s) for s in sizes] + [self.n_outputs_]

    def _fit(self, X, y, sample_weight, incremental):
        if self.solver not in STOCHASTIC_SOLVERS and incremental:
            raise AttributeError("partial_fit is only available for stochastic optimizers")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if scipy.sparse.issparse(X):
            X = X.toarray()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the estimator was fitted with "
                             f"{self.n_outputs_}; fit again with warm_start=False")
        dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
        if not first_pass and self.coefs_[0].dtype != dtype:
            dtype = self.coefs_[0].dtype  # a warm start keeps the fitted precision
        X = np.array(X, dtype=dtype, order="C")  # writable: one compiled variant
        self.n_outputs_ = Y.shape[1]
        layer_units = self._layer_units(X.shape[1])
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, dtype)
        # the BLAS thread budget of this process: a joblib (loky) or Dask worker
        # starts with cores // workers, and fastann's policy never goes above it
        self.blas_threads_ = _blas_thread_budget()
        if self.solver in STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, Y, sample_weight, incremental)
        else:
            with _blas_threads.for_training(layer_units, None, X.shape[0]):
                self._fit_lbfgs(X, Y, sample_weight)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _initialize(self, Y, layer_units, dtype):
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
        self._model = None
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

    def _new_model(self, layer_units, dtype, seed, alpha=0.0):
        """A Model of scikit-learn's architecture holding ``coefs_``/``intercepts_``;
        ``alpha``: the BatchMeanL2 coefficient of every kernel (0: none)."""
        hidden = ACTIVATIONS[self.activation]
        output = OUTPUTS[self.out_activation_][0]
        penalty = BatchMeanL2(alpha) if alpha > 0 else None
        layers = [Dense(units, activation=hidden, kernel_regularizer=penalty)
                  for units in layer_units[1:-1]]
        layers.append(Dense(layer_units[-1], activation=output, kernel_regularizer=penalty))
        model = Model(layers, input_dim=layer_units[0], dtype=np.dtype(dtype).name, seed=seed)
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

    def _engine(self):
        """The fastann Model holding the fitted weights (rebuilt after unpickling)."""
        model = getattr(self, "_model", None)
        if model is None:
            layer_units = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
            model = self._new_model(layer_units, self.coefs_[0].dtype, seed=0)
            self._model = model
        return model

    def _row_weights(self, sample_weight, n_samples, dtype, batch_size=None):
        """Per-row weights for fastann's loss (see the module docstring) and the sum of
        the sample weights. ``batch_size`` (the stochastic solvers, whose kernels
        divide a batch's loss by its rows where scikit-learn divides by its weight
        sum): each unshuffled batch's weights scaled to mean 1, which gives
        scikit-learn's data term exactly; shuffled batches are drawn inside the kernel,
        so then the weights are scaled to mean 1 over all rows."""
        if sample_weight is None:
            weight, total = np.ones(n_samples, dtype), float(n_samples)
        else:
            total = float(sample_weight.sum())
            weight = sample_weight.astype(np.float64)
            if batch_size is not None and not self.shuffle:
                for start in range(0, n_samples, batch_size):
                    batch = weight[start:start + batch_size]
                    batch_sum = batch.sum()
                    batch *= batch.size / batch_sum if batch_sum > 0 else 0.0
            elif batch_size is not None:
                weight = weight * (n_samples / total)
            weight = weight.astype(dtype)
        factor = OUTPUTS[self.out_activation_][2](self.n_outputs_)
        return weight * dtype.type(factor), total

    def _loss_scale(self):
        return 1.0 / self.n_outputs_ if self.out_activation_ == "identity" else 1.0

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        dtype = X.dtype
        layer_units = self._layer_units(X.shape[1])
        if self.early_stopping:
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = parts[:4]
            weight_train, weight_val = parts[4:] if sample_weight is not None else (None,
                                                                                    None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
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
        weight, weight_total = self._row_weights(weight_train, n_samples, dtype, batch_size)
        Y_train = np.ascontiguousarray(Y_train, dtype=dtype)

        # scikit-learn divides the L2 gradient by the batch's weight sum, the
        # regularizer by its rows: the same for unit weights and for the full batch;
        # with other weights, exact where a batch's mean weight is the overall mean
        alpha = self.alpha * n_samples / weight_total
        model = getattr(self, "_model", None)
        # fit starts a fresh optimizer (as scikit-learn); partial_fit continues one
        fresh = (not incremental or model is None or model.optimizer is None
                 or model.input_dim != X.shape[1])
        if fresh:
            seed = int(self._random_state.randint(np.iinfo(np.int32).max))
            model = self._new_model(layer_units, dtype, seed, alpha)
            self._compile(model)
        else:
            self._load_weights(model)
            alpha = model.layers[0].kernel_regularizer.alpha if self.alpha > 0 else 0.0
        self._model = model

        self.n_iter_ = 0
        # fastann's loss L holds the data term D and the penalty; scikit-learn's
        # squared error reports D / n_out instead of D. Unweighted, D is n_out / 2
        # times the "mse" metric, so scikit-learn's loss is L - (n_out - 1) / 2 * mse
        # (with sample weights the metric is unweighted: approximate when alpha > 0)
        loss_scale = self._loss_scale()
        mse_factor = (self.n_outputs_ - 1) / 2.0 if "mse" in model.metrics_names else 0.0
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
                    self._store_weights(model)
                    raise ValueError("Solver produced non-finite parameter weights. The input "
                                     "data may contain large values and need to be "
                                     "preprocessed.") from None
                losses = np.asarray(history.history["loss"], np.float64)
                if mse_factor and alpha > 0:
                    losses = losses - mse_factor * np.asarray(history.history["mse"])
                else:
                    losses = losses * loss_scale
                for epoch_loss in losses:
                    stop = self._end_epoch(float(epoch_loss), n_samples, model, X_val, y_val,
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

    def _compile(self, model):
        """A fresh optimizer, as scikit-learn makes one per ``fit``."""
        if self.solver == "adam":
            optimizer = optimizers.Adam(lr=self.learning_rate_init, beta_1=self.beta_1,
                                        beta_2=self.beta_2, epsilon=self.epsilon)
        else:
            optimizer = optimizers.SGD(lr=self.learning_rate_init, momentum=self.momentum,
                                       nesterov=bool(self.nesterovs_momentum))
        loss = OUTPUTS[self.out_activation_][1]
        several = self.out_activation_ == "identity" and self.n_outputs_ > 1
        model.compile(optimizer=optimizer, loss=loss, metrics=["mse"] if several else [])
        self._learning_rate = float(self.learning_rate_init)

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
        """scikit-learn's bookkeeping after one epoch; True when training stops."""
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
        also builds the Model the result is loaded into."""
        layer_units = [X.shape[1]] + [c.shape[1] for c in self.coefs_]
        self._model = self._new_model(layer_units, X.dtype, seed=0)
        weight, weight_sum = self._row_weights(sample_weight, X.shape[0], X.dtype)
        loss = OUTPUTS[self.out_activation_][1]
        return LossAndGradient(self._model, loss, X, Y, weight, weight_sum, self.alpha,
                               self._loss_scale())

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
        self.loss_ = float(result.fun)
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
        """The score on already validated arrays (early stopping's validation set);
        NaN when the outputs are not finite, as scikit-learn."""
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
    loss_scale : float
        1 for the cross-entropies, 1 / n_outputs for the squared error.
    """

    def __init__(self, model, loss, X, Y, weight, weight_sum, alpha, loss_scale):
        self.layout = model.layout
        self.dtype = model.dtype
        self.X, self.weight = X, weight
        self.Y = np.ascontiguousarray(Y, dtype=self.dtype)
        self.loss_code = loss.code
        self.loss_hyper = loss.hyper_vector(self.dtype)
        self.slopes = np.array([layer.negative_slope for layer in model.layers], self.dtype)
        self.workspace = Workspace(self.layout, X.shape[0], self.dtype)
        self.params = np.zeros(self.layout.n_params, self.dtype)
        self.grads = self.workspace.grads
        self.scalars = tuple(self.dtype.type(v) for v in (alpha, weight_sum,
                                                          loss_scale / weight_sum))
        # sklearn's packing as indices into fastann's flat layer-by-layer layout
        index = np.arange(self.layout.n_params)
        views = self.layout.views(index)
        self.order = np.concatenate([v.ravel() for v in views[0::2] + views[1::2]])

    def pack(self, coefs, intercepts):
        return np.concatenate([np.ravel(a) for a in list(coefs) + list(intercepts)])

    def __call__(self, packed):
        self.params[self.order] = packed
        alpha, weight_sum, loss_scale = self.scalars
        loss = objective.loss_and_gradient(
            self.grads, self.workspace.Z, self.workspace.A, self.workspace.delta, self.X,
            self.Y, self.weight, self.params, self.layout.table, self.slopes,
            self.loss_code, self.loss_hyper, alpha, weight_sum, loss_scale)
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


def _check_sample_weight(sample_weight, X):
    """sample_weight as a float64 (n_samples,) array, checked as scikit-learn does."""
    n_samples = X.shape[0]
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_samples, float(sample_weight))
    sample_weight = check_array(sample_weight, accept_sparse=False, ensure_2d=False,
                                dtype=np.float64, order="C", input_name="sample_weight")
    if sample_weight.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got "
                         f"{sample_weight.ndim}D array. Expected either a scalar or a 1D "
                         "array of length 1.")
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected "
                         f"{(n_samples,)}!")
    if (sample_weight < 0).any():
        raise ValueError("Negative values in data passed to `sample_weight`")
    if sample_weight.sum() <= 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight

