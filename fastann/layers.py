"""Layer descriptions: pure data, checked on creation. The math is in ``fastann.kernels``."""
from dataclasses import dataclass

from . import activations, initializers


@dataclass(frozen=True)
class Dense:
    """A fully-connected layer: ``activation(inputs @ W + b)``.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str or None
        One of ``linear`` (None), ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``,
        ``softmax`` or ``step`` (inference only: it has no useful gradient).
    kernel_initializer : str
        ``glorot_uniform`` (default), ``he_normal``, or ``scaled_normal`` (the tutorials'
        ``randn * init_scale``).
    init_scale : float
        Standard deviation for ``scaled_normal``.
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs (Keras' default, 0.2).
    """

    units: int
    activation: str = None
    kernel_initializer: str = "glorot_uniform"
    init_scale: float = 0.01
    negative_slope: float = 0.2

    def __post_init__(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ValueError(f"Dense units must be a positive int; got {self.units!r}")
        activations.get(self.activation)
        initializers.get(self.kernel_initializer)
        if not self.init_scale > 0:
            raise ValueError(f"Dense init_scale must be > 0; got {self.init_scale!r}")
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Dense negative_slope must be in [0, 1); got {self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)


CONSTANT_INITIALIZERS = {"zeros": 0.0, "ones": 1.0}


def _constant_initializer(layer, name, value):
    key = value.lower() if isinstance(value, str) else value
    if key not in CONSTANT_INITIALIZERS:
        raise ValueError(f"{layer} {name} must be one of {sorted(CONSTANT_INITIALIZERS)}; "
                         f"got {value!r}")


@dataclass(frozen=True)
class Activation:
    """A layer with no parameters that applies ``activation`` to its inputs.

    Parameters
    ----------
    activation : str or None
        Any name ``Dense`` accepts (None is linear).
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs.
    """

    activation: str = None
    negative_slope: float = 0.2

    def __post_init__(self):
        activations.get(self.activation)
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Activation negative_slope must be in [0, 1); got "
                             f"{self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout: in training each input is zeroed with probability ``rate`` and
    the others are scaled by ``1 / (1 - rate)``; off in predict, evaluate and on
    validation data (the layer is then the identity).

    Parameters
    ----------
    rate : float
        Fraction of the inputs to drop, in [0, 1).
    noise_shape : None
        Only None (an independent mask entry per input) is supported.
    seed : int, optional
        Mixed into the model's random stream for this layer's masks, deterministically.
        The masks are drawn from the model's random state either way, so a run is
        reproducible (and resumes bit-identically) from the model's ``seed`` alone.
    """

    rate: float
    noise_shape: tuple = None
    seed: int = None

    def __post_init__(self):
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not (
                0 <= self.rate < 1):
            raise ValueError(f"Dropout rate must be a number in [0, 1); got {self.rate!r}")
        if self.noise_shape is not None:
            raise ValueError(f"Dropout noise_shape: fastann supports only None (a mask "
                             f"entry per input); got {self.noise_shape!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(
                self.seed, int) or not 0 <= self.seed < 2**64):
            raise ValueError(f"Dropout seed must be None or an int in [0, 2**64); got "
                             f"{self.seed!r}")

    @property
    def activation_spec(self):
        return activations.get(None)


@dataclass(frozen=True)
class BatchNormalization:
    """Batch normalization over the features, Keras 3's rule.

    Training: ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean
    and biased variance, then ``moving = moving * momentum + batch_stat * (1 -
    momentum)`` for both statistics. Inference (predict, evaluate, validation data):
    the moving statistics instead. A one-row batch has variance 0, so in training its
    output is ``beta`` (as in Keras), with no NaN.

    Parameters
    ----------
    axis : int
        -1 (or 1): the features axis of (n_samples, n_features) inputs; no other.
    momentum : float
        In [0, 1].
    epsilon : float
        > 0.
    center, scale : bool
        Whether ``beta`` / ``gamma`` exist (else 0 / 1, and no weight).
    beta_initializer, gamma_initializer, moving_mean_initializer,
    moving_variance_initializer : {"zeros", "ones"}
    """

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    beta_initializer: str = "zeros"
    gamma_initializer: str = "ones"
    moving_mean_initializer: str = "zeros"
    moving_variance_initializer: str = "ones"

    def __post_init__(self):
        if self.axis not in (-1, 1) or isinstance(self.axis, bool):
            raise ValueError(f"BatchNormalization axis must be -1 or 1 (the features of 2-D "
                             f"inputs; fastann supports no other); got {self.axis!r}")
        for name in ("momentum", "epsilon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"BatchNormalization {name} must be a number; got {value!r}")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"BatchNormalization momentum must be in [0, 1]; got "
                             f"{self.momentum!r}")
        if not self.epsilon > 0:
            raise ValueError(f"BatchNormalization epsilon must be > 0; got {self.epsilon!r}")
        for name in ("center", "scale"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"BatchNormalization {name} must be True or False; got "
                                 f"{getattr(self, name)!r}")
        for name in ("beta_initializer", "gamma_initializer", "moving_mean_initializer",
                     "moving_variance_initializer"):
            _constant_initializer("BatchNormalization", name, getattr(self, name))

    @property
    def activation_spec(self):
        return activations.get(None)
