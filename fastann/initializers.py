"""Weight initializers, as ``keras.initializers``: names or objects, Keras 3's formulas.

A layer's kernel W (n_in, n_out) and bias b (n_out,) are drawn from one
``numpy.random.RandomState`` seeded by the model's ``seed``, layer after layer (kernel,
then bias), so a seed fixes every weight; an initializer object given its own ``seed``
draws from a generator of its own instead. ``zeros``/``ones`` draw nothing, so the
default ``bias_initializer="zeros"`` leaves the stream as it was. Fans are Keras':
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
zeros, ones        constants
scaled_normal      fastann's: the tutorials' ``randn(n_out, n_in).T * init_scale``
=================  ==========================================================

"Truncated" is Keras': values beyond two standard deviations are re-drawn, and the
variance-scaling initializers divide the stddev by 0.87962566103423978 (the stddev of a
unit normal truncated at +-2) so the drawn values keep the intended variance.
``scaled_normal`` with seed 42 reproduces the tutorials' weights exactly.
"""
import math
import numbers

import numpy as np

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
    seed = None  # Zeros and Ones take none
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


class _VarianceScaling(Initializer):
    """Keras' VarianceScaling with a fixed mode/distribution per subclass."""

    scale_factor, mode, distribution = 1.0, "fan_in", "truncated_normal"

    def draw(self, random, shape, scale=0.01):
        fan_in, fan_out = _fans(shape)
        # variance = scale_factor / fan, fan_avg = (fan_in + fan_out) / 2, written so
        # that the limits round exactly as sqrt(6 / (fan_in + fan_out)) etc.
        numerator, fan = {"fan_in": (self.scale_factor, fan_in),
                          "fan_out": (self.scale_factor, fan_out),
                          "fan_avg": (2.0 * self.scale_factor, fan_in + fan_out)}[self.mode]
        fan = max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * numerator / fan)
            return random.uniform(-limit, limit, size=shape)
        return _truncated_standard_normal(random, shape) * (math.sqrt(numerator / fan)
                                                             / TRUNCATION_STDDEV)


class GlorotUniform(_VarianceScaling):
    name, mode, distribution = "glorot_uniform", "fan_avg", "uniform"


class GlorotNormal(_VarianceScaling):
    name, mode = "glorot_normal", "fan_avg"


class HeUniform(_VarianceScaling):
    name, scale_factor, distribution = "he_uniform", 2.0, "uniform"


class HeNormal(_VarianceScaling):
    name, scale_factor = "he_normal", 2.0


class LecunUniform(_VarianceScaling):
    name, distribution = "lecun_uniform", "uniform"


class LecunNormal(_VarianceScaling):
    name = "lecun_normal"


class RandomNormal(Initializer):
    """N(mean, stddev), not truncated."""

    name, _fields = "random_normal", ("mean", "stddev")

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _check_number("RandomNormal", "mean", mean)
        self.stddev = _check_number("RandomNormal", "stddev", stddev, positive=True)

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


class Zeros(Initializer):
    name = "zeros"

    def __init__(self):
        pass

    def draw(self, random, shape, scale=0.01):
        return np.zeros(shape)


class Ones(Initializer):
    name = "ones"

    def __init__(self):
        pass

    def draw(self, random, shape, scale=0.01):
        return np.ones(shape)


class ScaledNormal(Initializer):
    """fastann's: ``randn(n_out, n_in).T * scale`` (the layer's ``init_scale``)."""

    name = "scaled_normal"

    def draw(self, random, shape, scale=0.01):
        if len(shape) == 2:
            return random.randn(shape[1], shape[0]).T * scale
        return random.randn(shape[0]) * scale


CLASSES = (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
           RandomNormal, RandomUniform, TruncatedNormal, Zeros, Ones, ScaledNormal)
INITIALIZERS = {cls.name: cls for cls in CLASSES}
INITIALIZERS.update({"normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros,
                     "one": Ones})
_BY_CLASS_NAME = {cls.__name__: cls for cls in CLASSES}


def get(identifier, argument="kernel_initializer"):
    """An ``Initializer`` from a name (Keras' snake_case or class name), an instance or a
    config dict ``{"class_name": ..., "config": {...}}``."""
    if isinstance(identifier, Initializer):
        return identifier
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
    raise TypeError(f"{argument} must be a name or a fastann.initializers.Initializer; got "
                    f"{type(identifier).__name__} {identifier!r}")


def serialize(initializer):
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


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
