"""Saving a model to one ``.npz`` file and loading it back, exactly.

The file holds everything training depends on, so ``fit`` on a loaded model continues
bit for bit where the saved one stopped: the architecture, dtype and seed; the loss,
metrics, optimizer configuration and optimizer state; the shuffling RNG state; the epoch
and step counters. Its arrays:

======================  =====================  =====================================
key                     shape, dtype           contents
======================  =====================  =====================================
``config``              (), unicode            JSON: format, format_version, dtype,
                                               seed, input_dim, trainable, layers,
                                               compile
``params``              (n_params,), dtype     the flat parameters (layout.py)
``opt_state``           (3 * n_params + 1,)    optimizer state; only when compiled
``rng_state``           (1,), uint64           the shuffling generator's state
``counters``            (N_COUNTERS,), int64   epochs, steps, status
``moving``              (n_moving,), dtype     non-trainable state (BatchNormalization's
                                               moving statistics); only when there is
======================  =====================  =====================================

A Dense layer is saved as its fields; any other layer as ``{"class_name": ..., **its
fields}`` (``LAYER_CLASSES``), rebuilt by calling that class with the fields.

Loading trusts nothing in the file. The archive is opened through ``_safe_zip``, so
every resource is bounded by the bytes the file really holds (devices, FIFOs, encrypted,
overlapping or implausibly compressed members are refused before any data is read);
arrays are read with ``allow_pickle=False``; the config's JSON may hold no NaN or
infinity, nor a number that overflows to one; layers, the loss, metrics and the
optimizer are rebuilt from fastann's own name tables (a name is looked up, never
imported); every array's header is checked against the shape and dtype the
configuration implies before its data is read, and no model is built before that. Any
problem raises a ``ValueError`` that names the file.

Saving over an existing file keeps its permission bits (the new file gets the old one's
mode; a new path gets the umask's), and saving through a symbolic link replaces the
file it points to, not the link. A path that exists but is not a regular file (a
directory, a device) is refused before anything is written.
"""
import dataclasses
import json
import math
import os
import struct
import zipfile
import zlib

import numpy as np

from . import _safe_zip, activations, losses, optimizers
from ._atomic_files import existing_target, write_atomically
from .kernels import losses as loss_codes
from .kernels import train as train_kernels
from .kernels import optimizers as optimizer_kernels
from .kernels.optimizers import state_length
from .layers import Activation, BatchNormalization, Dense, Dropout
from .layout import Layout
from ._errors import NotSupportedError
from .model import DTYPES, FILE_WRITERS, INPUT_SIDE, Model, Sequential

FORMAT = "fastann.model"
FORMAT_VERSION = 3
# Version 1 (before Nadam's momentum cache and Keras' decoupled weight_decay) kept
# 2 * n_params optimizer-state entries; it is read by appending a fresh cache entry,
# unless its optimizer had a weight_decay, whose meaning (L2 in the gradient) changed.
# Version 2 (before amsgrad and RMSprop's momentum and centred forms) kept two slots,
# 2 * n_params + 1 entries; both are read with a fresh (zero) third slot put in.
READABLE_VERSIONS = (1, 2, FORMAT_VERSION)
# Optimizer slots per version: the state is N_SLOTS slots of n_params, then the scalars.
_SLOTS_IN_VERSION = {1: 2, 2: 2}
SUFFIX = ".npz"
_LAYER_KEYS = ("units", "activation", "kernel_initializer", "init_scale", "negative_slope")
_CONFIG_KEYS = {"format", "format_version", "dtype", "seed", "input_dim", "layers", "compile"}
_COMPILE_KEYS = {"loss", "metrics", "optimizer"}
_ARRAYS = ("config", "params", "opt_state", "rng_state", "counters", "moving")
# The layer types saved as {"class_name": name, **fields} (Dense keeps its own keys).
LAYER_CLASSES = {cls.__name__: cls for cls in (Activation, Dropout, BatchNormalization)}


class _Invalid(Exception):
    """A problem with the file's contents; ``load_model`` re-raises it as ValueError."""


