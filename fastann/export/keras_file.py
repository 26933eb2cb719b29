"""Keras 3 ``.keras`` archives, both ways.

``save_keras(model, path)`` (``Model.save("m.keras")``) writes the zip Keras 3 writes:

=====================  ===============================================================
member                 contents
=====================  ===============================================================
``metadata.json``      ``keras_version`` (the Keras layout followed), ``date_saved``
``config.json``        a ``Sequential``: an ``InputLayer`` (batch, n_features), then one
                       Keras layer per fastann layer, and ``compile_config`` when the
                       model is compiled and its optimizer has a Keras equal
``model.weights.h5``   ``layers/<kind>[_<k>]/vars/<i>``: each layer's weights in Keras'
                       order (the group is named by the class and its count, as Keras
                       does), ``optimizer/vars/<i>``: iterations, learning rate and the
                       optimizer's slots per trainable variable
=====================  ===============================================================

``load_keras(path)`` (``fastann.load_model("m.keras")``) reads such an archive when it
holds a ``Sequential`` of ``InputLayer``, ``Dense``, ``Activation``, ``Dropout``,
``BatchNormalization`` (and ``LeakyReLU`` right after a linear ``Dense``), with the
activations, initialisers and regularisers fastann has; anything else raises a
``ValueError`` naming the file, the layer and the option.

Optimizer state: fastann's SGD (with momentum), Adam, AdamW, Nadam and RMSprop follow
Keras 3's update rules, decoupled ``weight_decay`` and clipping (``clipnorm``,
``clipvalue``, ``global_clipnorm``) included, so their options, slots (momentum; momentum
and velocity, and amsgrad's largest velocity; velocity, momentum and average gradient),
Nadam's momentum cache, the iteration count and the learning rate travel both ways.
Learning-rate schedules, Adagrad and Adamax are not mapped: such a model is written
without a ``compile_config`` (with a warning). On reading, a Keras optimizer option
fastann has no rule for (EMA, a schedule) leaves the model uncompiled, with a warning
naming it.

Reading trusts nothing: no code is imported or run (layers, activations and optimizers are
looked up in the tables below, ``Lambda`` and custom objects are refused), nothing is
unpickled; the archive is opened through ``fastann._safe_zip``, as fastann's own files
are (devices and FIFOs refused unread, encrypted or overlapping members refused, every
member's declared size checked against the bytes in the file before it is read);
config.json is read (at most 16 MiB) and checked first, and model.weights.h5 is read
only if its size is within what that config's layers imply (8 bytes for each value of
a weight and of up to three optimizer slots, plus HDF5's records: ``_weight_file_limit``),
so a small archive declaring a huge weights member is refused before it is inflated;
every HDF5 dataset's shape, dtype and stored size is checked against what the config
implies, and HDF5 links and external storage are refused.
"""
import io
import json
import math
import os
import re
import stat
import time
import warnings
import zipfile
import zlib

import numpy as np

from .._safe_zip import UnsafeZipError, open_zip
from ..model import FILE_WRITERS, Sequential
from ._layers import activation_name, describe, fspath, require, write_atomically

KERAS_VERSION = "3.15.1"  # the Keras release whose archive layout this follows
MEMBERS = ("metadata.json", "config.json", "model.weights.h5")
MAX_JSON_BYTES = 16 * 2**20
# What model.weights.h5 may hold beyond its numbers: HDF5's superblock and heaps, and
# per group or dataset its object header and names (Keras 3 writes about 0.7-1.1 KB of
# them per object, measured), with room to spare.
H5_BASE_BYTES = 64 * 2**10
H5_BYTES_PER_OBJECT = 4 * 2**10
# Values per weight the file may hold: the weight and up to three optimizer slots (Adam's
# moments and amsgrad's largest velocity; a centred RMSprop's three with momentum)
H5_VALUES_PER_WEIGHT = 4

# fastann activation name -> Keras' name (None: Keras has no such activation)
TO_KERAS_ACTIVATION = {
    "linear": "linear", "relu": "relu", "leaky_relu": "leaky_relu", "sigmoid": "sigmoid",
    "tanh": "tanh", "softmax": "softmax", "elu": "elu", "selu": "selu", "gelu": "gelu",
    "softplus": "softplus", "softsign": "softsign", "swish": "silu", "silu": "silu",
    "hard_sigmoid": "hard_sigmoid", "relu6": "relu6", "exponential": "exponential",
    "mish": "mish", "step": None,
}
# Keras' name -> the names fastann may call it, first match in fastann's table wins
FROM_KERAS_ACTIVATION = {
    "linear": ("linear",), "relu": ("relu",), "leaky_relu": ("leaky_relu",),
    "sigmoid": ("sigmoid",), "tanh": ("tanh",), "softmax": ("softmax",), "elu": ("elu",),
    "selu": ("selu",), "gelu": ("gelu",), "softplus": ("softplus",),
    "softsign": ("softsign",), "silu": ("swish", "silu"), "swish": ("swish", "silu"),
    "hard_sigmoid": ("hard_sigmoid",), "relu6": ("relu6",),
    "exponential": ("exponential",), "mish": ("mish",),
}
KERAS_LEAKY_SLOPE = 0.2  # what Keras' "leaky_relu" activation string means

# fastann initializer name -> Keras initializer class (scaled_normal: RandomNormal)
TO_KERAS_INITIALIZER = {"glorot_uniform": "GlorotUniform", "he_normal": "HeNormal",
                        "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform",
                        "zeros": "Zeros", "ones": "Ones"}
FROM_KERAS_INITIALIZER = {v: k for k, v in TO_KERAS_INITIALIZER.items()}


class _Invalid(Exception):
    """A problem with the archive; ``load_keras`` re-raises it as ValueError."""


