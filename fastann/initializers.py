"""Weight initializers, as ``keras.initializers``: names or objects, Keras 3's formulas.

A layer's kernel W (n_in, n_out) and bias b (n_out,) are drawn from one
``numpy.random.RandomState`` seeded by the model's ``seed``, layer after layer (kernel,
then bias), so a seed fixes every weight; an initializer object given its own ``seed``
draws from a generator of its own instead. The constants (``zeros``, ``ones``,
``Constant``, ``Identity``) draw nothing, so the default ``bias_initializer="zeros"``
leaves the stream as it was. Fans are Keras':
``fan_in, fan_out = n_in, n_out`` for a kernel, ``n, n`` for a 1-D bias.

=================  ==========================================================
name               distribution
=================  ==========================================================
glorot_uniform     U(-limit, limit), ``limit = sqrt(6 / (fan_in + fan_out))``
glorot_normal      truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out))``
he_uniform         U(-limit, limit), ``limit = sqrt(6 / fan_in)``
he_normal          truncated normal, ``stddev = sqrt(2 / fan_in)``
lecun_uniform      U(-limit, limit), ``limit = sqrt(3 / fan_in)``
lecun_normal       truncated normal, ``stddev = sqrt(1 / fan_in)``
random_normal      N(mean=0.0, stddev=0.05), not truncated
random_uniform     U(minval=-0.05, maxval=0.05)
truncated_normal   truncated normal, mean 0.0, stddev 0.05
variance_scaling   ``VarianceScaling(scale, mode, distribution)``: variance
                   ``scale / fan``; the six above are its presets
constant           ``Constant(value=0.0)``; ``zeros``, ``ones``: 0 and 1
identity           ``Identity(gain=1.0)``: ``gain * eye(n_in, n_out)``, kernels only
scaled_normal      fastann's: the tutorials' ``randn(n_out, n_in).T * init_scale``
=================  ==========================================================

"Truncated" is Keras': values beyond two standard deviations are re-drawn, and the
variance-scaling initializers divide the stddev by 0.87962566103423978 (the stddev of a
unit normal truncated at +-2) so the drawn values keep the intended variance.
``scaled_normal`` with seed 42 reproduces the tutorials' weights exactly.

As in Keras, the snake_case names are also the classes (``initializers.glorot_uniform``
is ``GlorotUniform``); Keras' ``Orthogonal`` and ``STFT`` raise NotSupportedError.
"""
import math
import numbers

import numpy as np

from ._errors import NotSupportedError, callable_refused, keras_only, require_default
from ._options import Configured

TRUNCATION_STDDEV = 0.87962566103423978


def _truncated_standard_normal(random, shape):
    values = random.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = random.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def _fans(shape):
    return (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])


def _check_number(owner, name, value, positive=False):
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 or not positive))
    if not ok:
        expected = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{owner} {name} must be {expected}; got {value!r}")
    return float(value)


def _check_seed(owner, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or not 0 <= seed < 2**32):
        raise ValueError(f"{owner} seed must be None or an int in [0, 2**32); got {seed!r}")
    return None if seed is None else int(seed)


class Initializer(Configured):
    """Base class. ``draw(random, shape, scale)`` returns float64 values of ``shape``."""

    name = None
    seed = None  # the constants take none
    _fields = ()

    def __init__(self, seed=None):
        self.seed = _check_seed(type(self).__name__, seed)

    def draw(self, random, shape, scale=0.01):
        raise NotImplementedError

    def __call__(self, shape, dtype="float32", random=None, scale=0.01):
        """Values of ``shape`` (1-D or 2-D) in ``dtype``, as Keras' ``initializer(shape)``:
        from this initializer's seed, or ``random`` (a RandomState), or a fresh stream."""
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (1, 2):
            raise ValueError(f"{type(self).__name__}: shape must be 1-D or 2-D; got {shape}")
        if self.seed is not None:
            random = np.random.RandomState(self.seed)
        elif random is None:
            random = np.random.RandomState()
        return np.asarray(self.draw(random, shape, scale), dtype)

    def get_config(self):
        config = {field: getattr(self, field) for field in self._fields}
        if "seed" in self.__dict__:
            config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config):
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict; got "
                            f"{type(config).__name__}")
        return cls(**config)