# ------------------------------------------------------------------------- save
def save_model(model, path):
    """Write ``model`` to ``path`` (``.npz`` is appended if missing), atomically.

    The file is written to a temporary file in the same directory, flushed to disk and
    renamed over ``path``, so ``path`` is either the old file or the complete new one,
    never a partial write. Returns the path written.
    """
    if not isinstance(model, Model):
        raise TypeError(f"save_model expects a fastann.Model; got {type(model).__name__}")
    model._require_built("save")
    if any(isinstance(layer, INPUT_SIDE) for layer in model.layers):
        raise NotSupportedError("saving a model with a Flatten layer to .npz yet",
                                "Keep model.to_json() and model.get_weights() instead")
    model._guard.check_idle("save")  # mid-fit in another thread: a mix of two steps
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path.endswith(SUFFIX):
        path += SUFFIX
    path, mode = existing_target(path)
    state = model.get_training_state()
    try:  # load_model's rules, so that no file is written that it would refuse
        state.check_values(model.layout, model.optimizer)
    except ValueError as error:
        raise ValueError(f"cannot save to {path!r}: {error}") from None
    arrays = {
        "config": np.array(json.dumps(_config(model), allow_nan=False, sort_keys=True)),
        "params": state.params,
        "rng_state": state.rng_state,
        "counters": state.counters,
    }
    if model.loss_spec is not None:
        arrays["opt_state"] = state.opt_state
    if model.layout.n_moving:
        arrays["moving"] = state.moving
    # a file object: savez appends no suffix
    write_atomically(path, lambda file: np.savez(file, **arrays), mode)
    return path


def _config(model):
    layers = [_layer_config(layer) for layer in model.layers]
    compiled = None
    if model.loss_spec is not None:
        compiled = {"loss": model.loss_spec.name, "metrics": model.get_compile_config()["metrics"],
                    "optimizer": optimizers.saved_config(model.optimizer)}
        options = _loss_options(model.loss_spec)
        if options:  # Huber(delta), from_logits, the focal loss' gamma and alpha
            compiled["loss_options"] = options
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "dtype": model.dtype.name,
            "seed": model.seed, "input_dim": model.input_dim, "trainable": model.trainable,
            "layers": layers, "compile": compiled}


def _loss_options(spec):
    """What a loss object set beyond its table entry's defaults: ``{"hyper": [[position,
    value], ...], "output_activation": name}`` (the keys that differ), or {}."""
    base = losses.get(spec.name)
    options = {}
    if spec.hyper != base.hyper:
        options["hyper"] = [[int(position), float(value)] for position, value in spec.hyper]
    if spec.output_activation != base.output_activation:
        options["output_activation"] = spec.output_activation
    return options


def _loss_from(compiled):
    """The ``Loss`` a file's compile settings name, with its saved options."""
    spec = losses.get(compiled["loss"])
    options = compiled.get("loss_options")
    if options is None:
        return spec
    _require_keys("compile.loss_options", options, set(),
                  {"hyper", "output_activation"})
    hyper = options.get("hyper", [[p, v] for p, v in spec.hyper])
    if not isinstance(hyper, list) or not all(
            isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
            and not isinstance(item[0], bool) and 0 <= item[0] < loss_codes.N_HYPER
            and isinstance(item[1], (int, float)) and not isinstance(item[1], bool)
            and math.isfinite(item[1]) for item in hyper):
        raise _Invalid(f"compile.loss_options.hyper must be a list of [position < "
                       f"{loss_codes.N_HYPER}, finite number] pairs; got {hyper!r}")
    output = options.get("output_activation", spec.output_activation)
    if output is not None and (not isinstance(output, str) or output not in
                               activations.ACTIVATIONS):
        raise _Invalid(f"compile.loss_options.output_activation must be an activation name; "
                       f"got {output!r}")
    return dataclasses.replace(spec, hyper=tuple((p, float(v)) for p, v in hyper),
                               output_activation=output)


def _name_or_config(option):
    """An option as the file stores it: its name (lower case), or an object's
    ``{"class_name", "config"}``."""
    if isinstance(option, str):
        return option.lower()
    return {"class_name": type(option).__name__, "config": option.get_config()}


def _layer_config(layer):
    if type(layer).__name__ != "Dense":
        return {"class_name": type(layer).__name__, **layer.get_config()}
    config = {"units": layer.units,
              "activation": layer.activation_spec.name,
              "kernel_initializer": _name_or_config(layer.kernel_initializer),
              "init_scale": float(layer.init_scale),
              "negative_slope": float(layer.negative_slope)}
    serialized = layer.get_config()  # options as JSON (regularizers, initializers)
    for field in dataclasses.fields(layer):  # Dense's other fields, where not the default
        if field.name not in config and getattr(layer, field.name) != field.default:
            config[field.name] = serialized[field.name]
    return config


