"""Layer descriptions: pure data, checked on creation. The math is in ``fastann.kernels``.

Every layer is a frozen dataclass derived from ``Layer``; its ``get_config()`` is its
dataclass fields, so a new field appears in configs, JSON and ``summary`` by itself, and
``Layer.from_config`` finds the class by name in ``LAYER_CLASSES`` (filled as classes are
defined). ``Input`` / ``InputLayer`` and ``Flatten`` are the input side: they fix and
reshape what the model reads, and never reach the kernels.
"""
import math
import numbers
import weakref
from dataclasses import KW_ONLY, dataclass, field, fields

from . import _checks, activations, initializers, regularizers
from ._errors import NotSupportedError

LAYER_CLASSES = {}  # class name -> Layer subclass, for from_config
_NAME_COUNTS = {}


def unique_name(base):
    """Keras' automatic names: ``dense``, ``dense_1``, ``dense_2``, ... per base."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def shape_tuple(owner, name, shape):
    """``shape`` as a tuple of positive ints (an int n is ``(n,)``)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
            for n in shape):
        raise ValueError(f"{owner} {name} must be a tuple of positive ints such as (2,), "
                         f"without the batch dimension; got {shape!r}")
    return tuple(int(n) for n in shape)


@dataclass(frozen=True)
class Layer:
    """Base of every layer: Keras' ``name`` and, on a model's first layer, the input
    size as ``input_shape=(n_features,)`` or ``input_dim=n_features``.

    A layer's weights live in the model that built it (the flat buffers);
    ``get_weights`` / ``set_weights`` reach them there.
    """

    name: str = field(default=None, kw_only=True, compare=False)
    input_shape: tuple = field(default=None, kw_only=True, compare=False)
    input_dim: int = field(default=None, kw_only=True, compare=False)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[cls.__name__] = cls

    def __post_init__(self):
        owner = type(self).__name__
        if self.name is None:
            object.__setattr__(self, "name", unique_name(_snake(owner)))
        elif not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{owner} name must be a non-empty str; got {self.name!r}")
        shape = None if self.input_shape is None else shape_tuple(owner, "input_shape",
                                                                  self.input_shape)
        if self.input_dim is not None:
            dim = shape_tuple(owner, "input_dim", self.input_dim)
            if len(dim) != 1:
                raise ValueError(f"{owner} input_dim must be a positive int; got "
                                 f"{self.input_dim!r}")
            if shape is not None and shape != dim:
                raise ValueError(f"{owner} input_shape={shape} and input_dim="
                                 f"{self.input_dim} disagree; give one of them")
            shape = dim
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "input_dim", None if shape is None else math.prod(shape))

    # ------------------------------------------------------------ Keras API
    def get_config(self):
        """{field: value} of every dataclass field, JSON-able: tuples as lists, option
        objects (initializers, regularizers) as ``{"class_name", "config"}``."""
        config = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            elif hasattr(value, "get_config"):
                value = {"class_name": type(value).__name__, "config": value.get_config()}
            config[item.name] = value
        return config

    @classmethod
    def from_config(cls, config):
        """The layer ``cls(**config)``; ``Layer.from_config`` reads the class from
        ``{"class_name": ..., "config": {...}}``."""
        if cls is Layer:
            if not isinstance(config, dict) or set(config) != {"class_name", "config"}:
                raise ValueError("Layer.from_config expects {'class_name': ..., 'config': "
                                 f"{{...}}}}; got {config!r}")
            name = config["class_name"]
            if name not in LAYER_CLASSES:
                raise NotSupportedError(f"the layer class {name!r}", "fastann layers: " +
                                        ", ".join(sorted(LAYER_CLASSES)))
            return LAYER_CLASSES[name].from_config(config["config"])
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict; got {config!r}")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} config has unknown keys {unknown}; expected "
                             f"some of {sorted(known)}")
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        return cls(**config)

    def _attach(self, model):
        """Called by the model that builds this layer: where ``get_weights`` reads."""
        object.__setattr__(self, "_model", weakref.ref(model))

    def __getstate__(self):  # pickle, deepcopy: the weak link to the model is not data
        state = dict(self.__dict__)
        state.pop("_model", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)  # frozen: bypass __setattr__

    def _owner(self, action):
        model = getattr(self, "_model", lambda: None)()
        if model is None or not model.built or self not in model.layers:
            raise RuntimeError(f"{self.name}.{action}: the layer is not part of a built "
                               "model; add it to a model whose input size is known")
        return model

    def get_weights(self):
        """Copies of this layer's arrays (Dense: kernel (n_in, units), bias (units,))."""
        return self._owner("get_weights").layer_weights(self)

    def set_weights(self, weights):
        """Load arrays shaped as ``get_weights`` gives them; checked before copying."""
        self._owner("set_weights").set_layer_weights(self, weights)

    @property
    def weights(self):
        return self.get_weights()

    def __call__(self, *args, **kwargs):
        raise NotSupportedError(
            "the functional API (calling a layer on a tensor)",
            "Build the network as a list: fastann.Sequential([layers...])")