def _check_axes(owner, input_axes, output_axes):
    """Keras' ``input_axes``/``output_axes`` (the fans of a tensor of higher rank): a
    Dense kernel's fans are its two axes, so only None."""
    for option, value in (("input_axes", input_axes), ("output_axes", output_axes)):
        require_default(owner, option, value, None,
                        "a Dense kernel's fans are its two axes: leave it None")


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance ``scale / fan`` (fan_in, fan_out, or their mean
    fan_avg), drawn uniform, truncated normal or untruncated normal."""

    name, _fields = "variance_scaling", ("scale", "mode", "distribution")
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        owner = type(self).__name__
        _check_axes(owner, input_axes, output_axes)
        self.scale = _check_number(owner, "scale", scale, positive=True)
        if mode not in self.MODES:
            raise ValueError(f"{owner} mode must be one of {list(self.MODES)}; got {mode!r}")
        if isinstance(distribution, str) and distribution.lower() == "normal":
            distribution = "truncated_normal"  # as Keras reads it
        if not isinstance(distribution, str) or distribution.lower() not in self.DISTRIBUTIONS:
            raise ValueError(f"{owner} distribution must be one of "
                             f"{list(self.DISTRIBUTIONS)}; got {distribution!r}")
        self.mode, self.distribution = mode, distribution.lower()

    def draw(self, random, shape, scale=0.01):
        fan_in, fan_out = _fans(shape)
        # variance = scale / fan, fan_avg = (fan_in + fan_out) / 2, written so that the
        # limits round exactly as sqrt(6 / (fan_in + fan_out)) etc.
        numerator, fan = {"fan_in": (self.scale, fan_in),
                          "fan_out": (self.scale, fan_out),
                          "fan_avg": (2.0 * self.scale, fan_in + fan_out)}[self.mode]
        fan = max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * numerator / fan)
            return random.uniform(-limit, limit, size=shape)
        stddev = math.sqrt(numerator / fan)
        if self.distribution == "untruncated_normal":
            return random.standard_normal(shape) * stddev
        return _truncated_standard_normal(random, shape) * (stddev / TRUNCATION_STDDEV)


class _Preset(VarianceScaling):
    """A VarianceScaling of fixed ``PRESET`` (scale, mode, distribution): Keras' named
    ones, which take only a seed."""

    _fields = ()
    PRESET = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self.PRESET, seed, input_axes, output_axes)


class GlorotUniform(_Preset):
    name, PRESET = "glorot_uniform", (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    name, PRESET = "glorot_normal", (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    name, PRESET = "he_uniform", (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    name, PRESET = "he_normal", (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    name, PRESET = "lecun_uniform", (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    name, PRESET = "lecun_normal", (1.0, "fan_in", "truncated_normal")


class RandomNormal(Initializer):
    """N(mean, stddev), not truncated."""

    name, _fields = "random_normal", ("mean", "stddev")

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _check_number(type(self).__name__, "mean", mean)
        self.stddev = _check_number(type(self).__name__, "stddev", stddev, positive=True)

    def draw(self, random, shape, scale=0.01):
        return self.mean + self.stddev * random.standard_normal(shape)


class TruncatedNormal(RandomNormal):
    """N(mean, stddev) re-drawn beyond two standard deviations."""

    name = "truncated_normal"

    def draw(self, random, shape, scale=0.01):
        return self.mean + self.stddev * _truncated_standard_normal(random, shape)


class RandomUniform(Initializer):
    """U(minval, maxval)."""

    name, _fields = "random_uniform", ("minval", "maxval")

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _check_number("RandomUniform", "minval", minval)
        self.maxval = _check_number("RandomUniform", "maxval", maxval)
        if not self.minval < self.maxval:
            raise ValueError(f"RandomUniform minval must be < maxval; got minval={minval!r}, "
                             f"maxval={maxval!r}")

    def draw(self, random, shape, scale=0.01):
        return random.uniform(self.minval, self.maxval, size=shape)


class Constant(Initializer):
    """Every value ``value`` (a number); draws nothing."""

    name, _fields = "constant", ("value",)

    def __init__(self, value=0.0):
        self.value = _check_number("Constant", "value", value)

    def draw(self, random, shape, scale=0.01):
        return np.full(shape, self.value)


class Zeros(Constant):
    name, _fields = "zeros", ()

    def __init__(self):
        super().__init__(0.0)


class Ones(Constant):
    name, _fields = "ones", ()

    def __init__(self):
        super().__init__(1.0)


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only, as Keras); draws nothing."""

    name, _fields = "identity", ("gain",)

    def __init__(self, gain=1.0):
        self.gain = _check_number("Identity", "gain", gain)

    def draw(self, random, shape, scale=0.01):
        if len(shape) != 2:
            raise ValueError(f"Identity initializes 2-D kernels only; got shape {shape} "
                             "(a bias needs another bias_initializer)")
        return self.gain * np.eye(*shape)