# =========================================================================== save
def save_keras(model, path):
    """Write ``model`` as a Keras 3 ``.keras`` archive at ``path``, atomically.

    Parameters
    ----------
    model : fastann.Model
        Built (its input size known).
    path : str or path-like
        Must end in ``.keras``.

    Returns
    -------
    str
        The path written. ``keras.saving.load_model(path)`` loads it and predicts what
        ``model.predict_proba`` predicts.

    Raises
    ------
    ValueError
        A layer or activation Keras cannot express (``step``).
    ImportError
        h5py is missing (``pip install 'fastann[keras]'``).
    """
    require("h5py", "keras", "Writing a .keras file")
    path = fspath(path, "path")
    if not path.lower().endswith(".keras"):
        raise ValueError(f"path must end in .keras; got {path!r}")
    dtype = model.dtype.name
    layers, weight_groups = _keras_layers(model, "save as .keras")
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "trainable": model.trainable,
                         "dtype": _policy(dtype),
                         "layers": layers, "build_input_shape": [None, model.input_dim]},
              "build_config": {"input_shape": [None, model.input_dim]}}
    optimizer = _keras_optimizer(model)
    if optimizer is not None:
        config["compile_config"] = {
            "optimizer": optimizer[0], "loss": model.loss_spec.name, "loss_weights": None,
            "metrics": _keras_metrics(model) or None, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": "auto"}
    weights = _weights_h5(model, weight_groups, optimizer)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(config, allow_nan=False))
        zf.writestr("model.weights.h5", weights)
    write_atomically(path, archive.getvalue())
    return path


def _keras_layers(model, action):
    """Keras' layer configs for ``model`` (its InputLayer first) and the weights of each,
    ``[(h5 group path, layer name, [arrays])]``, with Keras' automatic layer names."""
    dtype = model.dtype.name
    layers = [_keras_layer("InputLayer", "input_layer", dtype, {
        "batch_shape": [None, model.input_dim], "dtype": dtype, "sparse": False,
        "ragged": False, "name": "input_layer", "optional": False})]
    weight_groups = []
    counts = {}
    for info in describe(model, action):
        for class_name, config, arrays in _SAVERS[info.kind](info):
            stem = _snake_case(class_name)
            k = counts.get(stem, 0)
            counts[stem] = k + 1
            name = stem if k == 0 else f"{stem}_{k}"
            config = dict(config, name=name, dtype=_policy(dtype),
                          trainable=bool(info.layer.trainable and model.trainable))
            entry = _keras_layer(class_name, name, dtype, config)
            if class_name in ("Dense", "BatchNormalization"):
                entry["build_config"] = {"input_shape": [None, info.n_in if class_name ==
                                                         "Dense" else info.n_out]}
            layers.append(entry)
            weight_groups.append((f"layers/{name}", name, arrays))
    return layers, weight_groups


def _weights_h5(model, weight_groups, optimizer):
    """The bytes of Keras' weights file: each layer's arrays under
    ``layers/<name>/vars/<i>``, then the optimizer's variables when ``optimizer``
    (``_keras_optimizer``'s (config, arrays)) is given."""
    import h5py

    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        h5.create_group("layers")
        for group_path, name, arrays in weight_groups:
            group = h5.create_group(group_path + "/vars")
            group.attrs["name"] = name
            for i, array in enumerate(arrays):
                group.create_dataset(str(i), data=np.asarray(array, model.dtype))
        h5.create_group("vars").attrs["name"] = "sequential"
        if optimizer is not None:
            group = h5.create_group("optimizer/vars")
            group.attrs["name"] = optimizer[0]["config"]["name"]
            for i, array in enumerate(optimizer[1]):
                group.create_dataset(str(i), data=array)
    return weights.getvalue()


WEIGHTS_SUFFIX = ".weights.h5"


def save_weights(model, path):
    """Write ``model``'s weights (and its optimizer's variables, once compiled) as Keras
    3's ``model.save_weights`` does: an HDF5 file ending in ``.weights.h5`` that
    ``keras_model.load_weights`` reads into the same architecture. Atomic; returns
    the path."""
    require("h5py", "keras", "Writing a .weights.h5 file")
    path = fspath(path, "filepath")
    if not path.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"The filename must end in `{WEIGHTS_SUFFIX}` (as Keras 3 requires); "
                         f"got {path!r}")
    _, weight_groups = _keras_layers(model, "save_weights")
    write_atomically(path, _weights_h5(model, weight_groups, _keras_optimizer(model)))
    return path


def load_weights(model, path):
    """Load the weights of a ``.weights.h5`` file (Keras' ``save_weights``, fastann's or
    Keras') or of a ``.keras`` archive into ``model``, which must have the same
    architecture. Everything is read and checked before any weight changes; the
    optimizer's state is left as it is."""
    path = fspath(path, "filepath")
    if path.endswith(".keras"):
        model.set_weights(load_keras(path).get_weights())
        return
    if not path.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"load_weights reads `{WEIGHTS_SUFFIX}` or `.keras` files; got "
                         f"{path!r}")
    h5py = require("h5py", "keras", "Reading a .weights.h5 file")
    if not stat.S_ISREG(os.stat(path).st_mode):  # FileNotFoundError for a missing one
        raise ValueError(f"{path!r} is not a regular file")
    _, weight_groups = _keras_layers(model, "load_weights")
    try:
        with h5py.File(path, "r") as h5:
            arrays = [array for group, _, expected in weight_groups
                      for array in _read_vars(h5, f"{group}/vars",
                                              [np.shape(a) for a in expected],
                                              model.dtype)]
    except _Invalid as error:
        raise ValueError(f"{path!r} does not hold this model's weights: {error}") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path!r} is not a valid {WEIGHTS_SUFFIX} file: "
                         f"{type(error).__name__}: {error}") from error
    model.set_weights(arrays)