@dataclass(frozen=True)
class Dense(Layer):
    """A fully-connected layer: ``activation(inputs @ W + b)``, Keras' signature.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str or None
        A name of ``fastann.activations.ACTIVATIONS``; None means linear. ``step`` is
        inference only (it has no useful gradient).
    use_bias : bool, default True
        Whether the layer adds a bias vector b (n_out,).
    kernel_initializer : str or fastann.initializers.Initializer, default "glorot_uniform"
        How W (n_in, n_out) is drawn; see ``fastann.initializers``.
    bias_initializer : str or fastann.initializers.Initializer, default "zeros"
        How b (n_out,) is drawn.
    kernel_regularizer, bias_regularizer : None, str or fastann.regularizers.Regularizer
        Penalties on W and b added to the loss (``"l1"``, ``"l2"``, ``"l1_l2"``,
        ``L2(0.01)``, ...). Stored as Regularizer objects (or None).
    init_scale : float, keyword-only
        Standard deviation for ``scaled_normal``.
    negative_slope : float, keyword-only
        Slope of ``leaky_relu`` for negative inputs (Keras' default, 0.2).
    name, input_shape, input_dim
        As for every ``Layer``.
    """

    units: int
    activation: str = None
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"
    kernel_regularizer: regularizers.Regularizer = None
    bias_regularizer: regularizers.Regularizer = None
    _: KW_ONLY
    init_scale: float = 0.01
    negative_slope: float = 0.2

    def __post_init__(self):
        super().__post_init__()
        # numpy scalars (np.int64(4), np.float32(0.1)) are accepted and stored as Python's
        object.__setattr__(self, "units", _checks.positive_int("Dense units", self.units))
        activations.get(self.activation)
        if not isinstance(self.use_bias, bool):
            raise TypeError(f"Dense use_bias must be True or False; got {self.use_bias!r}")
        for name in ("kernel_initializer", "bias_initializer"):
            value = getattr(self, name)
            checked = initializers.get(value, name)
            if isinstance(value, dict):  # from a config: keep the object
                object.__setattr__(self, name, checked)
        for name in ("kernel_regularizer", "bias_regularizer"):
            object.__setattr__(self, name, regularizers.get(getattr(self, name), name))
        for name in ("init_scale", "negative_slope"):
            value = getattr(self, name)
            try:
                number = float(value) if isinstance(value, numbers.Real) else math.nan
            except OverflowError:  # an int beyond float's range
                number = math.inf
            if isinstance(value, bool) or not math.isfinite(number):
                raise ValueError(f"Dense {name} must be a finite number; got {value!r}")
            object.__setattr__(self, name, number)
        if not self.init_scale > 0:
            raise ValueError(f"Dense init_scale must be > 0; got {self.init_scale!r}")
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Dense negative_slope must be in [0, 1); got {self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)


@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens each sample to one axis, as Keras' Flatten. Inputs of shape
    (n_samples, d1, d2, ...) given to a model whose first layer is a Flatten are reshaped
    to (n_samples, d1 * d2 * ...) before any kernel runs (a view, no copy); anywhere else
    it changes nothing, since every layer's output is already one axis per sample."""

    data_format: str = None


