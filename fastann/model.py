"""The Model: a thin Keras-like wrapper that checks input, owns the flat buffers and
calls the compiled kernels. It holds no math of its own.

``Model`` and ``Sequential`` are one class (``Sequential`` only orders its arguments as
Keras' does). Its public surface follows Keras 3: ``compile(optimizer, loss, metrics)``,
``fit(x, y, batch_size, epochs, verbose, callbacks, ...)``, ``evaluate`` returning a
float or ``[loss, metric, ...]``, ``predict`` returning the network's outputs.
"""
import json
import math
import numbers
import os
import shutil
import sys
import time
import warnings

import numpy as np

from . import _blas_threads, _checks, losses, optimizers, regularizers, utils
from . import metrics as metric_table
from ._errors import NotSupportedError
from ._signals import deferred_interrupt
from ._threads import ScratchPool, TrainingGuard
from .callbacks import Callback, EpochLines, History, ProgressLogger, step_line
from .kernels import metrics as metric_kernels
from .kernels import network as network_kernels
from .kernels import train as train_kernels
from .kernels.optimizers import state_length
from .kernels.rng import shuffle_order
from .layers import Flatten, InputLayer, Layer, unique_name
from . import layout as layouts
from .layout import Layout, Workspace
from .state import TrainingState

DTYPES = {"float32": np.float32, "float64": np.float64}
PREDICT_CAPACITY = 1024  # rows per block when predicting or evaluating
CHUNK_SECONDS = 0.1  # target duration of one kernel call during fit
MAX_WORKSPACES = 4
DEFAULT_BATCH_SIZE = 32  # Keras' batch_size=None
FULL_BATCH = "full"  # fit(batch_size="full"): every row in one step (plain gradient descent)
INPUT_SIDE = (Flatten,)  # layers the kernels never see: they only reshape the input
# How ``save`` writes each kind of file: {suffix: writer(model, path)}, filled in by the
# modules that own the formats as they are imported (``fastann.saving``: .npz;
# ``fastann.export.keras_file``: .keras), so that this module imports neither.
FILE_WRITERS = {}


class NotReadyError(RuntimeError, ValueError):
    """The model cannot do this yet (not compiled, or its input size unknown). A
    RuntimeError, as Keras raises, and a ValueError, as fastann's other input errors."""


def _plan(layers, input_dim):
    """Check a layer list; return (layers without the InputLayer, input shape or None)."""
    if isinstance(layers, InputLayer) or not isinstance(layers, (list, tuple)):
        if isinstance(layers, Layer):
            raise TypeError("layers must be a list of fastann layers (e.g. [Dense(4), "
                            f"Dense(1)]); got a single {type(layers).__name__}")
        raise TypeError("layers must be a list of fastann layers such as fastann.Dense; "
                        f"got {type(layers).__name__}")
    layers = list(layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers must be a list of fastann layers such as "
                            f"fastann.Dense; layers[{index}] is {type(layer).__name__} "
                            f"{layer!r}")
        if isinstance(layer, InputLayer) and index > 0:
            raise ValueError(f"an Input can only be the first layer; it is layers[{index}]")
    shape = None
    if layers and isinstance(layers[0], InputLayer):
        shape = layers.pop(0).shape
    elif layers and layers[0].input_shape is not None:
        shape = layers[0].input_shape
    if input_dim is not None:
        dim = (_checks.positive_int("input_dim", input_dim, allow_none=True),)
        if shape is not None and shape != dim and math.prod(shape) != dim[0]:
            raise ValueError(f"input_dim={input_dim} disagrees with the first layer's input "
                             f"shape {shape}")
        shape = shape or dim
    if shape is not None and len(shape) > 1 and not (layers and isinstance(layers[0],
                                                                           Flatten)):
        raise NotSupportedError(
            f"Dense layers on inputs of shape {shape} (Keras applies them to the last axis)",
            "Put a fastann.layers.Flatten() first to flatten each sample")
    return tuple(layers), shape