def model_from_keras_config(config):
    """An untrained fastann Sequential from a Keras model config: the dict of a Keras
    model's ``to_json()`` (or a ``.keras`` archive's ``config.json``), read by the same
    checked reader as ``.keras`` files (Keras' own layers only, never code)."""
    try:
        spec = _read_config(config)
        return Sequential(spec["layers"], trainable=spec["trainable"],
                          input_dim=spec["input_dim"], dtype=spec["dtype"])
    except _Invalid as error:
        raise ValueError(f"fastann cannot read this Keras model: {error}") from None


def _keras_layer(class_name, name, dtype, config):
    return {"module": "keras.layers", "class_name": class_name, "config": config,
            "registered_name": None}


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _snake_case(name):
    """Keras' ``naming.to_snake_case``: how it names a layer's group in the weights."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _initializer(class_name, **config):
    return {"module": "keras.initializers", "class_name": class_name, "config": config,
            "registered_name": None}


def _keras_activation(info):
    name = info.activation
    keras_name = TO_KERAS_ACTIVATION.get(name)
    if keras_name is None:
        raise ValueError(f"save as .keras: layer {info.index} ({info.kind}) uses the "
                         f"{name!r} activation, which Keras does not have"
                         + ("; export to ONNX instead" if name == "step" else ""))
    return keras_name


def _regularizer(value, where):
    """A fastann regularizer (None, a Keras-style object with l1/l2, or its config dict)
    as Keras' config."""
    if value is None:
        return None
    if isinstance(value, dict) and "class_name" in value:
        return value
    config = value.get_config() if hasattr(value, "get_config") else value
    if isinstance(config, dict):
        l1, l2 = float(config.get("l1", 0.0)), float(config.get("l2", 0.0))
    else:
        l1, l2 = float(getattr(value, "l1", 0.0)), float(getattr(value, "l2", 0.0))
    if l1 and l2:
        return {"module": "keras.regularizers", "class_name": "L1L2",
                "config": {"l1": l1, "l2": l2}, "registered_name": None}
    kind = "L1" if l1 else "L2"
    return {"module": "keras.regularizers", "class_name": kind,
            "config": {kind.lower(): l1 or l2}, "registered_name": None}