@dataclass(frozen=True)
class InputLayer(Layer):
    """The input of a ``Sequential`` model: fixes the shape of one sample. Keras'
    ``InputLayer(shape=(n_features,))``; not part of ``model.layers``, as in Keras."""

    shape: tuple = None
    batch_size: int = None
    dtype: str = None
    sparse: bool = None

    def __post_init__(self):
        if self.shape is None and self.input_shape is None:
            raise ValueError("Input needs shape=(n_features,); got no shape")
        if self.shape is not None:
            object.__setattr__(self, "shape", shape_tuple("Input", "shape", self.shape))
            if self.input_shape is not None and tuple(self.input_shape) != self.shape:
                raise ValueError(f"Input shape={self.shape} and input_shape="
                                 f"{self.input_shape} disagree")
            object.__setattr__(self, "input_shape", self.shape)
        super().__post_init__()
        object.__setattr__(self, "shape", self.input_shape)
        if self.sparse:
            raise NotSupportedError("sparse inputs", "Pass a dense NumPy array")
        if self.batch_size is not None and (
                isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                or self.batch_size < 1):
            raise ValueError(f"Input batch_size must be a positive int or None; got "
                             f"{self.batch_size!r}")


def Input(shape=None, batch_size=None, dtype=None, sparse=None, name=None):
    """Keras' ``Input(shape=(n_features,))``: put it first in a ``Sequential``'s layers
    to fix the input size. fastann has no symbolic tensors: calling a layer on it (the
    functional API) is not supported."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      name=name)


CONSTANT_INITIALIZERS = {"zeros": 0.0, "ones": 1.0}


def _constant_initializer(layer, name, value):
    key = value.lower() if isinstance(value, str) else value
    if key not in CONSTANT_INITIALIZERS:
        raise ValueError(f"{layer} {name} must be one of {sorted(CONSTANT_INITIALIZERS)}; "
                         f"got {value!r}")


@dataclass(frozen=True)
class Activation(Layer):
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
        super().__post_init__()
        activations.get(self.activation)
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Activation negative_slope must be in [0, 1); got "
                             f"{self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)


@dataclass(frozen=True)
class Dropout(Layer):
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
        super().__post_init__()
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
class BatchNormalization(Layer):
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
        super().__post_init__()
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


# Keras layers a user may reach for; fastann builds fully-connected networks only.
KERAS_ONLY = frozenset("""
Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose SeparableConv1D
SeparableConv2D DepthwiseConv1D DepthwiseConv2D MaxPooling1D MaxPooling2D MaxPooling3D
AveragePooling1D AveragePooling2D AveragePooling3D GlobalAveragePooling1D
GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D
GlobalMaxPooling3D MaxPool1D MaxPool2D AvgPool1D AvgPool2D LSTM GRU SimpleRNN RNN
ConvLSTM1D ConvLSTM2D Bidirectional TimeDistributed Embedding Attention
MultiHeadAttention AdditiveAttention GroupQueryAttention LayerNormalization
GroupNormalization UnitNormalization Reshape Permute RepeatVector Cropping1D Cropping2D
UpSampling1D UpSampling2D ZeroPadding1D ZeroPadding2D Concatenate Add Subtract Multiply
Average Maximum Minimum Dot Lambda Masking SpatialDropout1D SpatialDropout2D
GaussianNoise GaussianDropout AlphaDropout ActivityRegularization Rescaling
Normalization Resizing CenterCrop RandomFlip RandomRotation RandomZoom RandomCrop
CategoryEncoding Hashing StringLookup IntegerLookup TextVectorization Discretization
EinsumDense Identity PReLU ReLU LeakyReLU ELU Softmax
""".split())


def __getattr__(name):
    if name in KERAS_ONLY:
        raise NotSupportedError(
            f"the Keras layer {name}",
            "fastann builds fully-connected networks: " + ", ".join(sorted(LAYER_CLASSES)))
    raise AttributeError(f"module 'fastann.layers' has no attribute {name!r}")
