"""One description of a model's layers for every exporter: kind, activation and options,
and each layer's own slice of ``model.get_weights()``.

Every exporter is a table keyed by the layer kind (``type(layer).__name__``) and by the
activation name, so a layer kind or activation that fastann gains is either handled by
an entry or refused by name, never mistranslated.
"""
import os
from dataclasses import dataclass, field

import numpy as np

from .._atomic_files import existing_target, write_atomically as write_file


def _dense_weight_count(layer):
    return 2 if getattr(layer, "use_bias", True) else 1


def _batch_norm_weight_count(layer):
    return 2 + bool(getattr(layer, "scale", True)) + bool(getattr(layer, "center", True))


# kind -> number of arrays the layer contributes to model.get_weights() (Keras' order)
WEIGHT_COUNTS = {
    "Dense": _dense_weight_count,
    "Activation": lambda layer: 0,
    "Dropout": lambda layer: 0,
    "BatchNormalization": _batch_norm_weight_count,
}


@dataclass
class LayerInfo:
    """A layer as the exporters see it.

    ``weights`` are the layer's arrays in Keras' order: Dense kernel (n_in, n_out) and
    bias (n_out,) if it has one; BatchNormalization gamma, beta (each if used),
    moving_mean, moving_variance, all (n,).
    """
    index: int
    kind: str
    layer: object
    activation: str = None  # Dense's or Activation's function name; None otherwise
    weights: list = field(default_factory=list)
    n_in: int = 0
    n_out: int = 0


def activation_name(layer):
    """The activation's canonical name (``linear`` for None), via fastann's table when the
    layer has one."""
    spec = getattr(layer, "activation_spec", None)
    if spec is not None:
        return spec.name
    name = getattr(layer, "activation", None)
    if name is None:
        return "linear"
    if not isinstance(name, str):
        name = getattr(name, "name", None) or getattr(name, "__name__", repr(name))
    name = name.lower()
    return {"identity": "linear", "silu": "swish"}.get(name, name)


def describe(model, action="export"):
    """[LayerInfo] for ``model``, its weights split by layer. Raises ValueError naming the
    layer kind when a layer is not one the exporters know."""
    if not getattr(model, "built", False):
        raise ValueError(f"{action}: the model's input size is not known yet; pass "
                         "input_dim=... to Model or call fit first")
    weights = list(model.get_weights())
    infos, position, width = [], 0, int(model.input_dim)
    for index, layer in enumerate(model.layers):
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind not in WEIGHT_COUNTS:
            raise ValueError(f"{action}: layer {index} is a {kind}, which fastann cannot "
                             f"{action}; supported kinds: {sorted(WEIGHT_COUNTS)}")
        count = WEIGHT_COUNTS[kind](layer)
        own = weights[position:position + count]
        position += count
        n_out = int(layer.units) if kind == "Dense" else width
        activation = activation_name(layer) if kind in ("Dense", "Activation") else None
        infos.append(LayerInfo(index, kind, layer, activation, own, width, n_out))
        width = n_out
    if position != len(weights):
        raise ValueError(f"{action}: the model has {len(weights)} weight arrays but its "
                         f"layers account for {position}")
    return infos


def write_atomically(path, data):
    """Write ``data`` (bytes) to ``path`` atomically, keeping the permission bits of a
    file it replaces (``fastann._atomic_files``)."""
    path, mode = existing_target(path)
    write_file(path, lambda file: file.write(data), mode)


def fspath(path, argument="filepath"):
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{argument} must be a str or path-like; got "
                        f"{type(path).__name__}") from None
    return os.fsdecode(path) if isinstance(path, bytes) else path


def require(package, extra, purpose):
    """Import ``package`` or raise ImportError naming what to install."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"{purpose} needs the {package!r} package, which is not "
                          f"installed: pip install 'fastann[{extra}]' (or pip install "
                          f"{package})") from error


def as_float_array(array, dtype):
    return np.ascontiguousarray(np.asarray(array), dtype=dtype)
