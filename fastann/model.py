"""The Model: a thin Keras-like wrapper that checks input, owns the flat buffers and
calls the compiled kernels. It holds no math of its own."""
import math
import numbers
import sys
import time
import warnings

import numpy as np

from . import _checks, _threads, losses, optimizers
from . import metrics as metric_table
from ._signals import deferred_interrupt
from .callbacks import Callback, History, ProgressLogger
from .kernels import train as train_kernels
from .kernels.optimizers import N_SLOTS
from .layers import Dense
from .layout import Layout, Workspace
from .initializers import INITIALIZERS

DTYPES = {"float32": np.float32, "float64": np.float64}
PREDICT_CAPACITY = 1024  # rows per block when predicting or evaluating
CHUNK_SECONDS = 0.1  # target duration of one kernel call during fit
MAX_WORKSPACES = 4


class NotReadyError(RuntimeError, ValueError):
    """The model cannot do this yet (not compiled, or its input size unknown). A
    RuntimeError, as Keras raises, and a ValueError, as fastann's other input errors."""


class Model:
    """A stack of dense layers trained by compiled kernels.

    Parameters
    ----------
    layers : list of Dense
        The layers, input to output.
    input_dim : int, optional
        Number of input features; if omitted it is taken from the first ``fit``.
    dtype : {"float32", "float64"}
        Precision of the weights and of every kernel. float64 is what parity tests use.
    seed : int, optional
        Fixes the initial weights and the shuffling stream. Drawn at random if omitted
        (and kept in ``model.seed``).
    """

    def __init__(self, layers, input_dim=None, dtype="float32", seed=None):
        layers = list(layers) if isinstance(layers, (list, tuple)) else None
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise TypeError("layers must be a non-empty list of fastann.Dense")
        name = np.dtype(dtype).name if _is_dtype_like(dtype) else dtype
        if name not in DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**32)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
                0 <= seed < 2**32):
            raise ValueError(f"seed must be an int in [0, 2**32); got {seed!r}")
        _checks.positive_int("input_dim", input_dim, allow_none=True)

        self.layers = tuple(layers)
        self.dtype = np.dtype(DTYPES[name])
        self.seed = int(seed)
        self.loss = self.optimizer = None
        self.metrics_names = []
        self.history = None
        self.stop_training = False
        self.layout = None
        self._params = None
        self._opt_state = None
        self._workspaces = {}
        self._counters = np.zeros(train_kernels.N_COUNTERS, np.int64)
        self._rng_state = np.random.SeedSequence(self.seed).generate_state(1, np.uint64)
        if input_dim is not None:
            self._build(int(input_dim))

    # ------------------------------------------------------------------ state
    @property
    def input_dim(self):
        return None if self.layout is None else self.layout.sizes[0]

    @property
    def built(self):
        return self.layout is not None

    @property
    def epochs_trained(self):
        """Epochs completed over the model's life (all ``fit`` calls)."""
        return int(self._counters[train_kernels.EPOCHS])

    @property
    def params(self):
        """The flat parameter buffer, read-only (use ``set_weights`` to change it)."""
        self._require_built("params")
        view = self._params.view()
        view.setflags(write=False)
        return view

    def count_params(self):
        self._require_built("count_params")
        return self.layout.n_params

    def _build(self, n_features):
        codes = [layer.activation_spec.code for layer in self.layers]
        layout = Layout.build([n_features] + [layer.units for layer in self.layers], codes)
        params = np.zeros(layout.n_params, self.dtype)
        random = np.random.RandomState(self.seed)
        for layer, (W, _), n_in in zip(self.layers, _pairs(layout.views(params)),
                                       layout.sizes):
            init = INITIALIZERS[layer.kernel_initializer.lower()]
            W[:] = init(random, n_in, layer.units, layer.init_scale)
        self.layout = layout
        self._params = params
        self._slopes = np.array([layer.negative_slope for layer in self.layers], self.dtype)
        self._opt_state = np.zeros(N_SLOTS * layout.n_params, self.dtype)
        self._workspaces = {}

    def _workspace(self, capacity):
        workspace = self._workspaces.pop(capacity, None) or Workspace(self.layout, capacity,
                                                                      self.dtype)
        self._workspaces[capacity] = workspace  # most recent last
        while len(self._workspaces) > MAX_WORKSPACES:
            del self._workspaces[next(iter(self._workspaces))]
        return workspace

    def _require_built(self, action):
        if self.layout is None:
            raise NotReadyError(f"{action}: the model's input size is not known yet; pass "
                               "input_dim=... to Model or call fit first")

    def _require_compiled(self, action):
        if self.loss is None:
            raise NotReadyError(f"{action}: the model is not compiled; call "
                               "model.compile(loss=..., optimizer=...) first")

    # ---------------------------------------------------------------- compile
    def compile(self, loss, optimizer="sgd", metrics=None):
        """Choose the loss, optimizer and metrics; resets the optimizer's state.

        Parameters
        ----------
        loss : str
            ``binary_crossentropy`` (sigmoid output), ``mse``/``mean_squared_error``
            (any output), ``categorical_crossentropy`` (softmax output, one-hot targets)
            or ``sparse_categorical_crossentropy`` (softmax output, integer labels).
        optimizer : str or Optimizer
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (defaults) or an instance.
        metrics : list of str, optional
            ``accuracy``, ``binary_accuracy``, ``categorical_accuracy``, ``mae``, ``mse``.
            Default: ``["accuracy"]`` for the cross-entropies, none for MSE.
        """
        spec = losses.get(loss)
        output = self.layers[-1].activation_spec
        if spec.output_activation and output.name != spec.output_activation:
            raise ValueError(
                f"loss {spec.name!r} needs a {spec.output_activation!r} output layer (it is "
                f"computed from the logits); the output layer uses {output.name!r}")
        optimizer = optimizers.get(optimizer)
        names = list(spec.default_metrics if metrics is None else metrics)
        n_out = self.layers[-1].units
        codes = np.array([metric_table.resolve(name, spec, n_out) for name in names],
                         np.int64)
        self.loss, self.optimizer = spec, optimizer
        self.metrics_names, self._metric_codes = names, codes
        self._counters[train_kernels.STEPS] = 0
        if self._opt_state is not None:
            self._opt_state[:] = 0
        return self

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, epochs=1, batch_size=32, shuffle=True, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, sample_weight=None, class_weight=None):
        """Train for ``epochs`` more epochs, continuing from the current weights.

        Parameters
        ----------
        X : array-like, (n_samples, n_features)
        y : array-like, (n_samples,) or (n_samples, n_out)
            Encoded as the loss requires (0/1 labels, one-hot rows, class labels, values).
        epochs : int
        batch_size : int or None
            Rows per gradient step; None means the full batch (plain gradient descent).
            A last, shorter batch is used, not dropped.
        shuffle : bool
            Reshuffle the rows before every epoch (with the model's own random stream).
        verbose : 0, 1, 2 or "auto"
            Silent, a live progress line, or one line per epoch. "auto": 1 on a
            terminal, else 0.
        callbacks : list of Callback
        validation_split : float
            Fraction of the *last* rows (taken before shuffling) held out for validation:
            the first ``floor(n_samples * (1 - validation_split))`` rows train. Their
            ``sample_weight`` goes with them.
        validation_data : (X_val, y_val) or (X_val, y_val, sample_weight_val)
            Evaluated after every epoch, inside the compiled loop, with the weights at
            the end of the epoch: ``val_loss`` and ``val_<metric>`` are what
            ``evaluate`` would return then.
        sample_weight : array-like, (n_samples,)
            Each row's loss is multiplied by its weight; the batch loss is the weighted
            sum over the batch size (Keras' "sum_over_batch_size").
        class_weight : dict {class: weight}
            Multiplies the sample weight of the training rows of each class (classes not
            named weigh 1); validation rows are not class-weighted, as in Keras.

        Returns
        -------
        History
            ``history.history`` maps "loss", each metric and their ``val_`` forms to
            per-epoch lists. Also kept as ``model.history``.
        """
        self._require_compiled("fit")
        for index, layer in enumerate(self.layers):
            if not layer.activation_spec.trainable:
                raise ValueError(
                    f"layer {index} uses the {layer.activation_spec.name!r} activation, whose "
                    "derivative is zero wherever it exists, so gradient descent cannot train "
                    "it. Train with 'sigmoid' (its smooth version) and use 'step' only for "
                    "inference, by copying the trained weights with set_weights")
        epochs = _checks.positive_int("epochs", epochs)
        batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
        verbose = _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        data = self._training_data(X, y, validation_split, validation_data, sample_weight,
                                   class_weight)
        if self.layout is None:
            self._build(data.X.shape[1])
        with _threads.for_training(self.layout.sizes, batch_size, data.X.shape[0]):
            return self._train(data, epochs, batch_size, bool(shuffle), verbose, callbacks)

    def _training_data(self, X, y, validation_split, validation_data, sample_weight,
                       class_weight):
        """Every array ``fit`` needs, checked and converted once, before anything changes."""
        X = _checks.features("X", X, self.dtype, self.input_dim)
        n_out = self.layers[-1].units
        Y = _checks.targets("y", y, X.shape[0], self.loss, n_out, self.dtype)
        weight = _checks.sample_weights("sample_weight", sample_weight, X.shape[0], self.dtype)
        if not (isinstance(validation_split, numbers.Real) and 0 <= validation_split < 1):
            raise ValueError(f"validation_split must be a number in [0, 1); got "
                             f"{validation_split!r}")
        if validation_split and validation_data is not None:
            raise ValueError("give either validation_split or validation_data, not both")
        if validation_split:
            n_train = int(math.floor(X.shape[0] * (1 - validation_split)))
            if n_train < 1 or n_train == X.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves "
                                 f"{n_train} of {X.shape[0]} rows for training; both parts "
                                 "need at least one row")
            val = (X[n_train:], Y[n_train:], weight[n_train:])
            X, Y, weight = X[:n_train], Y[:n_train], weight[:n_train]
        elif validation_data is not None:
            val = self._validation_arrays(validation_data, X.shape[1], n_out)
        else:
            val = (X[:0], Y[:0], weight[:0])
        if class_weight is not None:  # training rows only, as Keras
            weight = weight * _checks.class_weights(class_weight, Y, self.loss.name, self.dtype)
        return _TrainingData(X, Y, weight, *val)

    def _validation_arrays(self, validation_data, n_features, n_out):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (X_val, y_val) or "
                             "(X_val, y_val, sample_weight_val)")
        X_val = _checks.features("validation_data X", validation_data[0], self.dtype,
                                 n_features)
        Y_val = _checks.targets("validation_data y", validation_data[1], X_val.shape[0],
                                self.loss, n_out, self.dtype)
        weight = _checks.sample_weights(
            "validation_data sample_weight",
            validation_data[2] if len(validation_data) == 3 else None, X_val.shape[0],
            self.dtype)
        return X_val, Y_val, weight

    def _train(self, data, epochs, batch_size, shuffle, verbose, callbacks):
        n = data.X.shape[0]
        capacity = n if batch_size is None else min(batch_size, n)
        workspace = self._workspace(capacity)
        order = workspace.order_for(n)
        names = self._log_names(validation=data.X_val.shape[0] > 0)
        history = History(names)
        recorders = [history]
        if verbose:
            recorders.append(ProgressLogger(verbose, epochs, self.epochs_trained))
        per_epoch = [c for c in callbacks if c.needs_every_epoch]
        self.stop_training = False
        for callback in callbacks:
            callback.set_model(self)
            callback.on_train_begin()
        self.history = history
        end = self.epochs_trained + epochs
        interrupted = False
        with deferred_interrupt() as interrupt:
            try:
                self._run_chunks(data, end, capacity, workspace, order, shuffle, names,
                                 recorders, per_epoch, interrupt)
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
                interrupted = True
            finally:  # also on divergence: end the progress line, let callbacks finish
                interrupted = interrupted or interrupt.requested
                for recorder in recorders[1:]:
                    recorder.on_train_end({"interrupted": interrupted})
                for callback in callbacks:
                    callback.on_train_end()
        if interrupted:
            warnings.warn(f"fit interrupted: the model keeps the weights of epoch "
                          f"{self.epochs_trained}, and History holds the epochs up to it",
                          RuntimeWarning, stacklevel=3)
        return history

    def _run_chunks(self, data, end, capacity, workspace, order, shuffle, names, recorders,
                    per_epoch, interrupt):
        """Call the fused kernel chunk after chunk until ``end`` epochs, a stop request
        or a Ctrl-C; record each chunk and run the per-epoch callbacks."""
        chunk = 1
        while (self.epochs_trained < end and not self.stop_training
               and not interrupt.requested):
            n_epochs = min(chunk, end - self.epochs_trained)
            logs = _EpochLogs(n_epochs, len(self._metric_codes), self.dtype)
            first = self.epochs_trained
            # by absolute epoch, so a later fit or a resumed model continues a schedule
            lr = self.optimizer.learning_rates(first, n_epochs, self.dtype)
            started = time.perf_counter()
            try:
                train_kernels.train_epochs(
                    self._params, self._opt_state, self._rng_state, self._counters,
                    logs.loss, logs.metrics, logs.val_loss, logs.val_metrics,
                    workspace.grads, workspace.backup_params, workspace.backup_state,
                    workspace.Z, workspace.A, workspace.delta, order, workspace.batch_X,
                    workspace.batch_Y, workspace.batch_weight,
                    data.X, data.Y, data.weight, data.X_val, data.Y_val, data.weight_val,
                    self.layout.table, self._slopes, self.loss.code, self._metric_codes,
                    self.optimizer.code, self.optimizer.hyper(self.dtype), lr, capacity,
                    shuffle)
            finally:  # also on Ctrl-C: record what the kernel completed
                done = self.epochs_trained - first
                if done:
                    columns = logs.columns(names, done)
                    for recorder in recorders:
                        recorder.record_chunk(first, columns)
            self._check_finite(first + done)
            for i in range(done if per_epoch else 0):  # per_epoch: chunks of 1
                epoch_logs = {name: float(values[i]) for name, values in columns.items()}
                for callback in per_epoch:
                    if callback.on_epoch_end(first + i, epoch_logs):
                        self.stop_training = True
            elapsed = time.perf_counter() - started
            chunk = _next_chunk(chunk, n_epochs, elapsed, bool(per_epoch))

    def _check_finite(self, epoch):
        if self._counters[train_kernels.STATUS] != train_kernels.NON_FINITE:
            return
        self._counters[train_kernels.STATUS] = train_kernels.OK
        raise FloatingPointError(
            f"training diverged: the loss or the weights became NaN or infinite in epoch "
            f"{epoch + 1}. The model keeps the weights of epoch {epoch} (model.history has the "
            "losses up to it; EarlyStopping(restore_best_weights=True) restores its best "
            "epoch instead). Lower the learning rate or scale the inputs.")

    def _log_names(self, validation):
        names = ["loss"] + list(self.metrics_names)
        return names + ["val_" + name for name in names] if validation else names

    # -------------------------------------------------------------- inference
    def predict_proba(self, X):
        """The output layer's activations, (n_samples, n_out): probabilities for sigmoid
        and softmax outputs, raw values otherwise."""
        self._require_built("predict_proba")
        X = _checks.features("X", X, self.dtype, self.input_dim)
        n_out = self.layout.sizes[-1]
        out = np.empty((X.shape[0], n_out), self.dtype)
        nothing = np.empty(0, self.dtype)  # no targets, weights or metrics: outputs only
        self._infer(out, X, nothing.reshape(0, n_out), nothing, nothing, np.empty(0, np.int64))
        return out

    def predict(self, X):
        """Predictions: 0/1 labels for sigmoid outputs (threshold 0.5; shape (n,) for one
        unit), class indices (n,) for softmax, raw outputs (n, n_out) otherwise."""
        probabilities = self.predict_proba(X)
        output = self.layers[-1].activation_spec.name
        if output == "sigmoid":
            labels = (probabilities > 0.5).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        if output == "softmax":
            return probabilities.argmax(axis=1)
        return probabilities

    def evaluate(self, X, y, sample_weight=None):
        """{"loss": mean loss, metric: value, ...} over (X, y)."""
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        X = _checks.features("X", X, self.dtype, self.input_dim)
        Y = _checks.targets("y", y, X.shape[0], self.loss, self.layout.sizes[-1], self.dtype)
        weight = _checks.sample_weights("sample_weight", sample_weight, X.shape[0], self.dtype)
        means = np.zeros(len(self._metric_codes), self.dtype)
        loss = self._infer(np.empty((0, Y.shape[1]), self.dtype), X, Y, weight, means,
                           self._metric_codes)
        return {"loss": float(loss), **dict(zip(self.metrics_names, means.tolist()))}

    def _infer(self, out, X, Y, weight, metric_means, metric_codes):
        """Run ``infer_dataset``: the outputs into ``out`` if it has rows; the loss
        (returned) and metrics (into ``metric_means``) against Y if Y has rows."""
        workspace = self._workspace(min(X.shape[0], PREDICT_CAPACITY))
        loss_code = self.loss.code if self.loss is not None else 0  # unused unless scoring
        return train_kernels.infer_dataset(
            out, metric_means, workspace.Z, workspace.A, workspace.delta, X, Y, weight,
            self._params, self.layout.table, self._slopes, workspace.capacity, loss_code,
            metric_codes)

    # ---------------------------------------------------------------- weights
    def get_weights(self):
        """Copies [W1 (n_in, n_out), b1 (n_out,), W2, b2, ...], Keras' layout."""
        self._require_built("get_weights")
        return [view.copy() for view in self.layout.views(self._params)]

    def _load_params(self, flat):
        """Copy a flat parameter vector (a copy of ``params``) back in; used by
        EarlyStopping to restore the best epoch's weights."""
        flat = np.asarray(flat)
        if flat.shape != self._params.shape:
            raise ValueError(f"flat parameters must have shape {self._params.shape}; got "
                             f"{flat.shape}")
        self._params[:] = flat

    def set_weights(self, weights):
        """Load weights in ``get_weights`` layout; checked whole before anything changes."""
        self._require_built("set_weights")
        targets = self.layout.views(self._params)
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(f"set_weights expects {len(targets)} arrays [W1, b1, ...]; got "
                             f"{len(weights)}")
        checked = []
        for index, (given, target) in enumerate(zip(weights, targets)):
            name = f"weights[{index}] ({'W' if index % 2 == 0 else 'b'}{index // 2 + 1})"
            array = _checks._numeric(name, given)
            if array.shape != target.shape:
                raise ValueError(f"{name} must have shape {target.shape}; got {array.shape}")
            checked.append(array)
        for array, target in zip(checked, targets):
            target[...] = array

    def save(self, path):
        """Write the model to one ``.npz`` file (``.npz`` is appended if missing), atomically:
        architecture, weights, compile settings, optimizer and shuffling state and the
        epoch and step counts, so ``fastann.load_model(path)`` continues training exactly.
        Returns the path written."""
        from .saving import save_model  # saving imports this module
        return save_model(self, path)

    def summary(self, file=None):
        """Print the layers, their output shapes and parameter counts."""
        file = file or sys.stdout
        n_in = self.input_dim
        rows = []
        for index, layer in enumerate(self.layers):
            count = "?" if n_in is None else f"{(n_in + 1) * layer.units:,}"
            rows.append((f"dense_{index} (Dense)", f"(None, {layer.units})",
                         layer.activation_spec.name, count))
            n_in = None if n_in is None else layer.units
        header = ("Layer (type)", "Output shape", "Activation", "Param #")
        widths = [max(len(str(r[i])) for r in rows + [header]) + 2 for i in range(4)]
        line = "".join(h.ljust(w) for h, w in zip(header, widths))
        rule = "=" * len(line)
        print(f'Model: dtype={self.dtype.name}, input_dim={self.input_dim}', file=file)
        print(rule, file=file)
        print(line, file=file)
        print(rule, file=file)
        for row in rows:
            print("".join(str(c).ljust(w) for c, w in zip(row, widths)), file=file)
        total = "unknown until the input size is known" if not self.built else \
            f"{self.layout.n_params:,}"
        print(rule, file=file)
        print(f"Total params: {total}", file=file)

    def __repr__(self):
        sizes = self.layout.sizes if self.built else ("?",) + tuple(l.units for l in self.layers)
        return (f"Model({'-'.join(map(str, sizes))}, dtype={self.dtype.name}, "
                f"epochs_trained={self.epochs_trained})")