class ScaledNormal(Initializer):
    """fastann's: ``randn(n_out, n_in).T * scale`` (the layer's ``init_scale``)."""

    name = "scaled_normal"

    def draw(self, random, shape, scale=0.01):
        if len(shape) == 2:
            return random.randn(shape[1], shape[0]).T * scale
        return random.randn(shape[0]) * scale


CLASSES = (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
           VarianceScaling, RandomNormal, RandomUniform, TruncatedNormal, Constant, Zeros,
           Ones, Identity, ScaledNormal)
INITIALIZERS = {cls.name: cls for cls in CLASSES}
INITIALIZERS.update({"normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros,
                     "one": Ones})
_BY_CLASS_NAME = {cls.__name__: cls for cls in CLASSES}
_BY_CLASS_NAME["IdentityInitializer"] = Identity
# Keras' spellings: keras.initializers.glorot_uniform, .zeros, ... are the classes.
globals().update({cls.name: cls for cls in CLASSES})
IdentityInitializer = Identity


def get(identifier, argument="kernel_initializer"):
    """An ``Initializer`` from a name (Keras' snake_case or class name), an instance, a
    class or a config dict ``{"class_name": ..., "config": {...}}``.

    ``argument`` names the option in error messages. A Python callable raises
    NotSupportedError (the model draws its weights itself).
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        cls = INITIALIZERS.get(identifier.lower()) or _BY_CLASS_NAME.get(identifier)
        if cls is None:
            valid = ", ".join(repr(n) for n in sorted(INITIALIZERS))
            raise ValueError(f"unknown {argument} {identifier!r}; expected one of {valid} "
                             "or a fastann.initializers instance")
        return cls()
    if isinstance(identifier, dict):
        cls = _BY_CLASS_NAME.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"unknown {argument} class_name {identifier.get('class_name')!r}; "
                             f"expected one of {sorted(_BY_CLASS_NAME)}")
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        raise callable_refused(identifier, argument, sorted(INITIALIZERS))
    raise TypeError(f"{argument} must be a name or a fastann.initializers.Initializer; got "
                    f"{type(identifier).__name__} {identifier!r}")


def serialize(initializer):
    """``{"class_name", "config"}``, as Keras writes it."""
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config, custom_objects=None):
    """The initializer ``serialize`` described (or a name); ``custom_objects`` must be
    None (the model draws its weights with fastann's initializers)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "fastann draws weights with its own "
                                "initializers only")
    return get(config, "initializer")


KERAS_ONLY = frozenset("Orthogonal OrthogonalInitializer orthogonal STFT STFTInitializer "
                       "stft".split())
__getattr__ = keras_only(__name__, "initializer", KERAS_ONLY,
                         "fastann's initializers: " + ", ".join(sorted(_BY_CLASS_NAME)))


def draw_layer(layer, random, n_in):
    """(W (n_in, units), b (units,) or None) of float64 values for a Dense ``layer``,
    drawn from the model's stream ``random`` (kernel first, then bias)."""
    kernel_init = get(layer.kernel_initializer)
    W = kernel_init((n_in, layer.units), np.float64, random, layer.init_scale)
    b = None
    if getattr(layer, "use_bias", True):
        bias_init = get(getattr(layer, "bias_initializer", "zeros"), "bias_initializer")
        b = bias_init((layer.units,), np.float64, random, layer.init_scale)
    return W, b