# ------------------------------------------------------------------------- load
def load_model(path):
    """Load a model written by ``Model.save``, ready to predict, evaluate or go on training.

    Parameters
    ----------
    path : str or path-like
        The file. If it does not exist and does not end in ``.npz``, ``path + ".npz"`` is
        tried (``save`` appends the suffix). A ``.keras`` path is read as a Keras 3
        archive (``fastann.export.keras_file.load_keras``).

    Returns
    -------
    Model
        Compiled if the saved model was, with its optimizer state, shuffling state and
        epoch and step counts, so ``fit`` continues exactly as the saved model would have.

    Raises
    ------
    ValueError
        The file is not a fastann model file, is corrupt or truncated, has an unsupported
        format version, names an unknown layer option, loss, metric or optimizer, holds an
        array of the wrong shape or dtype, or holds pickled (object) data.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path.lower().endswith(".keras") and (os.path.exists(path)
                                            or not os.path.exists(path + SUFFIX)):
        from .export.keras_file import load_keras  # a Keras 3 archive
        return load_keras(path)
    if not os.path.exists(path) and not path.endswith(SUFFIX) and os.path.exists(
            path + SUFFIX):
        path += SUFFIX
    try:  # a missing file raises FileNotFoundError, as usual
        archive = _safe_zip.open_zip(path, max_members=64)
    except _safe_zip.UnsafeZipError as error:
        raise ValueError(f"{path!r} is not a valid fastann model file: {error.reason}") \
            from None
    with archive:
        try:
            return _load(archive)
        except _Invalid as error:
            raise ValueError(f"{path!r} is not a valid fastann model file: {error}") from None
        except (ValueError, TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile,
                zlib.error, struct.error, RecursionError, NotImplementedError,
                OverflowError) as error:
            raise ValueError(f"{path!r} is not a valid fastann model file: "
                             f"{type(error).__name__}: {error}") from error


def _load(archive):
    """The model in a checked ``_safe_zip.SafeZip``."""
    files = []
    for member in archive.names:
        if not member.endswith(".npy"):
            raise _Invalid(f"it holds a member {member!r}, which is not an .npy array "
                           "(fastann writes only .npy members)")
        files.append(member[:-4])
    if "config" not in files:
        raise _Invalid(f"it has no 'config' array (it holds {sorted(files)}); "
                       "it was not written by fastann")
    shape, dtype = _header(archive, "config")
    if dtype.kind != "U" or shape != ():
        raise _Invalid(f"array 'config' must be a 0-d unicode string; got dtype {dtype} "
                       f"and shape {shape}")
    config = _parse_config(_read(archive, "config")[()])
    dtype, layout, layers = _architecture(config)
    expected = _expected_arrays(dtype, layout, compiled=config["compile"] is not None,
                                version=config["format_version"])
    missing = sorted(set(expected) - set(files))
    unexpected = sorted(set(files) - set(expected) - {"config"})
    if missing or unexpected:
        raise _Invalid(f"expected arrays {sorted(expected)} besides 'config'; "
                       f"missing {missing}, unexpected {unexpected}")
    for name, (shape, dtype) in expected.items():
        found = _header(archive, name)
        if found != (shape, dtype):
            raise _Invalid(f"array {name!r} must have shape {shape} and dtype "
                           f"{dtype.name}; got shape {found[0]} and dtype {found[1]}")
    # Only now, with every size matching data the file really holds, allocate.
    arrays = {name: _read(archive, name) for name in expected}
    if "opt_state" in arrays:
        arrays["opt_state"] = _current_opt_state(arrays["opt_state"], layout.n_params,
                                                 config["format_version"])
    model = _build(config, layers)
    _restore(model, arrays)
    return model


def _current_opt_state(opt_state, n_params, version):
    """A file's optimizer state in this version's layout: the slots it has, zero slots
    for those it lacks (a fresh state), then its scalars (zero, "no step yet", where it
    has none: version 1)."""
    slots = _SLOTS_IN_VERSION.get(version, optimizer_kernels.N_SLOTS)
    current = np.zeros(state_length(n_params), opt_state.dtype)
    current[:slots * n_params] = opt_state[:slots * n_params]
    scalars = opt_state[slots * n_params:]
    current[optimizer_kernels.N_SLOTS * n_params:][:scalars.shape[0]] = scalars
    return current


def _read(archive, name):
    with archive.open(name + ".npy") as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def _header(archive, name):
    """(shape, dtype) of array ``name`` from its .npy header, checked to hold no Python
    objects and to be followed by exactly as much data as it declares, so that nothing
    is unpickled and no huge array is allocated for a forged or truncated file (the
    member's size is itself bounded by the file's bytes: ``_safe_zip``)."""
    member = name + ".npy"
    size = archive.size(member)
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise _Invalid(f"array {name!r} uses .npy format version {version}, which "
                           "fastann does not write")
        header_size = stream.tell()
    if dtype.hasobject:
        raise _Invalid(f"array {name!r} holds Python objects (pickled data), which fastann "
                       "never writes and will not load")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise _Invalid(f"array {name!r} declares the impossible shape {shape}")
    declared = math.prod(shape) * dtype.itemsize
    if size < header_size + declared:
        raise _Invalid(f"array {name!r} declares shape {shape} and dtype {dtype} "
                       f"({declared} bytes) but holds only {size - header_size} "
                       "bytes of data")
    if size > header_size + declared:
        raise _Invalid(f"array {name!r} declares shape {shape} and dtype {dtype} "
                       f"({declared} bytes) but holds {size - header_size} bytes")
    return shape, dtype


def _parse_config(text):
    def no_constants(name):
        raise _Invalid(f"the config holds {name}, which fastann never writes")

    def finite_float(literal):
        value = float(literal)
        if not math.isfinite(value):
            raise _Invalid(f"the config holds the number {literal[:40]}, which overflows "
                           "to infinity")
        return value

    def unique_keys(pairs):
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise _Invalid(f"the config repeats the keys {twice}; which one counts is "
                           "ambiguous")
        return dict(pairs)

    try:
        config = json.loads(text, parse_constant=no_constants, parse_float=finite_float,
                            object_pairs_hook=unique_keys)
    except json.JSONDecodeError as error:
        raise _Invalid(f"its config is not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _Invalid(f"its config does not declare format {FORMAT!r}; it was not written "
                       "by fastann")
    version = config.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise _Invalid(f"format version {version!r} is not supported; this fastann reads "
                       f"versions {list(READABLE_VERSIONS)}")
    _require_keys("config", config, _CONFIG_KEYS, {"trainable"})  # trainable: from version 3
    compiled = config["compile"]
    if version == 1 and isinstance(compiled, dict) and isinstance(
            compiled.get("optimizer"), dict) and compiled["optimizer"].get("weight_decay"):
        raise _Invalid("it was written by an older fastann whose optimizer weight_decay "
                       "added weight_decay * w to the gradient (L2); weight_decay is now "
                       "Keras 3's decoupled rule, so its training state cannot continue "
                       "as it was. Load the weights with set_weights into a model compiled "
                       "with kernel_regularizer=L2(weight_decay / 2) instead")
    return config


def _architecture(config):
    """(dtype, layout, [layer]) from the config, every layer option checked by the
    layer's class."""
    if config["dtype"] not in DTYPES:
        raise _Invalid(f"config dtype must be one of {sorted(DTYPES)}; got "
                       f"{config['dtype']!r}")
    _require_int("input_dim", config["input_dim"])
    if config["input_dim"] < 1:
        raise _Invalid(f"config input_dim must be positive; got {config['input_dim']!r}")
    layers = config["layers"]
    if not isinstance(layers, list) or not layers:
        raise _Invalid(f"config layers must be a non-empty list; got {layers!r}")
    dense = []
    for index, layer in enumerate(layers):
        if isinstance(layer, dict) and "class_name" in layer:
            dense.append(_other_layer(index, layer))
            continue
        optional = {f.name for f in dataclasses.fields(Dense)} - set(_LAYER_KEYS)
        _require_keys(f"layers[{index}]", layer, set(_LAYER_KEYS),
                      optional & set(layer) if isinstance(layer, dict) else set())
        _require_int(f"layers[{index}].units", layer["units"])
        if not isinstance(layer["activation"], str):
            raise _Invalid(f"layers[{index}].activation must be a name; got "
                           f"{layer['activation']!r}")
        if not isinstance(layer["kernel_initializer"], (str, dict)):  # dict: an object's
            raise _Invalid(f"layers[{index}].kernel_initializer must be a name or "
                           f"{{'class_name', 'config'}}; got {layer['kernel_initializer']!r}")
        for key in ("init_scale", "negative_slope"):
            if isinstance(layer[key], bool) or not isinstance(layer[key], (int, float)):
                raise _Invalid(f"layers[{index}].{key} must be a number; got {layer[key]!r}")
        dense.append(_layer(index, Dense, layer))
    layout = Layout.for_layers(dense, config["input_dim"])
    return np.dtype(DTYPES[config["dtype"]]), layout, dense


