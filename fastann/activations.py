"""The activation table: name → kernel code and what training may do with it.

Each entry is also Keras' activation function of that name: ``fastann.activations.relu``
is what ``Dense(activation=...)`` accepts (as is the name ``"relu"``, or Keras' own
``keras.activations.relu``), and calling it on an array computes the activation with
``fastann.reference``'s NumPy math, as ``keras.activations.relu(x)`` does.
"""
import inspect
from dataclasses import dataclass

import numpy as np

from . import reference
from ._errors import NotSupportedError, builtin_name, keras_only, require_default
from ._options import lookup
from .kernels import activations as codes

_X = inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _KerasSignature:
    """An entry's ``__signature__``: that of Keras' function of its name, ``(x, *options)``.
    Read on the class it is missing, so ``inspect`` gives the dataclass's own."""

    def __get__(self, entry, owner=None):
        if entry is None:
            raise AttributeError("__signature__")
        return inspect.Signature([_X] + [
            inspect.Parameter(option, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
            for option, default in entry.keras_options])


@dataclass(frozen=True)
class Activation:
    """One activation: its kernel code, whether it trains, its kinks, and Keras' keyword
    arguments of the function of its name (all refused unless at their defaults, but
    leaky_relu's ``negative_slope``, which the math takes)."""

    name: str
    code: int
    trainable: bool = True  # has a useful derivative
    kinks: tuple = ()  # inputs where the derivative jumps (gradient checks avoid them)
    keras_options: tuple = ()  # ((argument, default), ...) after x, in Keras' order

    @property
    def __name__(self):  # noqa: A003 (Keras code reads a function's name)
        return self.name

    __signature__ = _KerasSignature()

    def __call__(self, x, *args, **kwargs):
        """The activation of ``x`` (any shape; softmax over the last axis), as a NumPy
        array of x's float dtype (float32 for integers, Keras' floatx)."""
        arguments = self.__signature__.bind(x, *args, **kwargs)
        arguments.apply_defaults()
        options = dict(arguments.arguments)
        values = np.asarray(options.pop("x"))
        slope = options.pop("negative_slope") if self.name == "leaky_relu" else \
            reference.DEFAULT_SLOPE
        for option, default in self.keras_options:
            if option in options:  # all but the slope leaky_relu computes with
                require_default(f"activations.{self.name}", option, options[option], default)
        if not np.issubdtype(values.dtype, np.floating):
            values = values.astype(np.float32)
        rows = values.reshape(-1, values.shape[-1]) if values.ndim else values.reshape(1, 1)
        return reference.activate(self.name, rows, slope).reshape(values.shape)


ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("linear", codes.LINEAR),
        Activation("relu", codes.RELU, kinks=(0.0,), keras_options=(
            ("negative_slope", 0.0), ("max_value", None), ("threshold", 0.0))),
        Activation("leaky_relu", codes.LEAKY_RELU, kinks=(0.0,),
                   keras_options=(("negative_slope", reference.DEFAULT_SLOPE),)),
        Activation("sigmoid", codes.SIGMOID),
        Activation("tanh", codes.TANH),
        Activation("softmax", codes.SOFTMAX, keras_options=(("axis", -1),)),
        Activation("step", codes.STEP, trainable=False, kinks=(0.0,)),
        # alpha 1: the derivative is continuous
        Activation("elu", codes.ELU, keras_options=(("alpha", 1.0),)),
        Activation("selu", codes.SELU, kinks=(0.0,)),
        Activation("gelu", codes.GELU, keras_options=(("approximate", False),)),
        Activation("softplus", codes.SOFTPLUS),
        Activation("softsign", codes.SOFTSIGN),
        Activation("swish", codes.SWISH),
        Activation("hard_sigmoid", codes.HARD_SIGMOID, kinks=(-3.0, 3.0)),
        Activation("relu6", codes.RELU6, kinks=(0.0, 6.0)),
        Activation("exponential", codes.EXPONENTIAL),
        Activation("mish", codes.MISH),
    )
}
ACTIVATIONS["identity"] = ACTIVATIONS["linear"]
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]
_NAMED = dict(ACTIVATIONS)  # the names alone, for lookups
ACTIVATIONS[None] = ACTIVATIONS["linear"]

# Keras' spellings: fastann.activations.relu, .sigmoid, ... are the table's entries.
globals().update(_NAMED)


def names(trainable_only=False):
    """The distinct activations' canonical names, in table order (for test grids)."""
    seen = []
    for spec in _NAMED.values():
        if spec.name not in seen and (spec.trainable or not trainable_only):
            seen.append(spec.name)
    return seen


def get(identifier):
    """The ``Activation`` (callable, as Keras' ``activations.get`` returns a function)
    for a name (None is linear), an ``Activation``, Keras' own function of a name
    fastann has (``keras.activations.relu``) or a ``serialize`` form. Any other Python
    callable raises NotSupportedError."""
    if identifier is None:
        return ACTIVATIONS[None]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return _NAMED[builtin_name(identifier, _NAMED, "activation")]
    return lookup(_NAMED, identifier, "activation")


def serialize(activation):
    """The activation's name, as Keras serializes its built-in activations."""
    return get(activation).name


def deserialize(config, custom_objects=None):
    """The ``Activation`` of a name or of Keras' ``{"class_name": "function", "config":
    name}``; ``custom_objects`` must be None (fastann runs no Python functions)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "the kernels run fastann's activations only")
    if isinstance(config, dict):
        config = config.get("config")
        if not isinstance(config, str):
            raise ValueError(f"an activation config must name the activation; got {config!r}")
    return get(config)


KERAS_ONLY = frozenset("""
celu glu hard_shrink hard_silu hard_swish hard_tanh log_sigmoid log_softmax soft_shrink
sparse_plus sparse_sigmoid sparsemax squareplus tanh_shrink threshold
""".split())
__getattr__ = keras_only(__name__, "activation", KERAS_ONLY,
                         "fastann's activations: " + ", ".join(names()))