class Model:
    """A stack of layers (Dense, and Flatten on the input side) trained by compiled kernels.

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, input to output; may start with ``fastann.Input(shape=(n,))``, or the
        first layer may carry ``input_shape=(n,)`` / ``input_dim=n``. More can be added
        with ``add``.
    input_dim : int, optional
        Number of input features; if not given here or by the layers, it is taken from the
        first ``fit``.
    dtype : {"float32", "float64"}
        Precision of the weights and of every kernel. float64 is what parity tests use.
    seed : int, optional
        Fixes the initial weights and the shuffling stream. If omitted it is the next seed
        of ``fastann.utils.set_random_seed``'s stream, or random (kept in ``model.seed``).
    name : str, optional
    """

    _default_name = "model"

    def __init__(self, layers=None, input_dim=None, dtype="float32", seed=None, name=None,
                 *, inputs=None, outputs=None):
        if inputs is not None or outputs is not None or isinstance(layers, InputLayer):
            raise NotSupportedError("the functional API (Model(inputs, outputs))",
                                    "Pass the layers as a list: fastann.Sequential([...])")
        stack, shape = _plan([] if layers is None else layers, input_dim)
        type_name = np.dtype(dtype).name if _is_dtype_like(dtype) else dtype
        if type_name not in DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
        if seed is None:
            seed = utils.draw_seed()
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
                0 <= seed < 2**32):
            raise ValueError(f"seed must be an int in [0, 2**32); got {seed!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty str; got {name!r}")

        self.name = name or unique_name(self._default_name)
        self.dtype = np.dtype(DTYPES[type_name])
        self.seed = int(seed)
        self.history = None
        self.stop_training = False
        self._layers, self._input_shape = stack, shape
        self._trainable = True
        self._guard = TrainingGuard()  # one fit at a time (_threads.py)
        self._scratch = ScratchPool()
        self._uncompile()
        self._counters = np.zeros(train_kernels.N_COUNTERS, np.int64)
        self._rng_state = np.random.SeedSequence(self.seed).generate_state(1, np.uint64)
        self._unbuild()
        self._build_if_ready()

    # ------------------------------------------------------------------ state
    @property
    def layers(self):
        """The layers, input to output (without the Input, as Keras)."""
        return self._layers

    @property
    def input_shape(self):
        """Keras' batch shape of the input, e.g. ``(None, 2)``, or None until known (one
        sample's shape is ``input_shape[1:]``)."""
        return None if self._input_shape is None else (None, *self._input_shape)

    @property
    def output_shape(self):
        """Keras' batch shape of the output, e.g. ``(None, 1)``."""
        return (None, layouts.output_units(self._stack, self.input_dim))

    @property
    def metrics_names(self):
        """``["loss", metric, ...]``: the names of what ``evaluate``, ``train_on_batch``
        and ``test_on_batch`` return, in their order (empty before ``compile``)."""
        return ["loss", *self._metric_names] if self.loss_spec is not None else []

    @property
    def trainable(self):
        """Keras' flag: False freezes the whole model (no weight trains). Setting it
        sets every layer's ``trainable`` too, as Keras does; a layer trains when both
        it and the model are trainable. Read by each ``fit``."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = _checks.flag("model.trainable", value)
        for layer in self._layers:
            layer.trainable = value

    def _frozen(self):
        """Per layer of the kernels' stack: True where its weights do not train."""
        return [not (self._trainable and layer.trainable) for layer in self._stack]

    def _trains(self):
        """Per entry of ``layout.weights``: whether gradient descent moves it (a
        trainable weight of a layer that is not frozen)."""
        frozen = self._frozen()
        return [slot.trainable and not frozen[slot.layer] for slot in self.layout.weights]

    def _trainable_ranges(self):
        """``Update.trainable``: the [start, stop) ranges of the parameters that train."""
        ranges = []
        for slot, trains in zip(self.layout.weights, self._trains()):
            if trains:
                if ranges and ranges[-1][1] == slot.offset:
                    ranges[-1][1] = slot.offset + slot.size
                else:
                    ranges.append([slot.offset, slot.offset + slot.size])
        return np.array(ranges, np.int64).reshape(-1, 2)

    @property
    def trainable_weights(self):
        """Copies of the arrays gradient descent trains (kernels, biases, gammas, betas
        of the layers that are not frozen)."""
        return [weight for weight, trains in zip(self.get_weights(), self._trains())
                if trains]

    @property
    def non_trainable_weights(self):
        """Copies of the other arrays (BatchNormalization's moving statistics, frozen
        layers' weights), in ``get_weights`` order."""
        return [weight for weight, trains in zip(self.get_weights(), self._trains())
                if not trains]

    @property
    def input_dim(self):
        """Number of input features the kernels read, or None until known."""
        return None if self._input_shape is None else math.prod(self._input_shape)

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

    @property
    def _params(self):
        return None if self._state is None else self._state.params

    @property
    def _opt_state(self):
        return None if self._state is None else self._state.opt_state

    @property
    def _moving(self):
        """Non-trainable state (BatchNormalization's moving statistics), (n_moving,)."""
        return None if self._state is None else self._state.moving

    def get_training_state(self):
        """A copy of the training state (``fastann.state.TrainingState``): parameters,
        optimizer state, shuffling RNG state, epoch and step counters."""
        self._require_built("get_training_state")
        return self._state.copy()

    def set_training_state(self, state):
        """Load a state from ``get_training_state`` (of this model or one of the same
        architecture and dtype); checked whole before anything changes. ``fit`` then
        continues exactly as the model the state came from would have."""
        self._require_built("set_training_state")
        self._guard.check_idle("set_training_state")
        self._state.load(state, self.layout, self.optimizer)

    def count_params(self):
        self._require_built("count_params")
        return self.layout.n_total

    @property
    def _stack(self):
        """The layers the kernels run (the input side left out)."""
        return [layer for layer in self._layers if not isinstance(layer, INPUT_SIDE)]

    @property
    def _output_layer(self):
        stack = self._stack
        if not stack:
            raise NotReadyError("the model has no Dense layer yet; add one with model.add")
        return stack[-1]

    def _unbuild(self):
        self.layout = None
        self._state = None
        self._slopes = None
        self._regularization = None
        self._workspaces = {}

    def _uncompile(self):
        self.loss = self.loss_spec = self.optimizer = None
        self._metric_names = []
        self._metric_codes = np.zeros(0, np.int64)
        self._metric_state = None
        self._compile_config = None

    def _build_if_ready(self):
        if self._input_shape is not None and self._stack:
            self._build(self.input_dim)

    def _build(self, n_features):
        stack = self._stack
        layout = Layout.for_layers(stack, n_features)
        params, moving = layout.initial_state(stack, self.seed, self.dtype)
        _checks.finite_results("building the model", "the layers' init_scale", params,
                               "lower init_scale")
        self.layout = layout
        self._state = TrainingState(params, np.zeros(state_length(layout.n_params), self.dtype),
                                    self._rng_state, self._counters, moving)
        self._slopes = layout.kernel_slopes(self.dtype)
        self._regularization = regularizers.coefficient_table(stack, self.dtype)
        self._workspaces = {}
        self._scratch.clear()
        for layer in self._layers:
            layer._attach(self)

    def _build_for(self, data):
        """Build an unbuilt model for the training data's input (the first fit)."""
        if self.layout is None:
            if self._input_shape is None:
                self._input_shape = data.input_shape
            self._build(data.X.shape[1])

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
                               "input_dim=... to Model (or input_shape=(n,) to the first "
                               "layer) or call fit first")

    def _require_compiled(self, action):
        if self.loss_spec is None:
            raise NotReadyError(f"{action}: the model is not compiled; call "
                               "model.compile(optimizer=..., loss=...) first")

    # ------------------------------------------------------------- Sequential
    def add(self, layer):
        """Append a layer (or, first, an ``Input``). Changing the layers of a built model
        draws its weights afresh from ``seed``, and a compiled model must be compiled
        again."""
        if isinstance(layer, InputLayer) and not self._layers:
            if self.built:
                raise ValueError("the model already has its input size "
                                 f"{self._input_shape}; an Input must come first")
            self._layers, self._input_shape = _plan([layer], None)
            return
        shape = self._input_shape
        stack, new_shape = _plan(list(self._layers) + [layer], None)
        self._set_layers(stack, shape or new_shape)

    def pop(self):
        """Remove and return the last layer (as Keras; see ``add`` for the weights)."""
        if not self._layers:
            raise TypeError("pop: there are no layers in the model")
        layer = self._layers[-1]
        self._set_layers(self._layers[:-1], self._input_shape)
        return layer

    def _set_layers(self, stack, shape):
        if shape is not None and len(shape) > 1 and not (stack and isinstance(stack[0],
                                                                              Flatten)):
            raise NotSupportedError(f"Dense layers on inputs of shape {shape}",
                                    "Put a fastann.layers.Flatten() first")
        self._layers, self._input_shape = tuple(stack), shape
        self._uncompile()
        self._unbuild()
        self._build_if_ready()

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, loss and metrics (Keras 3's signature); resets the
        optimizer's state.

        Parameters
        ----------
        optimizer : str or Optimizer, default "rmsprop"
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (Keras' defaults) or an instance.
        loss : str
            ``binary_crossentropy`` (sigmoid output), ``mse``/``mean_squared_error``
            (any output), ``categorical_crossentropy`` (softmax output, one-hot targets)
            or ``sparse_categorical_crossentropy`` (softmax output, integer labels).
            Required: fastann has no ``add_loss``. Callables are not supported (the
            kernels compute the loss).
        metrics : str, metric object, or a list of them, optional
            Names: ``accuracy``, ``binary_accuracy``, ``categorical_accuracy``, ``mae``,
            ``mse``, ``rmse``, ``auc``, ``precision``, ``recall``,
            ``top_k_categorical_accuracy``, ``sparse_top_k_categorical_accuracy``; objects:
            ``fastann.metrics.AUC(...)``, ``Precision``, ``Recall``,
            ``TopKCategoricalAccuracy``, ``SparseTopKCategoricalAccuracy``. Unweighted,
            as Keras' ``metrics``. Default: none, as in Keras (``evaluate`` then returns
            the loss alone).
        loss_weights : None
            Only None (models have one output and one loss).
        weighted_metrics : None
            Only None or []: metrics are computed unweighted (``sample_weight`` and
            ``class_weight`` weigh the loss only), as Keras' ``metrics``.
        run_eagerly : False
            fastann always runs its compiled kernels; True is refused.
        steps_per_execution, jit_compile, auto_scale_loss
            Accepted and ignored: ``fit`` runs many epochs per kernel call by itself, the
            kernels are always compiled, and there is no mixed precision.
        """
        self._guard.check_idle("compile")
        if metrics is None and _looks_like_metrics(loss_weights):
            # compile(optimizer, loss, ["accuracy"]): Keras 2's order, common in tutorials
            metrics, loss_weights = loss_weights, None
        if loss_weights is not None and not _is_unit_weight(loss_weights):
            raise NotSupportedError(f"loss_weights={loss_weights!r} (models have one output "
                                    "and one loss: only None or 1.0)")
        if weighted_metrics not in (None, [], ()):
            raise NotSupportedError(
                "weighted_metrics",
                "metrics= are computed unweighted, as Keras' metrics=; sample_weight weighs "
                "the loss only")
        if run_eagerly not in (False, None, 0):
            raise NotSupportedError("run_eagerly=True",
                                    "fastann always runs its compiled kernels")
        _checks.positive_int("steps_per_execution", steps_per_execution)
        if jit_compile not in ("auto", True, False):
            raise ValueError(f"jit_compile must be 'auto', True or False; got "
                             f"{jit_compile!r}")
        if auto_scale_loss not in (True, False):
            raise ValueError(f"auto_scale_loss must be True or False; got "
                             f"{auto_scale_loss!r}")
        if loss is None:
            raise ValueError("compile needs loss=...: fastann has no add_loss. Expected one "
                             f"of {sorted(losses.LOSSES)}")
        spec = _lookup_callable("loss", loss, losses.get, sorted(losses.LOSSES))
        output = self._output_layer.activation_spec
        if spec.output_activation and output.name != spec.output_activation:
            raise ValueError(
                f"loss {spec.name!r} needs a {spec.output_activation!r} output layer (it is "
                f"computed from the logits); the output layer uses {output.name!r}")
        optimizer = optimizers.get(optimizer)
        if isinstance(metrics, str):
            metrics = [metrics]
        if isinstance(metrics, dict):
            raise NotSupportedError("a dict of metrics (models have one output)")
        if isinstance(metrics, metric_table.Metric):
            metrics = [metrics]
        if isinstance(metrics, np.ndarray) and metrics.ndim == 1:
            metrics = metrics.tolist()
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a metric name or object or a list of them; "
                            f"got {type(metrics).__name__}")
        given = list(metrics or ())  # Keras: no metrics unless asked for
        n_out = layouts.output_units(self._stack, self.input_dim)
        resolved = [_lookup_callable("metric", metric,
                                     lambda m: metric_table.resolve(m, spec, n_out),
                                     metric_table.NAMES)
                    for metric in given]
        names = [item.name for item in resolved]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metrics must have distinct names (they key the logs); "
                             f"{repeated} come more than once: pass name=... to tell them apart")
        state = metric_table.plan(resolved, self.dtype)
        self.loss, self.loss_spec, self.optimizer = loss, spec, optimizer
        optimizer._attach(self._counters)  # its iterations are this model's steps
        self._metric_names = names
        self._metric_codes = np.array([item.code for item in resolved], np.int64)
        self._metric_state = state
        self._compile_config = {"loss": spec.name, "metrics": [
            metric_table.serialize(item.name if item.metric is None else item.metric)
            for item in resolved]}
        self._counters[train_kernels.STEPS] = 0
        if self._opt_state is not None:
            self._opt_state[:] = 0
        return self

    # -------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train, continuing from the current weights (Keras 3's signature).

        Parameters
        ----------
        x : array-like, (n_samples, n_features) or (n_samples, *input_shape)
            The latter when the first layer is a Flatten.
        y : array-like, (n_samples,) or (n_samples, n_out)
            Encoded as the loss requires (0/1 labels, one-hot rows, class labels, values).
        batch_size : int, "full" or None
            Rows per gradient step; None means 32, as in Keras. The full batch (plain
            gradient descent) is ``batch_size=len(x)`` or ``"full"``. A last, shorter
            batch is used, not dropped.
        epochs : int
            Index of the last epoch: the call trains ``epochs - initial_epoch`` epochs.
        verbose : "auto", 0, 1, 2, True or False
            "auto" and True are 1. 1 on a terminal: one live line; 1 elsewhere (a file, a
            pipe, CI): Keras' two lines per epoch (``Epoch 3/25`` then steps, time and the
            logs), at most a few epochs a second once the first 30 are printed, and always
            the last one. 2: those lines for every epoch.
        callbacks : list of Callback
        validation_split : float
            Fraction of the *last* rows (taken before shuffling) held out for validation:
            the first ``floor(n_samples * (1 - validation_split))`` rows train. Their
            ``sample_weight`` goes with them.
        validation_data : (x_val, y_val) or (x_val, y_val, sample_weight_val)
            Evaluated after every epoch, inside the compiled loop, with the weights at
            the end of the epoch: ``val_loss`` and ``val_<metric>`` are what
            ``evaluate`` would return then.
        shuffle : bool
            Reshuffle the rows before every epoch (with the model's own random stream).
        class_weight : dict {class: weight}
            Multiplies the sample weight of the training rows of each class (classes not
            named weigh 1); validation rows are not class-weighted, as in Keras.
        sample_weight : array-like, (n_samples,)
            Each row's loss is multiplied by its weight; the batch loss is the weighted
            sum over the batch size (Keras' "sum_over_batch_size").
        initial_epoch : int
            Epoch at which to start: this call's epochs are numbered initial_epoch to
            epochs - 1 in the progress lines, History and callbacks, as in Keras.
        steps_per_epoch, validation_steps : None
            Only None: fastann trains on arrays, every row every epoch.
        validation_batch_size : int or None
            Accepted; validation runs over all rows at once, which gives the same values.
        validation_freq : 1
            Only 1: validation runs after every epoch.

        Returns
        -------
        History
            ``history.history`` maps "loss", each metric and their ``val_`` forms to
            per-epoch lists; ``history.params`` holds verbose, epochs and steps. Also kept
            as ``model.history``.
        """
        with self._guard.training("fit"):
            self._require_compiled("fit")
            if x is None or y is None:
                raise ValueError("fit needs x and y as arrays (fastann does not read datasets "
                                 f"or generators); got x={type(x).__name__}, "
                                 f"y={type(y).__name__}")
            for what, value in (("steps_per_epoch", steps_per_epoch),
                                ("validation_steps", validation_steps)):
                if value is not None:
                    raise NotSupportedError(f"{what}={value!r}",
                                            "fit trains on every row of x in every epoch")
            if validation_freq != 1:
                raise NotSupportedError(f"validation_freq={validation_freq!r}",
                                        "validation runs after every epoch")
            _checks.positive_int("validation_batch_size", validation_batch_size, allow_none=True)
            for index, layer in enumerate(self._stack):
                if not layer.activation_spec.trainable:
                    raise ValueError(
                        f"layer {index} uses the {layer.activation_spec.name!r} activation, whose "
                        "derivative is zero wherever it exists, so gradient descent cannot train "
                        "it. Train with 'sigmoid' (its smooth version) and use 'step' only for "
                        "inference, by copying the trained weights with set_weights")
            epochs = _checks.positive_int("epochs", epochs)
            if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) \
                    or initial_epoch < 0:
                raise ValueError(f"initial_epoch must be an int >= 0; got {initial_epoch!r}")
            if batch_size is None:
                batch_size = DEFAULT_BATCH_SIZE
            elif batch_size == FULL_BATCH:
                batch_size = None
            else:
                batch_size = _checks.positive_int("batch_size", batch_size)
            if shuffle not in (True, False):
                raise ValueError(f"shuffle must be True or False; got {shuffle!r}")
            given_verbose, verbose = verbose, _verbosity(verbose)
            callbacks = _callback_list(callbacks)
            data = self._training_data(x, y, validation_split, validation_data, sample_weight,
                                       class_weight)
            self._build_for(data)
            run = _Run(epochs=epochs, initial_epoch=int(initial_epoch),
                       n_epochs=max(0, epochs - int(initial_epoch)), batch_size=batch_size,
                       shuffle=bool(shuffle), verbose=verbose, given_verbose=given_verbose)
            # BLAS threads for these products and the cores free now (_blas_threads.py)
            with _blas_threads.for_training(self.layout.sizes, batch_size, data.X.shape[0]):
                return self._train(data, run, callbacks)

    def _features(self, name, x):
        """x as (n_samples, input_dim) in the model's dtype; (n, *input_shape) is
        flattened when the first layer is a Flatten."""
        array = x
        if self._layers and isinstance(self._layers[0], Flatten):
            array = _checks._numeric(name, x)
            if array.ndim > 2:
                if self._input_shape is not None and array.shape[1:] != self._input_shape:
                    raise ValueError(f"{name} must have samples of shape {self._input_shape}; "
                                     f"got shape {array.shape}")
                array = array.reshape(array.shape[0], -1)
        return _checks.features(name, array, self.dtype, self.input_dim)

    def _training_data(self, X, y, validation_split, validation_data, sample_weight,
                       class_weight):
        """Every array ``fit`` needs, checked and converted once, before anything changes."""
        raw = np.asarray(X) if not hasattr(X, "shape") else X
        X = self._features("x", X)
        input_shape = tuple(raw.shape[1:]) if getattr(raw, "ndim", 0) > 2 else (X.shape[1],)
        n_out = layouts.output_units(self._stack, self.input_dim)
        Y = _checks.targets("y", y, X.shape[0], self.loss_spec, n_out, self.dtype)
        weight = _checks.sample_weights("sample_weight", sample_weight, X.shape[0], self.dtype)
        if isinstance(validation_split, bool) or not (
                isinstance(validation_split, numbers.Real) and 0 <= validation_split < 1):
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
            weight = _checks.sample_weights(
                "sample_weight * class_weight", weight * _checks.class_weights(
                    class_weight, Y, self.loss_spec.name, self.dtype), weight.shape[0], self.dtype)
        data = _TrainingData(X, Y, weight, *val)
        data.input_shape = input_shape
        return data

    def _validation_arrays(self, validation_data, n_features, n_out):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val)")
        X_val = self._features("validation_data X", validation_data[0])
        if X_val.shape[1] != n_features:
            raise ValueError(f"validation_data X has {X_val.shape[1]} features but the model "
                             f"expects {n_features} (input_dim)")
        Y_val = _checks.targets("validation_data y", validation_data[1], X_val.shape[0],
                                self.loss_spec, n_out, self.dtype)
        weight = _checks.sample_weights(
            "validation_data sample_weight",
            validation_data[2] if len(validation_data) == 3 else None, X_val.shape[0],
            self.dtype)
        return X_val, Y_val, weight

    def _train(self, data, run, callbacks):
        n = data.X.shape[0]
        capacity = n if run.batch_size is None else min(run.batch_size, n)
        workspace = self._workspace(capacity)
        order = workspace.order_for(n)
        names = self._log_names(validation=data.X_val.shape[0] > 0)
        steps = -(-n // capacity)
        # a History among the callbacks is the one fit fills and returns, as in Keras
        history = next((c for c in callbacks if isinstance(c, History)), None)
        callbacks = [c for c in callbacks if c is not history]
        history = History() if history is None else history
        history.start(names)  # this call's epochs only, every key before the first
        history.set_model(self)
        history.params = {"verbose": run.given_verbose, "epochs": run.epochs, "steps": steps}
        recorders = [history]
        # Keras numbers this call's epochs initial_epoch, initial_epoch + 1, ...: the
        # model's own count (epochs_trained) minus this offset
        offset = self.epochs_trained - run.initial_epoch
        if run.verbose == 1 and _is_terminal():
            recorders.append(ProgressLogger(1, run.epochs, 0))
        elif run.verbose:
            recorders.append(EpochLines(run.epochs, 0, steps, rate_limited=run.verbose == 1))
        self.stop_training = False
        self._fit_complete = False  # BackupAndRestore keeps its backup unless set
        self.history = history
        end = self.epochs_trained + run.n_epochs  # before callbacks (a restore) move it
        for callback in callbacks:
            callback.set_model(self)
            callback.set_params(dict(history.params))
        interrupted = False
        with deferred_interrupt() as interrupt:
            try:
                for callback in callbacks:
                    callback.on_train_begin({})
                self._run_chunks(data, end, offset, capacity, workspace, order, run.shuffle,
                                 names, recorders, callbacks, interrupt)
                self._fit_complete = not interrupt.requested
            except KeyboardInterrupt:  # a second Ctrl-C: History is kept, then it goes on up
                interrupted = True
                raise
            finally:  # also on divergence: end the progress line, let callbacks finish
                interrupted = interrupted or interrupt.requested
                for recorder in recorders[1:]:
                    recorder.on_train_end({"interrupted": interrupted})
                last = {name: values[-1] for name, values in history.history.items()
                        if values}
                for callback in callbacks:
                    callback.on_train_end(last)
        if interrupted:
            warnings.warn(f"fit interrupted: the model keeps the weights of epoch "
                          f"{self.epochs_trained}, and History holds the epochs up to it",
                          RuntimeWarning, stacklevel=3)
        return history

    def _run_chunks(self, data, end, offset, capacity, workspace, order, shuffle, names,
                    recorders, callbacks, interrupt):
        """Call the fused kernel chunk after chunk until ``end`` epochs, a stop request
        or a Ctrl-C; record each chunk and run the callbacks. Callbacks and History see
        Keras' epoch numbers, the model's count minus ``offset``.

        A callback that needs every epoch (it overrides ``on_epoch_begin``/``_end``) makes
        chunks of one epoch; one with batch hooks makes each batch its own kernel call.
        Otherwise the compiled loop runs as many epochs as fit in ``CHUNK_SECONDS``, and
        log-only callbacks (``needs_every_epoch = False``) read each epoch's logs after
        the chunk."""
        per_epoch = [c for c in callbacks if c.needs_every_epoch]
        by_batch = [c for c in callbacks if c.needs_every_batch]
        late = [c for c in callbacks if not c.needs_every_epoch]
        chunk = 1
        while (self.epochs_trained < end and not self.stop_training
               and not interrupt.requested):
            n_epochs = 1 if per_epoch or by_batch else min(chunk, end - self.epochs_trained)
            logs = _EpochLogs(n_epochs, len(self._metric_codes), self.dtype)
            first = self.epochs_trained
            number = first - offset  # Keras' index of the chunk's first epoch
            for callback in per_epoch:
                callback.on_epoch_begin(number, {})
            # by absolute epoch and step, so a later fit or a resumed model continues a
            # schedule; a step schedule gives a rate per step
            lr = self.optimizer.learning_rates(first, n_epochs, self.dtype,
                                               steps_per_epoch=-(-data.X.shape[0] // capacity))
            started = time.perf_counter()
            interrupt.hold()  # a second Ctrl-C raises only once this chunk is recorded
            try:
                if by_batch:
                    self._train_by_batches(data, capacity, workspace, order, shuffle, lr,
                                           logs, by_batch)
                else:
                    self._train_epochs(data, capacity, workspace, order, shuffle, lr, logs)
            finally:  # also on Ctrl-C: record what the kernel completed
                done = self.epochs_trained - first
                elapsed = time.perf_counter() - started
                columns = logs.columns(names, done)
                if self.optimizer.scheduled:  # the rate changes: log it, as Keras
                    columns["learning_rate"] = lr[:done, 0].astype(np.float64)
                if done:
                    recorders[0].record_chunk(number, columns, elapsed)
                interrupt.release()
            added = {}  # what callbacks put in the logs: {name: one value per epoch}
            rolled_back = None  # the non-finite epoch TerminateOnNaN stopped at
            try:
                rolled_back = self._check_finite(first + done, number + done, callbacks,
                                                 lambda: logs.columns(names, done + 1))
                if rolled_back is not None:  # as Keras, History has it (weights: not)
                    self.stop_training = True
                    recorders[0].record_chunk(number + done, rolled_back)
                if data.X_val.shape[0]:
                    _checks.finite_results(f"fit, epoch {first + done}", "validation_data",
                                           logs.val_loss[:done])
                for i in range(done if callbacks else 0):  # no Python per epoch without them
                    epoch_logs = {name: float(values[i]) for name, values in columns.items()}
                    for callback in late:
                        callback.on_epoch_begin(number + i, {})
                    for callback in callbacks:
                        if callback.on_epoch_end(number + i, epoch_logs):
                            self.stop_training = True
                    extra = {k: v for k, v in epoch_logs.items() if k not in columns}
                    if extra:
                        recorders[0].record_extra(number + i, extra)
                    for name, value in extra.items():
                        added.setdefault(name, np.full(done, np.nan))[i] = value
            finally:  # the lines after the callbacks, as Keras' ProgbarLogger comes last
                for recorder in recorders[1:]:
                    if done:
                        recorder.record_chunk(number, {**columns, **added}, elapsed)
                    if rolled_back is not None:
                        recorder.record_chunk(number + done, rolled_back)
            chunk = _next_chunk(chunk, n_epochs, elapsed, bool(per_epoch or by_batch))

    def _train_epochs(self, data, capacity, workspace, order, shuffle, lr, logs,
                      X=None, Y=None, weight=None, validation=True):
        """One call of the fused kernel: ``lr.shape[0]`` epochs over (X, Y, weight)."""
        training = train_kernels.Dataset(data.X if X is None else X,
                                         data.Y if Y is None else Y,
                                         data.weight if weight is None else weight)
        validation = train_kernels.Dataset(*(
            (data.X_val, data.Y_val, data.weight_val) if validation
            else (data.X_val[:0], data.Y_val[:0], data.weight_val[:0])))
        network, objective = self._network(), self._objective(self._metric_codes)
        update = train_kernels.Update(self.optimizer.code, self.optimizer.hyper(self.dtype), lr,
                                      self._trainable_ranges(),
                                      self.optimizer.state_in_use(self.layout.n_params))
        train_kernels.train_epochs(
            train_kernels.State(self._params, self._opt_state, self._rng_state,
                                self._counters),
            train_kernels.Logs(logs.loss, logs.metrics, logs.val_loss, logs.val_metrics),
            workspace.kernel_scratch(order), training, validation, network,
            train_kernels.features(network, objective, update), self._extras(workspace),
            objective, self._metric_state, update, capacity, shuffle)

    def _network(self):
        """The kernels' ``Network``: the layer table, slopes and weight penalties; a
        frozen layer is FROZEN in the table and has no penalty (Keras adds the
        regularizers of trainable weights only)."""
        frozen = self._frozen()
        if not any(frozen):
            return train_kernels.Network(self.layout.table, self._slopes,
                                         self._regularization)
        table = self.layout.table.copy()
        table[:, network_kernels.FROZEN] = frozen
        table.setflags(write=self.layout.table.flags.writeable)  # the same kernel type
        regularization = self._regularization.copy()
        regularization[np.array(frozen)] = 0
        return train_kernels.Network(table, self._slopes, regularization)

    def _objective(self, metric_codes):
        """The kernels' ``Objective``: the loss (none yet: code 0, unused) and metrics."""
        if self.loss_spec is None:
            return train_kernels.Objective(0, np.zeros(losses.codes.N_HYPER, self.dtype),
                                           metric_codes)
        return train_kernels.Objective(self.loss_spec.code,
                                       self.loss_spec.hyper_vector(self.dtype), metric_codes)

    def _train_by_batches(self, data, capacity, workspace, order, shuffle, lr, logs,
                          callbacks):
        """One epoch, each batch its own kernel call between the batch hooks (the slow
        path batch callbacks ask for). The batches, their order and every update are
        those of the fused loop, so the weights come out bit for bit the same."""
        n = data.X.shape[0]
        start_state = self._state.copy()
        if shuffle and n > capacity:
            shuffle_order(order, self._rng_state)
        else:
            order[:] = np.arange(n)
        batch_logs = _EpochLogs(1, len(self._metric_codes), self.dtype)
        batch_order = np.zeros(0, np.int64)
        sums = np.zeros(1 + len(self._metric_codes))
        # the confusion counts add up over the batches: the epoch's value, not a mean
        state = self._metric_state
        counts = None if state is None else np.zeros_like(state[2])
        for batch, start in enumerate(range(0, n, capacity)):
            rows = order[start:start + capacity]
            for callback in callbacks:
                callback.on_train_batch_begin(batch, {})
            # this batch's rate (a step schedule's column b, else the epoch's only one)
            batch_lr = lr[:, [min(batch, lr.shape[1] - 1)]]  # a (1, 1) copy
            self._train_epochs(data, capacity, workspace, batch_order, False, batch_lr,
                               batch_logs, X=data.X[rows], Y=data.Y[rows],
                               weight=data.weight[rows], validation=False)
            self._counters[train_kernels.EPOCHS] -= 1
            if self._counters[train_kernels.STATUS] != train_kernels.OK:
                self.set_training_state(start_state)
                self._counters[train_kernels.STATUS] = train_kernels.NON_FINITE
                logs.loss[0] = batch_logs.loss[0]  # the epoch's values: not finite
                logs.metrics[0] = logs.val_loss[0] = logs.val_metrics[0] = np.nan
                return
            sums += len(rows) * np.concatenate([batch_logs.loss, batch_logs.metrics[0]])
            seen = min(start + capacity, n)
            means = sums / seen
            if state is not None:
                counts += state[2]
                self._counted_into(means[1:], counts)
            running = dict(zip(["loss"] + self._metric_names, means.tolist()))
            for callback in callbacks:
                if callback.on_train_batch_end(batch, running):
                    self.stop_training = True
        logs.loss[0] = means[0]
        logs.metrics[0] = means[1:]
        if data.X_val.shape[0]:
            logs.val_loss[0], logs.val_metrics[0] = self._score(data.X_val, data.Y_val,
                                                                data.weight_val, capacity)
        self._counters[train_kernels.EPOCHS] += 1

    def _counted_into(self, values, counts):
        """Overwrite the confusion-count metrics' entries of ``values`` (n_metrics,) with
        their values from ``counts`` (the kernels' formulas)."""
        settings, thresholds, _ = self._metric_state
        finished = np.zeros(len(self._metric_codes), self.dtype)
        metric_kernels.finish_metrics(finished, self._metric_codes,
                                      (settings, thresholds, counts),
                                      self.dtype.type(1))
        counted = np.isin(self._metric_codes, list(metric_kernels.COUNTED))
        values[counted] = finished[counted]

    def _check_finite(self, epoch, number, callbacks=(), columns=None):
        """After a kernel call that ended at the model's ``epoch`` (Keras' ``number``):
        raise on divergence, or, when a callback such as TerminateOnNaN asks to stop
        instead, return the rolled-back epoch's values (the last row of what
        ``columns()`` gives, {name: array of 1}); None if all was finite."""
        if self._counters[train_kernels.STATUS] != train_kernels.NON_FINITE:
            return None
        self._counters[train_kernels.STATUS] = train_kernels.OK
        stoppers = [c for c in callbacks if getattr(c, "stops_on_non_finite", False)]
        if stoppers:
            last = {name: values[-1:] for name, values in (columns() if columns else {}).items()}
            for callback in stoppers:
                callback.on_non_finite(number, {k: float(v[0]) for k, v in last.items()})
            return last
        raise FloatingPointError(
            f"training diverged: the loss or the weights became NaN or infinite in epoch "
            f"{epoch + 1}. The model keeps the weights of epoch {epoch} (model.history has the "
            "losses up to it; EarlyStopping(restore_best_weights=True) restores its best "
            "epoch instead). Lower the learning rate or scale the inputs.")

    def _log_names(self, validation):
        names = ["loss"] + self._metric_names
        return names + ["val_" + name for name in names] if validation else names

    # -------------------------------------------------------------- inference
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The network's outputs, (n_samples, n_out) in the model's dtype: sigmoid
        probabilities, softmax rows or raw values, as Keras' ``predict``. Class labels:
        ``predict_classes``.

        ``batch_size`` (default 32) only sets the step count of the progress line printed
        when ``verbose`` is 1 or 2 ("auto" is 1); the outputs do not depend on it."""
        verbose = _verbosity(verbose)
        batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
        _refuse_steps(steps, callbacks)
        started = time.perf_counter()
        out = self.predict_proba(x)
        if verbose:
            steps = -(-out.shape[0] // (batch_size or DEFAULT_BATCH_SIZE))
            print(step_line(steps, time.perf_counter() - started, {}), flush=True)
        return out

    def predict_proba(self, X):
        """The output layer's activations, (n_samples, n_out): probabilities for sigmoid
        and softmax outputs, raw values otherwise. ``predict`` without the progress line."""
        self._require_built("predict_proba")
        X = self._features("x", X)
        n_out = self.layout.sizes[-1]
        out = np.empty((X.shape[0], n_out), self.dtype)
        nothing = np.empty(0, self.dtype)  # no targets, weights or metrics: outputs only
        self._infer(out, X, nothing.reshape(0, n_out), nothing, nothing, np.empty(0, np.int64))
        _checks.finite_results("predict", "X", out)
        return out

    def predict_classes(self, X):
        """Class labels: 0/1 for sigmoid outputs (threshold 0.5; shape (n,) for one unit),
        class indices (n,) for softmax, raw outputs (n, n_out) otherwise."""
        probabilities = self.predict_proba(X)
        output = self._output_layer.activation_spec.name
        if output == "sigmoid":
            labels = (probabilities > 0.5).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        if output == "softmax":
            return probabilities.argmax(axis=1)
        return probabilities

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics over (x, y), as Keras 3 returns them: a float when the
        model has no metrics, else ``[loss, metric, ...]`` in ``metrics_names`` order, or
        ``{"loss": ..., metric: ...}`` with ``return_dict=True``.

        ``verbose`` 1 or 2 ("auto" is 1) prints Keras' line (steps of ``batch_size``, 32
        by default; the values do not depend on it)."""
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        verbose = _verbosity(verbose)
        batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
        _refuse_steps(steps, callbacks)
        return_dict = _checks.flag("return_dict", return_dict, ValueError)
        if x is None or y is None:
            raise ValueError("evaluate needs x and y as arrays")
        started = time.perf_counter()
        X = self._features("x", x)
        Y = _checks.targets("y", y, X.shape[0], self.loss_spec, self.layout.sizes[-1],
                            self.dtype)
        weight = _checks.sample_weights("sample_weight", sample_weight, X.shape[0], self.dtype)
        loss, means = self._score(X, Y, weight, batch_size)
        _checks.finite_results("evaluate", "X, y and sample_weight",
                               np.append(means, means.dtype.type(loss)))
        logs = {"loss": float(loss), **dict(zip(self._metric_names, means.tolist()))}
        if verbose:
            steps = -(-X.shape[0] // (batch_size or DEFAULT_BATCH_SIZE))
            print(step_line(steps, time.perf_counter() - started, logs), flush=True)
        return self._batch_result(logs, return_dict)

    # ------------------------------------------------------------ on one batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One gradient step on (x, y) as a single batch (Keras 3's signature). Returns
        the batch's loss and metrics before the step, as ``evaluate`` does (a float, a
        list in ``metrics_names`` order, or a dict). The step counts towards the
        optimizer's steps, not towards ``epochs_trained``."""
        with self._guard.training("train_on_batch"):
            self._require_compiled("train_on_batch")
            return_dict = _checks.flag("return_dict", return_dict, ValueError)
            if x is None or y is None:
                raise ValueError("train_on_batch needs x and y as arrays")
            data = self._training_data(x, y, 0.0, None, sample_weight, class_weight)
            self._build_for(data)
            n = data.X.shape[0]
            workspace = self._workspace(n)
            logs = _EpochLogs(1, len(self._metric_codes), self.dtype)
            lr = self.optimizer.learning_rates(self.epochs_trained, 1, self.dtype,
                                               steps_per_epoch=1)  # one step: exact
            with _blas_threads.for_training(self.layout.sizes, n, n):
                self._train_epochs(data, n, workspace, workspace.order_for(n), False, lr,
                                   logs, validation=False)
            if self._counters[train_kernels.STATUS] == train_kernels.NON_FINITE:
                self._counters[train_kernels.STATUS] = train_kernels.OK
                raise FloatingPointError(
                    "train_on_batch: the loss or the weights became NaN or infinite; the "
                    "model keeps its weights from before the step. Lower the learning rate "
                    "or scale the inputs.")
            self._counters[train_kernels.EPOCHS] -= 1  # a step, not an epoch
            values = {"loss": float(logs.loss[0]),
                      **dict(zip(self._metric_names, logs.metrics[0].tolist()))}
            return self._batch_result(values, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics over (x, y) as one batch: ``evaluate`` without the
        progress line (Keras 3's signature)."""
        return self.evaluate(x, y, sample_weight=sample_weight, verbose=0,
                             return_dict=_checks.flag("return_dict", return_dict, ValueError))

    def predict_on_batch(self, x):
        """The network's outputs for x: ``predict`` without the progress line."""
        return self.predict_proba(x)

    def __call__(self, inputs, training=False):
        """The outputs for an array of inputs, as calling a Keras model on a batch
        (a NumPy array; ``training=True``, Dropout's training mode, is not supported)."""
        if training not in (False, None):
            raise NotSupportedError("calling a model with training=True",
                                    "fit trains; a call runs inference")
        return self.predict_proba(inputs)

    def _batch_result(self, values, return_dict):
        if return_dict:
            return values
        return values["loss"] if not self._metric_names else list(values.values())

    def _score(self, X, Y, weight, batch_size=None):
        """(loss, metric means (n_metrics,)) over checked arrays; ``batch_size`` (None:
        32) matters only to a loss reduced batch by batch."""
        means = np.zeros(len(self._metric_codes), self.dtype)
        loss = self._infer(np.empty((0, Y.shape[1]), self.dtype), X, Y, weight, means,
                           self._metric_codes, metric_table.fresh_counts(self._metric_state),
                           batch_size)
        return loss, means

    def _infer(self, out, X, Y, weight, metric_means, metric_codes, metric_state=None,
               batch_size=None):
        """Run ``infer_dataset``: the outputs into ``out`` if it has rows; the loss
        (returned) and metrics (into ``metric_means``) against Y if Y has rows, in
        blocks of ``batch_size`` rows (None: 32) when the loss is reduced batch by
        batch, else of as many rows as the scratch buffers hold."""
        scoring = self.loss_spec is not None
        # each call its own scratch: concurrent calls from threads must not share it
        blocks = min(X.shape[0], PREDICT_CAPACITY)
        if scoring and Y.shape[0] and self.loss_spec.reduced_per_batch:
            blocks = batch_size or DEFAULT_BATCH_SIZE
        with self._scratch.borrow(blocks,
                                  lambda rows: Workspace(self.layout, rows, self.dtype)) \
                as workspace:
            network, objective = self._network(), self._objective(metric_codes)
            return train_kernels.infer_dataset(
                out, metric_means, workspace.kernel_scratch(workspace.order),
                train_kernels.Dataset(X, Y, weight), self._params, network,
                train_kernels.features(network, objective), self._extras(workspace),
                objective, metric_state, workspace.capacity)

    def _extras(self, workspace):
        """The kernels' ``extras``: None for a plain Dense stack (``layout.kernel_extras``)."""
        return self.layout.kernel_extras(self._moving, workspace, self._rng_state, self.dtype)

    # ---------------------------------------------------------------- weights
    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at ``index`` in ``layers`` (Keras' lookup)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer needs exactly one of name= or index=")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise TypeError(f"index must be an int; got {index!r}")
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"index {index} is out of range: the model has "
                                 f"{len(self._layers)} layers")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are "
                         f"{[layer.name for layer in self._layers]}")

    def build(self, input_shape=None):
        """Draw the weights for inputs of ``input_shape`` (Keras' ``(None, n)``, or
        ``(n,)``), as the first ``fit`` would."""
        if input_shape is None:
            self._require_built("build")
            return
        shape = tuple(input_shape)
        if shape and shape[0] is None:
            shape = shape[1:]
        if not shape or not all(isinstance(size, numbers.Integral) and size > 0
                                for size in shape):
            raise ValueError(f"input_shape must be (None, n) or (n,) with n > 0; got "
                             f"{input_shape!r}")
        shape = tuple(int(size) for size in shape)
        if self._input_shape is not None:
            if shape != self._input_shape:
                raise ValueError(f"the model's input shape is {self._input_shape}; "
                                 f"build got {shape}")
            return
        if len(shape) > 1 and not (self._layers and isinstance(self._layers[0], Flatten)):
            raise NotSupportedError(f"Dense layers on inputs of shape {shape}",
                                    "Put a fastann.layers.Flatten() first")
        self._input_shape = shape
        self._build_if_ready()

    def get_weights(self):
        """Copies [W1 (n_in, n_out), b1 (n_out,), W2, b2, ...], Keras' layout."""
        self._require_built("get_weights")
        return [view.copy() for view in self.layout.weight_views(self._params, self._moving)]

    @property
    def weights(self):
        """``get_weights()``: copies of every layer's arrays, in order."""
        return self.get_weights()

    def _layer_slots(self, layer):
        """Indices of ``layer``'s arrays in ``get_weights()``'s list."""
        for index, candidate in enumerate(self._stack):
            if candidate is layer:
                return [i for i, weight in enumerate(self.layout.weights)
                        if weight.layer == index]
        return []  # a Flatten: no weights

    def layer_output_units(self, layer):
        """The width of ``layer``'s output in the built model."""
        self._require_built("output_shape")
        for index, candidate in enumerate(self._stack):
            if candidate is layer:
                return self.layout.sizes[index + 1]
        return self.input_dim  # an input-side layer (Flatten): the flattened input

    def layer_weights(self, layer):
        """Copies of one layer's arrays (``layer.get_weights()``)."""
        self._require_built("get_weights")
        views = self.layout.weight_views(self._params, self._moving)
        return [views[i].copy() for i in self._layer_slots(layer)]

    def set_layer_weights(self, layer, weights):
        """Load one layer's arrays (``layer.set_weights()``); checked before copying."""
        self._require_built("set_weights")
        slots = self._layer_slots(layer)
        all_weights = self.get_weights()
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(f"{layer.name}.set_weights expects {len(slots)} arrays; got "
                             f"{len(weights)}")
        for slot, array in zip(slots, weights):
            all_weights[slot] = array
        self.set_weights(all_weights)

    def set_weights(self, weights):
        """Load weights in ``get_weights`` layout; checked whole before anything changes."""
        self._require_built("set_weights")
        self._guard.check_idle("set_weights")
        targets = self.layout.weight_views(self._params, self._moving)
        weights = list(weights)
        if len(weights) != len(targets):
            order = "[W1, b1, ...]" if self.layout.plain else "(get_weights' order)"
            raise ValueError(f"set_weights expects {len(targets)} arrays {order}; got "
                             f"{len(weights)}")
        checked = []
        for index, (given, target, slot) in enumerate(zip(weights, targets,
                                                          self.layout.weights)):
            name = f"weights[{index}] ({slot.label})"
            array = _checks.numeric_in_dtype(name, given, self.dtype)
            if array.shape != target.shape:
                raise ValueError(f"{name} must have shape {target.shape}; got {array.shape}")
            checked.append(array)
        self.layout.check_weights(checked)
        for array, target in zip(checked, targets):
            target[...] = array

    # ----------------------------------------------------------- architecture
    def get_config(self):
        """The architecture as plain JSON-able data, Keras' Sequential form:
        ``{"name", "trainable", "dtype", "seed", "input_shape", "layers": [{"class_name",
        "config"}]}``.
        ``from_config`` rebuilds an untrained model from it; ``summary``, ``to_json`` and
        the save file are derived from it."""
        return {"name": self.name, "trainable": self._trainable, "dtype": self.dtype.name,
                "seed": self.seed,
                "input_shape": None if self._input_shape is None else list(self._input_shape),
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers]}

    @classmethod
    def from_config(cls, config):
        """A new, untrained model from ``get_config()``'s dict (weights drawn from its
        seed, as the original's were): a ``Sequential`` unless called on a subclass."""
        if not isinstance(config, dict) or "layers" not in config:
            raise ValueError(f"{cls.__name__}.from_config expects get_config()'s dict with "
                             f"'layers'; got {config!r}")
        known = {"name", "trainable", "dtype", "seed", "input_shape", "layers"}
        if set(config) - known:
            raise ValueError(f"{cls.__name__} config has unknown keys "
                             f"{sorted(set(config) - known)}; expected some of {sorted(known)}")
        layers = [Layer.from_config(item) for item in config["layers"]]
        shape = config.get("input_shape")
        if shape is not None:
            layers = [InputLayer(shape=tuple(shape))] + layers
        target = Sequential if cls is Model else cls
        model = target(layers, dtype=config.get("dtype", "float32"), seed=config.get("seed"),
                       name=config.get("name"))
        if not config.get("trainable", True):
            model.trainable = False  # (its layers' configs say False too)
        return model

    def get_compile_config(self):
        """{"optimizer", "loss", "metrics"} of the last ``compile``, or None. The
        optimizer is its ``get_config()`` (which a custom schedule does not have)."""
        if self._compile_config is None:
            return None
        return {"optimizer": self.optimizer.get_config(), **json.loads(
            json.dumps(self._compile_config))}

    def to_json(self, **kwargs):
        """``{"class_name": "Sequential", "config": get_config()}`` as a JSON string
        (``kwargs`` go to ``json.dumps``); ``fastann.models.model_from_json`` reads it."""
        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    def save(self, path, overwrite=True, zipped=None):
        """Write the model to one ``.npz`` file (``.npz`` is appended if missing), atomically:
        architecture, weights, compile settings, optimizer and shuffling state and the
        epoch and step counts, so ``fastann.load_model(path)`` continues training exactly.
        A path ending in ``.keras`` writes a Keras 3 archive instead
        (``fastann.export.keras_file``). Returns the path written. Models with a Flatten
        are not saved to ``.npz`` yet (the file stores the Dense stack): ``to_json`` and
        ``get_weights`` describe them."""
        name = os.fspath(path).lower() if isinstance(path, (str, os.PathLike)) else ""
        keras_file = name.endswith(".keras")
        if name.endswith((".h5", ".hdf5")):
            raise NotSupportedError(f"saving to {os.fspath(path)!r} (Keras' legacy HDF5 "
                                    "format)", "save to a .keras or .npz path")
        if zipped not in (None, True):
            raise NotSupportedError("zipped=False", "both file formats are zip archives")
        if name and not name.endswith((".keras", ".npz")):
            path = os.fspath(path) + ".npz"  # what the .npz writer adds
        _refuse_overwrite(path, overwrite)
        return FILE_WRITERS[".keras" if keras_file else ".npz"](self, path)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Write the weights (and, once compiled, the optimizer's variables) to a Keras 3
        ``.weights.h5`` file, atomically, as Keras' ``save_weights``: Keras'
        ``load_weights`` reads it into the same architecture, and so does fastann's."""
        from .export.keras_file import save_weights
        if max_shard_size is not None:
            raise NotSupportedError("max_shard_size", "the weights go to one file")
        _refuse_overwrite(filepath, overwrite)
        return save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights from a ``.weights.h5`` file (``save_weights``, fastann's or
        Keras') or a ``.keras`` archive of the same architecture; checked whole before
        any weight changes (Keras' signature; ``skip_mismatch`` must stay False)."""
        from .export.keras_file import load_weights
        if skip_mismatch is not False or kwargs:
            raise NotSupportedError("load_weights(skip_mismatch=True) or other options",
                                    "the file must match the architecture")
        self._require_built("load_weights")
        self._guard.check_idle("load_weights")
        load_weights(self, filepath)

    def export(self, filepath, format="onnx", verbose=None, input_signature=None, **kwargs):
        """Write the inference graph for serving, as Keras 3's ``Model.export``.

        Parameters
        ----------
        filepath : str or path-like
        format : {"onnx"}
            The only format fastann writes (``pip install 'fastann[onnx]'``).
        verbose : bool, optional
            Print where the file went.
        input_signature : None
            Accepted for Keras' signature; the input is always ``input`` of shape
            (batch, n_features) in the model's dtype.
        opset_version : int, optional
            ONNX opset (default ``fastann.export.onnx.OPSET``).

        Returns
        -------
        str
            The path written.
        """
        if format != "onnx":
            raise ValueError(f"format must be 'onnx' (the one export format fastann "
                             f"writes); got {format!r}")
        if input_signature is not None:
            raise ValueError("input_signature must be None: the ONNX input is always "
                             "'input' of shape (batch, n_features) in the model's dtype")
        unknown = sorted(set(kwargs) - {"opset_version"})
        if unknown:
            raise TypeError(f"export got unexpected keyword arguments {unknown}; "
                            "expected opset_version")
        from .export.onnx import export_onnx
        path = export_onnx(self, filepath, **kwargs)
        if verbose:
            print(f"Saved the ONNX inference graph to {path}")
        return path

    def summary(self, line_length=None, positions=None, print_fn=None, file=None,
                expand_nested=False, show_trainable=False, layer_range=None):
        """Print Keras 3's table: each layer's name and type, output shape and parameter
        count, then the totals with their sizes in bytes (and, once the optimizer has
        taken a step, its variables). ``print_fn`` (a function of one string) or ``file``
        take the text instead of stdout; ``line_length`` and ``positions`` (the columns'
        right edges, fractions of the line) as in Keras; ``show_trainable`` adds Keras'
        "Trainable" column (Y, N, or - for a layer without weights)."""
        if layer_range is not None:
            raise NotSupportedError("summary(layer_range=...)", "every layer is shown")
        show_trainable = _checks.flag("summary show_trainable", show_trainable)
        header, alignments = ["Layer (type)", "Output Shape", "Param #"], ["<", "<", ">"]
        rows = [[f"{layer.name} ({kind})", f"(None, {units})", count]
                for layer, kind, units, count in self._summary_rows()]
        if show_trainable:  # Keras' widths: every column 0.9 of its place, then this one
            header.append("Trainable")
            alignments.append("^")
            positions = [p * 0.9 for p in positions or _SUMMARY_POSITIONS] + [1.0]
            for row, layer in zip(rows, self._layers):
                row.append(("Y" if layer.trainable else "N") if self.built and
                           self._layer_slots(layer) else "-")
        lines = [f'Model: "{self.name}"', *_box_table(header, rows, line_length, positions,
                                                      alignments)]
        itemsize = self.dtype.itemsize
        if self.built:
            trainable = self._trained_params()
            frozen = self.layout.n_params + self.layout.n_moving - trainable
            optimizer = self._optimizer_variable_count()
            counts = [("Total", trainable + frozen + optimizer),
                      ("Trainable", trainable), ("Non-trainable", frozen)]
            if optimizer:
                counts.append(("Optimizer", optimizer))
            lines += [f" {what} params: {count:,} ({_readable_bytes(count * itemsize)})"
                      for what, count in counts]
        else:
            lines += [f" {what} params: unknown until the input size is known"
                      for what in ("Total", "Trainable", "Non-trainable")]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        else:
            print(text, file=file or sys.stdout)

    def _summary_rows(self):
        """(layer, class name, output units, parameter count) per layer, counts as text."""
        n_units = self.input_dim
        index = 0  # position in the kernels' stack
        for layer in self._layers:
            kind = type(layer).__name__
            if isinstance(layer, INPUT_SIDE):
                yield layer, kind, n_units or "?", "0"
                continue
            if self.built:
                n_units = self.layout.sizes[index + 1]
                count = f"{self.layout.layer_size(index):,}"
            else:
                n_units, count = getattr(layer, "units", None) or "?", "?"
            yield layer, kind, n_units, count
            index += 1

    def _optimizer_variable_count(self):
        """Keras' "Optimizer params": the state slots the rule uses, plus its iteration
        count and learning rate; 0 until it has taken a step (Keras builds it then)."""
        if self.optimizer is None or not self._counters[train_kernels.STEPS]:
            return 0
        slots = sum(len(group) for group in self.optimizer.slot_groups())
        return slots * self._trained_params() + self.optimizer.n_scalars + 2

    def _trained_params(self):
        """How many parameters gradient descent moves (Keras' "Trainable params")."""
        return sum(slot.size for slot, trains in zip(self.layout.weights, self._trains())
                   if trains)

    def __setstate__(self, state):
        """Unpickling (and deepcopy): the layers point back at this copy."""
        self.__dict__.setdefault("_trainable", True)  # a model pickled before the flag
        self.__dict__.update(state)
        if self.built:
            for layer in self._layers:
                layer._attach(self)

    def __repr__(self):
        sizes = self.layout.sizes if self.built else ("?",) + tuple(
            getattr(layer, "units", "?") for layer in self._stack)
        return (f"{type(self).__name__}({'-'.join(map(str, sizes))}, dtype={self.dtype.name}, "
                f"epochs_trained={self.epochs_trained})")


class Sequential(Model):
    """Keras' ``Sequential(layers=None, trainable=True, name=None)``: the same class as
    ``Model``, with Keras' argument order; ``input_dim``, ``dtype`` and ``seed`` are
    keywords. ``trainable=False`` freezes the model (see ``Model.trainable``)."""

    _default_name = "sequential"

    def __init__(self, layers=None, trainable=True, name=None, *, input_dim=None,
                 dtype="float32", seed=None):
        _checks.flag("Sequential trainable", trainable)
        super().__init__(layers, input_dim=input_dim, dtype=dtype, seed=seed, name=name)
        if not trainable:
            self.trainable = False


class _Run:
    """The settings of one ``fit`` call."""

    def __init__(self, **settings):
        self.__dict__.update(settings)


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


_SUMMARY_POSITIONS = (0.45, 0.80, 1.0)  # Keras' right edges of the summary's columns


def _box_table(header, rows, line_length=None, positions=None, alignments=("<", "<", ">")):
    """The lines of a table drawn as Keras' summary draws it (with rich): heavy header
    box, a rule between rows; each column aligned by its format code in ``alignments``
    (left, centre or right: "<", "^", ">")."""
    default = 88 + 12 * (len(header) - 3)  # Keras' 88, 12 more for "Trainable"
    length = line_length or min(default, shutil.get_terminal_size().columns - 4)
    edges = [int(p * length) if p <= 1 else int(p) for p in (positions or _SUMMARY_POSITIONS)]
    widths = [right - left for left, right in zip([0] + edges[:-1], edges)]
    # rich's table: each column its width plus its padding, then the excess over the line
    # less the borders taken from the columns evenly, rounding as it goes
    cells, excess = [width + 2 for width in widths], sum(widths) + 3 * len(widths) + 1 - length
    for i, remaining in enumerate(range(len(cells), 0, -1)):
        share = min(cells[i], round(excess / remaining))
        cells[i] -= share
        excess -= share
    cells = [max(cell, 4) for cell in cells]

    def row(values, bar):
        wrapped = [_wrap_cell(str(value), cell - 2) for value, cell in zip(values, cells)]
        lines = []
        for k in range(max(map(len, wrapped))):
            texts = [f" {text[k]:{align}{cell - 2}} " if k < len(text) else " " * cell
                     for text, cell, align in zip(wrapped, cells, alignments)]
            lines.append(bar + bar.join(texts) + bar)
        return lines

    def rule(left, middle, right, line):
        return left + middle.join(line * cell for cell in cells) + right

    lines = [rule("┏", "┳", "┓", "━"), *row(header, "┃"), rule("┡", "╇", "┩", "━")]
    for i, values in enumerate(rows):
        if i:
            lines.append(rule("├", "┼", "┤", "─"))
        lines += row(values, "│")
    lines.append(rule("└", "┴", "┘", "─"))
    return lines


def _wrap_cell(text, width):
    """``text`` in lines of at most ``width`` characters, as rich wraps a cell: whole
    words, a word longer than the line cut with an ellipsis."""
    lines = []
    for word in text.split():
        if len(word) > width:
            word = word[:width - 1] + "…"
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _readable_bytes(size):
    """Keras' memory size text: ``84.00 B``, ``1.00 KB``, ... (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


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


def _is_terminal():
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _verbosity(verbose):
    """Keras' verbose: "auto" and True are 1, False is 0."""
    if verbose == "auto" or verbose is True:
        return 1
    if verbose is False:
        return 0
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1, 2, True or False; got {verbose!r}")
    return int(verbose)


def _refuse_overwrite(path, overwrite):
    """Keras' ``overwrite=False``: a FileExistsError when ``path`` exists."""
    if not _checks.flag("overwrite", overwrite, ValueError) and isinstance(
            path, (str, os.PathLike)) and os.path.exists(path):
        raise FileExistsError(f"{os.fspath(path)!r} exists and overwrite=False")


def _refuse_steps(steps, callbacks):
    if steps is not None:
        raise NotSupportedError(f"steps={steps!r}", "every row of x is used")
    if callbacks:
        raise NotSupportedError("callbacks in predict/evaluate",
                                "only fit runs callbacks")


def _lookup_callable(what, value, lookup, valid):
    """``lookup(value)``, with a not-supported error for a Python callable (a custom
    loss or metric function the kernels cannot run)."""
    try:
        return lookup(value)
    except TypeError:
        if callable(value):
            raise NotSupportedError(
                f"a callable {what} ({getattr(value, '__name__', type(value).__name__)})",
                f"the kernels compute it, so name a built-in one: {valid}") from None
        raise


def _callback_list(callbacks):
    if isinstance(callbacks, Callback):
        raise TypeError("callbacks must be a list of Callback instances; got a single "
                        f"{type(callbacks).__name__} (wrap it in a list)")
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be fastann.callbacks.Callback instances; got "
                            f"{type(callback).__name__}")
    return callbacks


def _looks_like_metrics(value):
    """Whether compile's third positional argument is a metric list (Keras 2's order,
    ``compile(optimizer, loss, metrics)``) rather than loss weights (numbers)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return bool(items) and all(isinstance(item, (str, metric_table.Metric)) or callable(item)
                               for item in items)


def _is_unit_weight(value):
    """loss_weights a single output may take: 1.0 or [1.0] (the loss unscaled)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return (len(items) == 1 and isinstance(items[0], numbers.Real)
            and not isinstance(items[0], bool) and items[0] == 1)


def _pairs(items):
    return zip(items[0::2], items[1::2])


def _is_dtype_like(value):
    try:
        np.dtype(value)
        return True
    except TypeError:
        return False