class _TrainingData:
    """Checked training and validation arrays (validation has zero rows when unused)."""

    def __init__(self, X, Y, weight, X_val, Y_val, weight_val):
        self.X, self.Y, self.weight = X, Y, weight
        self.X_val = np.ascontiguousarray(X_val)
        self.Y_val = np.ascontiguousarray(Y_val)
        self.weight_val = np.ascontiguousarray(weight_val)


class _EpochLogs:
    """The per-epoch output arrays of one kernel call."""

    def __init__(self, n_epochs, n_metrics, dtype):
        self.loss = np.zeros(n_epochs, dtype)
        self.val_loss = np.zeros(n_epochs, dtype)
        self.metrics = np.zeros((n_epochs, n_metrics), dtype)
        self.val_metrics = np.zeros((n_epochs, n_metrics), dtype)

    def columns(self, names, n):
        n_train = 1 + self.metrics.shape[1]
        values = [self.loss[:n]] + [self.metrics[:n, m] for m in range(self.metrics.shape[1])]
        if len(names) > n_train:
            values += [self.val_loss[:n]] + [self.val_metrics[:n, m]
                                             for m in range(self.val_metrics.shape[1])]
        return dict(zip(names, values))


def _next_chunk(chunk, ran, elapsed, every_epoch):
    """Epochs for the next kernel call: about CHUNK_SECONDS of work, growing at most 8x
    per call (the first call also pays the compile), or 1 when a callback must see each
    epoch."""
    if every_epoch:
        return 1
    if elapsed <= 0:
        return chunk * 8
    fitting = int(CHUNK_SECONDS * ran / elapsed)
    return max(1, min(fitting, ran * 8))


def _verbosity(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 0
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}")
    return verbose


def _callback_list(callbacks):
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be fastann.callbacks.Callback instances; got "
                            f"{type(callback).__name__}")
    return callbacks


def _pairs(items):
    return zip(items[0::2], items[1::2])


def _is_dtype_like(value):
    try:
        np.dtype(value)
        return True
    except TypeError:
        return False