def _other_layer(index, layer):
    """A layer of a ``LAYER_CLASSES`` type from its saved fields."""
    cls = LAYER_CLASSES.get(layer["class_name"])
    if cls is None:
        raise _Invalid(f"layers[{index}].class_name must be one of {sorted(LAYER_CLASSES)}; "
                       f"got {layer['class_name']!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    _require_keys(f"layers[{index}]", layer, fields | {"class_name"})
    return _layer(index, cls, {name: layer[name] for name in fields})


def _layer(index, cls, fields):
    """``cls(**fields)``, the ``input_dim`` a layer derives from its ``input_shape``
    (saved beside it) checked and left out: given both, a layer takes them for one
    sample's two shapes, (1, 2) against (2,), and refuses them."""
    shape, dim = fields.get("input_shape"), fields.get("input_dim")
    if shape is not None and dim is not None:
        if not (isinstance(shape, list) and all(isinstance(n, int) for n in shape)
                and math.prod(shape) == dim):
            raise _Invalid(f"layers[{index}]: input_shape {shape!r} does not hold "
                           f"input_dim={dim!r} values")
        fields = {**fields, "input_dim": None}
    try:
        return cls(**fields)
    except (TypeError, ValueError) as error:
        raise _Invalid(f"layers[{index}]: {error}") from None


def _expected_arrays(dtype, layout, compiled, version=FORMAT_VERSION):
    """{name: (shape, dtype)} of every array besides the config (``version``: the
    file's format version; versions 1 and 2 hold fewer optimizer-state entries)."""
    n_params = layout.n_params
    expected = {"params": ((n_params,), dtype),
                "rng_state": ((1,), np.dtype(np.uint64)),
                "counters": ((train_kernels.N_COUNTERS,), np.dtype(np.int64))}
    if compiled:
        slots = _SLOTS_IN_VERSION.get(version, optimizer_kernels.N_SLOTS)
        scalars = 0 if version == 1 else optimizer_kernels.N_SCALARS
        expected["opt_state"] = ((slots * n_params + scalars,), dtype)
    if layout.n_moving:
        expected["moving"] = ((layout.n_moving,), dtype)
    return expected


def _build(config, layers):
    """The Model the config describes, compiled if it was; the loss, metrics and
    optimizer are looked up in fastann's tables, which check them."""
    try:
        model = Sequential(layers, trainable=config.get("trainable", True),
                           input_dim=config["input_dim"], dtype=config["dtype"],
                           seed=config["seed"])
    except (TypeError, ValueError) as error:
        raise _Invalid(str(error)) from None
    compiled = config["compile"]
    if compiled is None:
        return model
    _require_keys("compile", compiled, _COMPILE_KEYS, {"loss_options"})
    metrics = compiled["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, (str, dict)) for m in metrics):
        raise _Invalid(f"compile.metrics must be a list of names and metric configs; "
                       f"got {metrics!r}")
    if not isinstance(compiled["loss"], str):
        raise _Invalid(f"compile.loss must be a name; got {compiled['loss']!r}")
    if not isinstance(compiled["optimizer"], dict):
        raise _Invalid(f"compile.optimizer must be a dict; got {compiled['optimizer']!r}")
    try:
        optimizer = optimizers.from_config(compiled["optimizer"])
        model.compile(loss=_loss_from(compiled), optimizer=optimizer, metrics=metrics)
    except (TypeError, ValueError, KeyError) as error:
        raise _Invalid(f"compile: {error}") from None
    return model


def _restore(model, arrays):
    """Load the file's arrays into ``model``, checked by the rules
    ``set_training_state`` applies (``TrainingState.check_values``)."""
    state = model.get_training_state()
    for name, array in arrays.items():  # absent ones (opt_state, moving) stay fresh
        setattr(state, name, array)
    try:
        state.check_values(model.layout, model.optimizer, where="array")
    except ValueError as error:
        raise _Invalid(str(error)) from None
    model.set_training_state(state)


def _require_keys(where, mapping, keys, optional=frozenset()):
    if not isinstance(mapping, dict):
        raise _Invalid(f"{where} must be a JSON object; got {mapping!r}")
    missing = sorted(keys - set(mapping))
    unexpected = sorted(set(mapping) - keys - set(optional))
    if missing or unexpected:
        raise _Invalid(f"{where} is missing keys {missing} or has unexpected keys "
                       f"{unexpected}")


def _require_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"config {name} must be an integer; got {value!r}")


FILE_WRITERS[SUFFIX] = save_model