def _save_dense(info):
    layer = info.layer
    activation = _keras_activation(info)
    slope = float(getattr(layer, "negative_slope", KERAS_LEAKY_SLOPE))
    split_leaky = activation == "leaky_relu" and not math.isclose(slope, KERAS_LEAKY_SLOPE)
    init = str(getattr(layer, "kernel_initializer", "glorot_uniform")).lower()
    if init == "scaled_normal":
        kernel_init = _initializer("RandomNormal", mean=0.0,
                                   stddev=float(getattr(layer, "init_scale", 0.01)),
                                   seed=None)
    elif init in TO_KERAS_INITIALIZER:
        kernel_init = _initializer(TO_KERAS_INITIALIZER[init], seed=None)
    else:
        raise ValueError(f"save as .keras: layer {info.index} (Dense) uses the "
                         f"{init!r} kernel_initializer, which has no Keras equal here")
    bias_init = str(getattr(layer, "bias_initializer", None) or "zeros").lower()
    config = {
        "units": int(layer.units), "activation": "linear" if split_leaky else activation,
        "use_bias": len(info.weights) == 2, "kernel_initializer": kernel_init,
        "bias_initializer": _initializer(TO_KERAS_INITIALIZER.get(bias_init, "Zeros")),
        "kernel_regularizer": _regularizer(getattr(layer, "kernel_regularizer", None),
                                           "kernel_regularizer"),
        "bias_regularizer": _regularizer(getattr(layer, "bias_regularizer", None),
                                         "bias_regularizer"),
        "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}
    layers = [("Dense", config, info.weights)]
    if split_leaky:  # Keras' activation string means slope 0.2; any other is a layer
        layers.append(("LeakyReLU", {"negative_slope": slope}, []))
    return layers


def _save_activation(info):
    return [("Activation", {"activation": _keras_activation(info)}, [])]


def _save_dropout(info):
    return [("Dropout", {"rate": float(getattr(info.layer, "rate", 0.0)), "seed": None,
                         "noise_shape": None}, [])]


def _save_batch_normalization(info):
    layer = info.layer
    config = {"axis": -1, "momentum": float(getattr(layer, "momentum", 0.99)),
              "epsilon": float(getattr(layer, "epsilon", 1e-3)),
              "center": bool(getattr(layer, "center", True)),
              "scale": bool(getattr(layer, "scale", True)),
              "beta_initializer": _initializer("Zeros"),
              "gamma_initializer": _initializer("Ones"),
              "moving_mean_initializer": _initializer("Zeros"),
              "moving_variance_initializer": _initializer("Ones"),
              "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
              "gamma_constraint": None, "synchronized": False}
    return [("BatchNormalization", config, info.weights)]


_SAVERS = {"Dense": _save_dense, "Activation": _save_activation, "Dropout": _save_dropout,
           "BatchNormalization": _save_batch_normalization}

_KERAS_OPTIMIZER_COMMON = {"use_ema": False, "ema_momentum": 0.99,
                           "ema_overwrite_frequency": None, "loss_scale_factor": None,
                           "gradient_accumulation_steps": None}
_CLIPPING = ("clipnorm", "global_clipnorm", "clipvalue")


def _keras_order(groups, n_variables):
    """(slot, variable) of each optimizer array Keras keeps, in its order: a group's
    slots interleaved per variable, then the next group (``Optimizer.slot_groups``)."""
    return [(slot, variable) for group in groups for variable in range(n_variables)
            for slot in group]


# Keras class name: (fastann name, the arguments both share, Keras' fixed options); the
# optimizer's ``slot_groups()`` and ``n_scalars`` say where its variables are
_KERAS_OPTIMIZERS = {
    "SGD": ("sgd", ("momentum", "nesterov"), {}),
    "Adam": ("adam", ("beta_1", "beta_2", "epsilon", "amsgrad"), {}),
    "AdamW": ("adamw", ("beta_1", "beta_2", "epsilon", "amsgrad"), {}),
    "Nadam": ("nadam", ("beta_1", "beta_2", "epsilon"), {}),
    "RMSprop": ("rmsprop", ("rho", "momentum", "epsilon", "centered"), {}),
}
_KERAS_CLASS = {entry[0]: class_name for class_name, entry in _KERAS_OPTIMIZERS.items()}


def _keras_metrics(model):
    """The compiled metrics as Keras writes them: names, and objects as
    ``{"module": "keras.metrics", "class_name", "config"}``."""
    return [metric if isinstance(metric, str) else
            {"module": "keras.metrics", "class_name": metric["class_name"],
             "config": metric["config"], "registered_name": None}
            for metric in model.get_compile_config()["metrics"]]


def _fastann_metrics(metrics):
    """Keras' compiled metrics (names, or serialized metric objects) as fastann's."""
    from .. import metrics as metric_table
    if not isinstance(metrics, list):
        raise _Unsupported(f"metrics {_short(metrics)} (fastann reads a list)")
    read = []
    for metric in metrics:
        if isinstance(metric, dict) and metric.get("module", "keras.metrics") in (
                "keras.metrics", "builtins") and metric.get("registered_name") is None:
            try:
                metric = metric_table.get({"class_name": metric.get("class_name"),
                                           "config": metric.get("config")})
            except (TypeError, ValueError) as error:
                raise _Unsupported(f"metric {_short(metric)} ({error})") from None
        elif not isinstance(metric, str):
            raise _Unsupported(f"metric {_short(metric)} (fastann reads names and Keras' "
                               "built-in metric objects)")
        read.append(metric)
    return read


def _keras_optimizer(model):
    """(Keras optimizer config, [optimizer arrays]) or None when not compiled or when the
    optimizer has no Keras equal (warned)."""
    optimizer = model.optimizer
    if optimizer is None:
        return None
    reason = None
    if getattr(optimizer, "scheduled", False):
        reason = "a learning-rate schedule"
    elif type(optimizer).name not in _KERAS_CLASS:  # the class's name, not the instance's
        reason = f"the {type(optimizer).name!r} optimizer"
    if reason:
        warnings.warn(f"the .keras file is written without compile settings: fastann's "
                      f"{type(optimizer).__name__} uses {reason}, which Keras cannot "
                      "reproduce", UserWarning, stacklevel=4)
        return None
    class_name = _KERAS_CLASS[type(optimizer).name]
    _, shared, fixed = _KERAS_OPTIMIZERS[class_name]
    lr = float(optimizer.lr)
    config = {"name": optimizer.name, "learning_rate": lr,
              "weight_decay": float(optimizer.weight_decay) or None,
              **{key: getattr(optimizer, key) for key in _CLIPPING},
              **_KERAS_OPTIMIZER_COMMON,
              **{key: getattr(optimizer, key) for key in shared}, **fixed}
    groups, n_scalars = optimizer.slot_groups(), optimizer.n_scalars
    from ..kernels import optimizers as optimizer_kernels

    state = model.get_training_state()
    steps = state.steps
    arrays = [np.array(steps, np.int64), np.array(lr, model.dtype)]
    slots = _slot_views(model, state)
    description = {"module": "keras.optimizers", "class_name": class_name, "config": config,
                   "registered_name": None}
    if slots is None:  # a layout this module does not know: weights only
        return description, arrays
    arrays += [slots[s][variable].copy() for s, variable in _keras_order(groups,
                                                                        len(slots[0]))]
    scalars = state.opt_state[optimizer_kernels.N_SLOTS * state.params.shape[0]:]
    # Nadam's u_product: Keras starts it at 1, fastann's zeroed state means "not yet"
    arrays += [np.array(scalars[i] if steps else 1.0, model.dtype) for i in range(n_scalars)]
    return description, arrays


def _slot_views(model, state):
    """[slot][variable] views of a ``TrainingState``'s optimizer state, variables in
    Keras' trainable order (BatchNormalization's moving statistics and frozen layers'
    weights have no slots), or None when the state's layout is not the parameters'
    (another layout)."""
    from ..kernels.optimizers import N_SLOTS

    trained = [w for w, trains in zip(model.layout.weights, model._trains()) if trains]
    n = state.params.shape[0]
    slots = [state.opt_state[s * n:(s + 1) * n] for s in range(N_SLOTS)]
    if any(slot.shape != (n,) for slot in slots):
        return None
    return [[slot[w.offset:w.offset + w.size].reshape(w.shape) for w in trained]
            for slot in slots]


# =========================================================================== load
def load_keras(path):
    """Read a Keras 3 ``.keras`` archive of a Sequential model into a fastann Model.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    fastann.Model
        With the archive's weights, in its dtype (float32 or float64); compiled with its
        optimizer state when the compile settings have fastann equals.

    Raises
    ------
    ValueError
        Naming the file, for a malformed archive, and the layer and option for anything
        fastann cannot read.
    FileNotFoundError
        No such file.
    """
    path = fspath(path, "path")
    try:  # refuses devices, FIFOs, forged sizes and zip bombs before reading a member
        archive = open_zip(path, max_members=len(MEMBERS) + 8)
    except UnsafeZipError as error:
        raise ValueError(f"{path!r} is not a valid .keras file: {error.reason}") from None
    with archive:
        try:
            return _load(archive)
        except _Invalid as error:
            raise ValueError(f"{path!r} cannot be read as a Keras model: {error}") from None
        except (ValueError, TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile,
                zlib.error, RecursionError, NotImplementedError, OverflowError) as error:
            raise ValueError(f"{path!r} is not a valid .keras file: "
                             f"{type(error).__name__}: {error}") from error


def _load(archive):
    """The model in a checked archive: config.json is read and checked first, and
    model.weights.h5 only once its size is within what that config implies."""
    names = _member_names(archive)
    config = _parse_json(archive.read("config.json", MAX_JSON_BYTES), "config.json")
    if "metadata.json" in names:
        _parse_json(archive.read("metadata.json", MAX_JSON_BYTES), "metadata.json")
    spec = _read_config(config)
    h5py = require("h5py", "keras", "Reading a .keras file")
    size, limit = archive.size("model.weights.h5"), _weight_file_limit(spec)
    if size > limit:
        raise _Invalid(f"model.weights.h5 holds {size:,} bytes; the layers config.json "
                       f"describes need at most {limit:,} (their weights, optimizer "
                       "slots and HDF5's own records)")
    with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        weights = [_read_vars(h5, f"layers/{group}/vars", shapes, spec["dtype"])
                   for group, shapes in spec["weight_groups"]]
        optimizer_arrays = None
        if spec["compile"] is not None and "optimizer" in h5:
            optimizer_arrays = _read_optimizer_vars(h5, spec["dtype"])
    model = _build(spec, [a for group in weights for a in group])
    if spec["compile"] is not None:
        _compile(model, spec["compile"], optimizer_arrays)
    return model


def _member_names(archive):
    """The names of a checked archive's members, refusing any a .keras file does not
    hold and requiring config.json and model.weights.h5."""
    names = [name for name in archive.names if not name.endswith("/")]
    unexpected = sorted(set(names) - set(MEMBERS))
    if unexpected:
        raise _Invalid(f"it holds members {unexpected}, which fastann does not read "
                       f"(expected {list(MEMBERS)}; assets are not supported)")
    for required in ("config.json", "model.weights.h5"):
        if required not in names:
            raise _Invalid(f"it has no {required!r} (it holds {names})")
    return names


def _weight_file_limit(spec):
    """The most bytes model.weights.h5 may hold for the layers ``spec`` describes: 8
    bytes per value of each weight and its optimizer slots, and HDF5's records for
    every layer group, weight and optimizer variable (iterations, learning rate, the
    slots, Nadam's scalar)."""
    shapes = [shape for _, group in spec["weight_groups"] for shape in group]
    n_values = sum(math.prod(shape) for shape in shapes)
    n_objects = 2 * len(spec["weight_groups"]) + (1 + H5_VALUES_PER_WEIGHT) * len(shapes) + 8
    return (H5_BASE_BYTES + H5_BYTES_PER_OBJECT * n_objects
            + 8 * H5_VALUES_PER_WEIGHT * n_values)


def _parse_json(content, member):
    def no_constants(name):
        raise _Invalid(f"{member} holds {name}, which is not JSON")

    try:
        value = json.loads(content.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Invalid(f"{member} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise _Invalid(f"{member} must hold a JSON object; got {type(value).__name__}")
    return value


def _object(entry, where):
    """(class_name, config) of a serialized Keras object, refusing custom ones."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise _Invalid(f"{where} must be a serialized Keras object with a class_name; got "
                       f"{_short(entry)}")
    module = entry.get("module")
    registered = entry.get("registered_name")
    if (module is not None and not (isinstance(module, str) and
                                    (module == "keras" or module.startswith("keras.")))) or (
            registered not in (None, entry["class_name"])):
        raise _Invalid(f"{where} is the custom object {entry['class_name']!r} (module "
                       f"{module!r}, registered as {registered!r}); fastann reads only "
                       "Keras' own layers and never imports code")
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise _Invalid(f"{where}'s config must be a JSON object; got {_short(config)}")
    return entry["class_name"], config


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dtype_name(value, where):
    if isinstance(value, dict):
        _, config = _object(value, where)
        value = config.get("name")
    if value is None:
        return None
    if value not in ("float32", "float64"):
        raise _Invalid(f"{where} is {value!r}; fastann models are 'float32' or 'float64'")
    return value


def _read_config(config):
    class_name, model_config = _object(config, "the model")
    if class_name != "Sequential":
        raise _Invalid(f"the model is a {class_name}; fastann reads Sequential models only")
    layers = model_config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _Invalid("the Sequential has no list of layers")
    dtype = _dtype_name(model_config.get("dtype"), "the model's dtype") or "float32"
    build = model_config.get("build_input_shape") or (config.get("build_config") or {}).get(
        "input_shape")
    width = _feature_count(build, "the model's build_input_shape") if build else None
    spec = {"dtype": dtype, "layers": [], "weight_groups": [], "compile": None,
            "trainable": _trainable_flag(model_config, "the model's")}
    counts = {}
    for index, entry in enumerate(layers):
        where = f"layer {index}"
        kind, layer_config = _object(entry, where)
        name = layer_config.get("name", kind)
        where = f"layer {index} ({name!r}, {kind})"
        if kind == "InputLayer":
            shape = layer_config.get("batch_shape", layer_config.get("batch_input_shape"))
            width = _feature_count(shape, f"{where} batch_shape")
            layer_dtype = _dtype_name(layer_config.get("dtype"), f"{where} dtype")
            dtype = layer_dtype or dtype
            continue
        if kind not in _READERS:
            hint = (" (a Lambda layer holds Python code, which fastann never runs)"
                    if kind == "Lambda" else "")
            raise _Invalid(f"{where}: fastann cannot read {kind} layers{hint}; it reads "
                           f"{sorted(_READERS) + ['InputLayer']}")
        if width is None:
            raise _Invalid(f"{where}: the input size is not given (no InputLayer or "
                           "build_input_shape before it)")
        spec.setdefault("input_dim", width)
        layer_dtype = _dtype_name(layer_config.get("dtype"), f"{where} dtype")
        if layer_dtype not in (None, dtype):
            raise _Invalid(f"{where} computes in {layer_dtype}, the model in {dtype}; "
                           "fastann models have one dtype")
        made, shapes, width = _READERS[kind](layer_config, where, width, spec["layers"])
        trainable = _trainable_flag(layer_config, f"{where}:")
        if made is not None:
            made.trainable = trainable
        stem = _snake_case(kind)
        k = counts.get(stem, 0)
        counts[stem] = k + 1
        spec["weight_groups"].append((stem if k == 0 else f"{stem}_{k}", shapes))
        if made is not None:
            spec["layers"].append(made)
    if not spec["layers"]:
        raise _Invalid("the Sequential has no layers besides its input")
    spec["dtype"] = dtype  # the InputLayer's, which Keras' layers follow
    if "compile_config" in config and config["compile_config"] is not None:
        spec["compile"] = config["compile_config"]
        if not isinstance(spec["compile"], dict):
            raise _Invalid("compile_config must be a JSON object")
    return spec


def _trainable_flag(config, where):
    """A Keras config's ``trainable`` (true when absent), checked to be a bool."""
    trainable = config.get("trainable", True)
    if not isinstance(trainable, bool):
        raise _Invalid(f"{where} trainable must be true or false; got {_short(trainable)}")
    return trainable


def _feature_count(shape, where):
    if (not isinstance(shape, list) or len(shape) != 2 or shape[0] is not None and not
            isinstance(shape[0], int) or isinstance(shape[1], bool)
            or not isinstance(shape[1], int) or shape[1] < 1):
        raise _Invalid(f"{where} must be [batch, n_features] with a positive n_features "
                       f"(fastann reads flat inputs); got {_short(shape)}")
    return shape[1]


def _require_none(config, keys, where):
    for key in keys:
        if config.get(key) is not None:
            raise _Invalid(f"{where}: option {key}={_short(config[key])} is not supported "
                           "by fastann")


def _require_equal(config, key, allowed, where):
    if key in config and config[key] not in allowed:
        raise _Invalid(f"{where}: option {key}={_short(config[key])} is not supported by "
                       f"fastann (it reads {allowed})")


def _fastann_activation(value, where):
    """fastann's name for a Keras activation (a name, or a serialized function)."""
    from .. import activations

    if isinstance(value, dict):
        class_name, _ = _object(value, f"{where} activation")
        value = value.get("config") if class_name == "function" else class_name
    if value is None:
        value = "linear"
    if not isinstance(value, str):
        raise _Invalid(f"{where}: activation must be a name; got {_short(value)}")
    for name in FROM_KERAS_ACTIVATION.get(value.lower(), ()):
        if name in activations.ACTIVATIONS:
            return activations.ACTIVATIONS[name].name
    known = sorted(n for n in FROM_KERAS_ACTIVATION
                   if any(m in activations.ACTIVATIONS for m in FROM_KERAS_ACTIVATION[n]))
    raise _Invalid(f"{where}: activation {value!r} is not one fastann has; it reads {known}")


def _layer_class(kind, where):
    from .. import layers

    cls = getattr(layers, kind, None)
    if cls is None:
        raise _Invalid(f"{where}: this fastann has no {kind} layer")
    return cls


def _accepts(cls, argument):
    import inspect

    try:
        return argument in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _fastann_initializer(value, where, key, allowed_default):
    class_name, config = _object(value, f"{where} {key}") if value is not None else (
        allowed_default, {})
    if class_name == "RandomNormal" and key == "kernel_initializer" and \
            float(config.get("mean", 0.0)) == 0.0:
        return "scaled_normal", float(config.get("stddev", 0.05))
    name = FROM_KERAS_INITIALIZER.get(class_name)
    if name is None:
        raise _Invalid(f"{where}: {key} {class_name} is not one fastann has (it reads "
                       f"{sorted(FROM_KERAS_INITIALIZER)} and RandomNormal)")
    return name, None


def _fastann_regularizer(value, where, key):
    if value is None:
        return None
    class_name, config = _object(value, f"{where} {key}")
    if class_name not in ("L1", "L2", "L1L2"):
        raise _Invalid(f"{where}: {key} {class_name} is not supported (fastann reads L1, "
                       "L2 and L1L2)")
    return {"class_name": class_name, "config": dict(config)}


def _read_dense(config, where, width, made):
    from .. import initializers

    _require_none(config, ("kernel_constraint", "bias_constraint", "quantization_config",
                           "lora_rank"), where)
    units = config.get("units")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise _Invalid(f"{where}: units must be a positive integer; got {_short(units)}")
    cls = _layer_class("Dense", where)
    kwargs = {"units": units, "activation": _fastann_activation(config.get("activation"),
                                                                where)}
    init, scale = _fastann_initializer(config.get("kernel_initializer"), where,
                                       "kernel_initializer", "GlorotUniform")
    if init not in initializers.INITIALIZERS:
        raise _Invalid(f"{where}: kernel_initializer {init!r} is not one fastann has "
                       f"({sorted(initializers.INITIALIZERS)})")
    kwargs["kernel_initializer"] = init
    if scale is not None:
        kwargs["init_scale"] = scale
    use_bias = config.get("use_bias", True)
    if use_bias is not True:
        if use_bias is not False or not _accepts(cls, "use_bias"):
            raise _Invalid(f"{where}: option use_bias={use_bias!r} is not supported by "
                           "this fastann")
        kwargs["use_bias"] = False
    bias_init, _ = _fastann_initializer(config.get("bias_initializer"), where,
                                        "bias_initializer", "Zeros")
    if bias_init != "zeros":
        if not _accepts(cls, "bias_initializer"):
            raise _Invalid(f"{where}: option bias_initializer={bias_init!r} is not "
                           "supported by this fastann (its biases start at zero)")
        kwargs["bias_initializer"] = bias_init
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
        regularizer = _fastann_regularizer(config.get(key), where, key)
        if regularizer is not None:
            if not _accepts(cls, key):
                raise _Invalid(f"{where}: option {key}={regularizer['class_name']} is not "
                               "supported by this fastann")
            kwargs[key] = _regularizer_object(regularizer)
    shapes = [(width, units)] + ([(units,)] if use_bias else [])
    try:
        return cls(**kwargs), shapes, units
    except (TypeError, ValueError) as error:
        raise _Invalid(f"{where}: {error}") from None


def _regularizer_object(spec):
    """fastann's regularizer for an L1/L2/L1L2 config: its own class if it has one,
    else the config dict."""
    try:
        from .. import regularizers
    except ImportError:
        return {"class_name": spec["class_name"], "config": spec["config"]}
    cls = getattr(regularizers, spec["class_name"], None)
    return cls(**spec["config"]) if cls is not None else spec


def _read_leaky_relu(config, where, width, made):
    slope = config.get("negative_slope", config.get("alpha", 0.3))
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise _Invalid(f"{where}: negative_slope must be a number; got {_short(slope)}")
    previous = made[-1] if made else None
    if previous is None or type(previous).__name__ != "Dense" or \
            activation_name(previous) != "linear":
        raise _Invalid(f"{where}: fastann reads a LeakyReLU layer only right after a "
                       "Dense layer with a linear activation")
    import dataclasses

    if not dataclasses.is_dataclass(previous) or not _accepts(type(previous),
                                                              "negative_slope"):
        raise _Invalid(f"{where}: this fastann's Dense has no negative_slope")
    try:
        made[-1] = dataclasses.replace(previous, activation="leaky_relu",
                                       negative_slope=float(slope))
    except (TypeError, ValueError) as error:
        raise _Invalid(f"{where}: {error}") from None
    return None, [], width


def _read_activation(config, where, width, made):
    cls = _layer_class("Activation", where)
    name = _fastann_activation(config.get("activation"), where)
    try:
        return cls(name), [], width
    except (TypeError, ValueError) as error:
        raise _Invalid(f"{where}: {error}") from None


def _read_dropout(config, where, width, made):
    _require_none(config, ("noise_shape",), where)
    cls = _layer_class("Dropout", where)
    rate = config.get("rate", 0.0)
    try:
        return cls(rate), [], width
    except (TypeError, ValueError) as error:
        raise _Invalid(f"{where}: {error}") from None


def _read_batch_normalization(config, where, width, made):
    _require_equal(config, "axis", (-1, 1, [-1], [1]), where)
    _require_none(config, ("beta_regularizer", "gamma_regularizer", "beta_constraint",
                           "gamma_constraint", "renorm_clipping"), where)
    _require_equal(config, "renorm", (False,), where)
    _require_equal(config, "synchronized", (False,), where)
    cls = _layer_class("BatchNormalization", where)
    kwargs = {}
    for key in ("momentum", "epsilon", "center", "scale"):
        if key in config:
            if not _accepts(cls, key):
                default = {"center": True, "scale": True}.get(key)
                if config[key] != default:
                    raise _Invalid(f"{where}: option {key}={config[key]!r} is not "
                                   "supported by this fastann")
                continue
            kwargs[key] = config[key]
    n = 2 + bool(config.get("center", True)) + bool(config.get("scale", True))
    try:
        return cls(**kwargs), [(width,)] * n, width
    except (TypeError, ValueError) as error:
        raise _Invalid(f"{where}: {error}") from None


_READERS = {"Dense": _read_dense, "Activation": _read_activation, "Dropout": _read_dropout,
            "BatchNormalization": _read_batch_normalization, "LeakyReLU": _read_leaky_relu}


def _dataset(h5, path, where):
    """The dataset at ``path``, refusing links and external or filtered storage."""
    import h5py

    node, parts = h5, path.split("/")
    for i, part in enumerate(parts):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise _Invalid(f"model.weights.h5 entry {'/'.join(parts[:i + 1])!r} is a "
                           f"{type(link).__name__}; fastann reads plain datasets only")
        node = node[part]
    if isinstance(node, h5py.Dataset):
        if node.external or node.compression or node.is_virtual:
            raise _Invalid(f"model.weights.h5 dataset {path!r} uses external, virtual or "
                           "compressed storage, which Keras does not write")
    return node


def _read_array(h5, path, shape, dtype, where):
    import h5py

    node = _dataset(h5, path, where)
    if node is None or not isinstance(node, h5py.Dataset):
        raise _Invalid(f"model.weights.h5 has no dataset {path!r} ({where})")
    if node.dtype.kind not in "fiu" or node.shape != tuple(shape):
        raise _Invalid(f"model.weights.h5 dataset {path!r} ({where}) must be numbers of "
                       f"shape {tuple(shape)}; got {node.dtype} of shape {node.shape}")
    declared = math.prod(node.shape) * node.dtype.itemsize
    if declared and node.id.get_storage_size() < declared:
        raise _Invalid(f"model.weights.h5 dataset {path!r} declares {declared} bytes but "
                       f"stores {node.id.get_storage_size()}")
    array = np.asarray(node[()], dtype=dtype)
    if not np.isfinite(array).all():
        raise _Invalid(f"model.weights.h5 dataset {path!r} holds NaN or infinite values")
    return array


def _read_vars(h5, group, shapes, dtype):
    import h5py

    node = _dataset(h5, group, group)
    if node is None and not shapes:
        return []
    if node is None or not isinstance(node, h5py.Group):
        raise _Invalid(f"model.weights.h5 has no group {group!r}")
    if len(node) != len(shapes):
        raise _Invalid(f"model.weights.h5 group {group!r} holds {len(node)} arrays; the "
                       f"layer needs {len(shapes)} of shapes {shapes}")
    return [_read_array(h5, f"{group}/{i}", shape, dtype, group)
            for i, shape in enumerate(shapes)]


def _read_optimizer_vars(h5, dtype):
    import h5py

    node = _dataset(h5, "optimizer/vars", "optimizer")
    if node is None or not isinstance(node, h5py.Group):
        return None
    arrays = []
    for i in range(len(node)):
        entry = _dataset(h5, f"optimizer/vars/{i}", "optimizer")
        if entry is None or not isinstance(entry, h5py.Dataset):
            raise _Invalid(f"model.weights.h5 has no dataset 'optimizer/vars/{i}'")
        arrays.append(_read_array(h5, f"optimizer/vars/{i}", entry.shape,
                                  np.int64 if entry.dtype.kind in "iu" else dtype,
                                  "optimizer"))
    return arrays


def _build(spec, weights):

    try:
        model = Sequential(spec["layers"], input_dim=spec["input_dim"], dtype=spec["dtype"],
                           seed=0)
    except (TypeError, ValueError) as error:
        raise _Invalid(f"fastann cannot build this stack of layers: {error}") from None
    expected = model.get_weights()
    if len(expected) != len(weights) or any(
            a.shape != b.shape for a, b in zip(expected, weights)):
        raise _Invalid(f"the weights' shapes {[w.shape for w in weights]} are not the "
                       f"model's {[w.shape for w in expected]}")
    model.set_weights(weights)
    if not spec["trainable"]:
        model.trainable = False
    return model


# Keras optimizer options fastann has no rule for, and the values that are harmless
_OPTIMIZER_NEUTRAL = {"use_ema": (False,), "loss_scale_factor": (None,),
                      "gradient_accumulation_steps": (None,)}


def _compile(model, compile_config, optimizer_arrays):
    """Compile ``model`` as the archive says, with the optimizer state, or warn and leave
    it uncompiled when a setting has no fastann equal."""
    if compile_config.get("optimizer") is None or compile_config.get("loss") is None:
        return  # Keras writes an empty compile_config for an uncompiled model
    try:
        try:
            optimizer, counts = _fastann_optimizer(compile_config.get("optimizer"))
        except _Invalid as error:
            raise _Unsupported(str(error)) from None
        loss = compile_config.get("loss")
        if not isinstance(loss, str):
            raise _Unsupported(f"loss {_short(loss)} (fastann reads a loss name)")
        metrics = _fastann_metrics(compile_config.get("metrics") or [])
        for key in ("loss_weights", "weighted_metrics"):
            if compile_config.get(key) is not None:
                raise _Unsupported(f"{key}={_short(compile_config[key])}")
        try:
            model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
        except (TypeError, ValueError) as error:
            raise _Unsupported(str(error)) from None
    except _Unsupported as reason:
        warnings.warn(f"the model is loaded uncompiled: its compile settings use "
                      f"{reason}, which fastann cannot reproduce", UserWarning, stacklevel=4)
        return
    if optimizer_arrays:
        _restore_optimizer(model, optimizer_arrays, counts)


class _Unsupported(Exception):
    pass


def _fastann_optimizer(entry):
    from .. import optimizers

    if isinstance(entry, str):
        try:
            return optimizers.get(entry), None
        except (TypeError, ValueError) as error:
            raise _Unsupported(f"optimizer {entry!r} ({error})") from None
    class_name, config = _object(entry, "compile_config optimizer")
    if class_name not in _KERAS_OPTIMIZERS:
        raise _Unsupported(f"the {class_name} optimizer")
    name, shared, _ = _KERAS_OPTIMIZERS[class_name]
    for key, neutral in _OPTIMIZER_NEUTRAL.items():
        if key in config and config[key] not in neutral:
            raise _Unsupported(f"{class_name} {key}={_short(config[key])}")
    lr = config.get("learning_rate", 0.001)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise _Unsupported(f"learning_rate {_short(lr)} (a schedule)")
    arguments = {k: config[k] for k in shared + _CLIPPING if config.get(k) is not None}
    if config.get("weight_decay") is not None or class_name != "AdamW":
        arguments["weight_decay"] = config.get("weight_decay")
    try:
        optimizer = optimizers.OPTIMIZERS[name](lr=lr, **arguments)
    except (TypeError, ValueError) as error:
        raise _Unsupported(f"{class_name} {error}") from None
    return optimizer, (optimizer.slot_groups(), optimizer.n_scalars)


def _restore_optimizer(model, arrays, counts):
    """iterations, learning_rate, the slot groups' arrays in ``_keras_order``, then the
    optimizer's scalars (Nadam's u_product)."""
    from ..kernels import optimizers as optimizer_kernels
    from ..kernels import train as train_kernels

    if counts is None:
        return
    groups, n_scalars = counts
    state = model.get_training_state()  # filled in, then loaded back whole
    slots = _slot_views(model, state)
    if slots is None:
        return
    order = _keras_order(groups, len(slots[0]))
    expected = 2 + len(order) + n_scalars
    if len(arrays) != expected or arrays[0].shape != () or any(
            a.shape != () for a in arrays[expected - n_scalars:]):
        warnings.warn(f"the optimizer state is not loaded: the archive holds "
                      f"{len(arrays)} optimizer arrays, the model needs {expected}",
                      UserWarning, stacklevel=5)
        return
    steps = int(arrays[0])
    if any(arrays[2 + i].shape != slots[s][variable].shape
           for i, (s, variable) in enumerate(order)):
        warnings.warn("the optimizer state is not loaded: its arrays do not have the "
                      "shapes of the model's variables", UserWarning, stacklevel=5)
        return
    for i, (s, variable) in enumerate(order):
        slots[s][variable][...] = arrays[2 + i]
    scalars = state.opt_state[optimizer_kernels.N_SLOTS * state.params.shape[0]:]
    for i in range(n_scalars):
        scalars[i] = arrays[expected - n_scalars + i]
    if steps >= 0:
        state.counters[train_kernels.STEPS] = steps
    try:
        model.set_training_state(state)
    except ValueError as error:  # values training cannot continue from
        warnings.warn(f"the optimizer state is not loaded: {error}", UserWarning,
                      stacklevel=5)


FILE_WRITERS[".keras"] = save_keras
