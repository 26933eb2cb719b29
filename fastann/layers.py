"""Layer descriptions: pure data, checked on creation. The math is in ``fastann.kernels``.

Every layer is a frozen dataclass derived from ``Layer``; its ``get_config()`` is its
dataclass fields, so a new field appears in configs, JSON and ``summary`` by itself, and
``Layer.from_config`` finds the class by name in ``LAYER_CLASSES`` (filled as classes are
defined). ``Input`` / ``InputLayer`` and ``Flatten`` are the input side: they fix and
reshape what the model reads, and never reach the kernels.

``trainable`` is Keras': a layer created or set (``layer.trainable = False``, the one
field that can change after creation) not to train keeps its weights through ``fit``.
Keras' arguments fastann does not implement (``kernel_constraint``, ``autocast``, ...)
are dataclass ``InitVar``s in Keras' positions: accepted at their defaults, refused with
NotSupportedError otherwise, and never stored, so configs hold only what fastann uses.
Keras' other layers (``Conv2D``, ...) raise NotSupportedError by name.
"""
import math
import numbers
import weakref
from dataclasses import KW_ONLY, InitVar, dataclass, field, fields

from . import _checks, activations, initializers, regularizers
from ._errors import NotSupportedError, keras_only, require_default

LAYER_CLASSES = {}  # class name -> Layer subclass, for from_config
_NAME_COUNTS = {}
# Why a Keras argument is refused at anything but its default, where a hint helps.
KERAS_OPTION_HINTS = {
    "dtype": "the model's dtype sets every layer's: fastann.Sequential(..., dtype='float64')",
}


def clear_names():
    """Forget the automatic names given so far (``backend.clear_session``)."""
    _NAME_COUNTS.clear()


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
    ``get_weights`` / ``set_weights`` reach them there. ``trainable=False`` freezes
    them: ``fit`` leaves them as they are, their regularizers leave the loss, and a
    BatchNormalization normalises with its moving statistics in training too (and keeps
    them), as in Keras.
    """

    name: str = field(default=None, kw_only=True, compare=False)
    input_shape: tuple = field(default=None, kw_only=True, compare=False)
    input_dim: int = field(default=None, kw_only=True, compare=False)
    trainable: bool = field(default=True, kw_only=True, compare=False)
    # Keras' arguments accepted at their defaults only (InitVars: not stored, not in the
    # config); subclasses declare theirs the same way, in Keras' positions.
    autocast: InitVar[bool] = field(default=True, kw_only=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYER_CLASSES[cls.__name__] = cls

    @classmethod
    def _keras_options(cls, values):
        """{argument: value} of the InitVars ``__post_init__`` received, in order."""
        names = [item.name for item in cls.__dataclass_fields__.values()
                 if isinstance(item.type, InitVar)]
        return dict(zip(names, values))

    def _check_keras_options(self, options):
        """Refuse any of Keras' arguments ``options`` not at its default."""
        defaults = type(self).__dataclass_fields__
        for argument, value in options.items():
            require_default(type(self).__name__, argument, value, defaults[argument].default,
                            KERAS_OPTION_HINTS.get(argument))

    def __post_init__(self, *keras_options):
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
            if shape is not None and math.prod(shape) != dim[0]:
                raise ValueError(f"{owner} input_shape={shape} and input_dim="
                                 f"{self.input_dim} disagree; give one of them")
            shape = dim if shape is None else shape
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "input_dim", None if shape is None else math.prod(shape))
        object.__setattr__(self, "trainable", _checks.flag(f"{owner} trainable",
                                                          self.trainable))
        self._check_keras_options(self._keras_options(keras_options))

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

    def count_params(self):
        """How many numbers this layer's arrays hold (Keras' ``count_params``)."""
        return sum(array.size for array in self.get_weights())

    @property
    def output_shape(self):
        """Keras' batch shape of the layer's output, ``(None, units)``."""
        model = self._owner("output_shape")
        return (None, model.layer_output_units(self))

    def __call__(self, *args, **kwargs):
        raise NotSupportedError(
            "the functional API (calling a layer on a tensor)",
            "Build the network as a list: fastann.Sequential([layers...])")


@dataclass(frozen=True)
class _InModelDtype(Layer):
    """A layer computed in the model's dtype: Keras' per-layer ``dtype`` only None."""

    dtype: InitVar[object] = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Dense(_InModelDtype):
    """A fully-connected layer: ``activation(inputs @ W + b)``, Keras' signature.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str, None or a fastann.activations entry
        A name of ``fastann.activations.ACTIVATIONS`` (None means linear), or the
        function of one (``fastann.activations.relu``, Keras' ``keras.activations.relu``),
        kept as its name. ``step`` is inference only (it has no useful gradient).
    use_bias : bool, default True
        Whether the layer adds a bias vector b (n_out,).
    kernel_initializer : str or fastann.initializers.Initializer, default "glorot_uniform"
        How W (n_in, n_out) is drawn; see ``fastann.initializers``.
    bias_initializer : str or fastann.initializers.Initializer, default "zeros"
        How b (n_out,) is drawn.
    kernel_regularizer, bias_regularizer : None, str or fastann.regularizers.Regularizer
        Penalties on W and b added to the loss (``"l1"``, ``"l2"``, ``"l1_l2"``,
        ``L2(0.01)``, ...). Stored as Regularizer objects (or None).
    activity_regularizer, kernel_constraint, bias_constraint, lora_rank, lora_alpha,
    quantization_config : None
        Keras' arguments, accepted at their default (None) only.
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
    activity_regularizer: InitVar[object] = None
    kernel_constraint: InitVar[object] = None
    bias_constraint: InitVar[object] = None
    lora_rank: InitVar[int] = None
    lora_alpha: InitVar[float] = None
    quantization_config: InitVar[object] = None
    _: KW_ONLY
    init_scale: float = 0.01
    negative_slope: float = 0.2

    def __post_init__(self, *keras_options):
        super().__post_init__(*keras_options)
        # numpy scalars (np.int64(4), np.float32(0.1)) are accepted and stored as Python's
        object.__setattr__(self, "units", _checks.positive_int("Dense units", self.units))
        _keep_activation_name(self)
        if not isinstance(self.use_bias, bool):
            raise TypeError(f"Dense use_bias must be True or False; got {self.use_bias!r}")
        for name in ("kernel_initializer", "bias_initializer"):
            value = getattr(self, name)
            checked = initializers.get(value, name)
            if not isinstance(value, str):  # a config or a class: keep the object
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
    def kernel(self):
        """A copy of W (n_in, units), as Keras' ``layer.kernel`` holds it."""
        return self.get_weights()[0]

    @property
    def bias(self):
        """A copy of b (units,), or None with ``use_bias=False``."""
        return self.get_weights()[1] if self.use_bias else None

    @property
    def activation_spec(self):
        return activations.get(self.activation)


def _keep_activation_name(layer):
    """Check ``layer.activation`` and keep a function given there as its name, which the
    config holds (as Keras serializes its activations)."""
    spec = activations.get(layer.activation)
    if layer.activation is not None and not isinstance(layer.activation, str):
        object.__setattr__(layer, "activation", spec.name)


@dataclass(frozen=True)
class Flatten(_InModelDtype):
    """Flattens each sample to one axis, as Keras' Flatten. Inputs of shape
    (n_samples, d1, d2, ...) given to a model whose first layer is a Flatten are reshaped
    to (n_samples, d1 * d2 * ...) before any kernel runs (a view, no copy); anywhere else
    it changes nothing, since every layer's output is already one axis per sample.
    ``data_format`` None or "channels_last" (the order it flattens in)."""

    data_format: str = None

    def __post_init__(self, *keras_options):
        super().__post_init__(*keras_options)
        if self.data_format not in (None, "channels_last"):
            raise NotSupportedError(f"Flatten data_format={self.data_format!r}",
                                    "fastann flattens each sample in its own (C) order, "
                                    "Keras' 'channels_last'")


@dataclass(frozen=True)
class InputLayer(Layer):
    """The input of a ``Sequential`` model: fixes the shape of one sample. Keras'
    ``InputLayer(shape=(n_features,))`` or ``batch_shape=(None, n_features)``; not part
    of ``model.layers``, as in Keras. ``dtype`` is the data's (``fit`` converts it to
    the model's); ``sparse``, ``ragged``, ``input_tensor`` and ``optional`` only at
    their defaults."""

    shape: tuple = None
    batch_size: int = None
    dtype: str = None
    sparse: bool = None
    ragged: InitVar[bool] = None
    batch_shape: InitVar[tuple] = None
    input_tensor: InitVar[object] = None
    optional: InitVar[bool] = False

    def __post_init__(self, *keras_options):
        batch_shape = self._keras_options(keras_options)["batch_shape"]
        if batch_shape is not None:
            self._take_batch_shape(batch_shape)
        if self.shape is None and self.input_shape is None:
            raise ValueError("Input needs shape=(n_features,); got no shape")
        if self.shape is not None:
            object.__setattr__(self, "shape", shape_tuple("Input", "shape", self.shape))
            if self.input_shape is not None and tuple(self.input_shape) != self.shape:
                raise ValueError(f"Input shape={self.shape} and input_shape="
                                 f"{self.input_shape} disagree")
            object.__setattr__(self, "input_shape", self.shape)
        super().__post_init__(*keras_options)
        object.__setattr__(self, "shape", self.input_shape)
        if self.sparse:
            raise NotSupportedError("sparse inputs", "Pass a dense NumPy array")
        if self.batch_size is not None and (
                isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                or self.batch_size < 1):
            raise ValueError(f"Input batch_size must be a positive int or None; got "
                             f"{self.batch_size!r}")

    def _take_batch_shape(self, batch_shape):
        """Keras' ``batch_shape=(batch_size, *shape)`` as ``shape`` and ``batch_size``."""
        if self.shape is not None or self.batch_size is not None:
            raise ValueError("Input takes shape= (and batch_size=) or batch_shape=, not "
                             f"both; got shape={self.shape!r}, batch_size="
                             f"{self.batch_size!r}, batch_shape={batch_shape!r}")
        if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 2:
            raise ValueError(f"Input batch_shape must be (batch_size or None, n_features, "
                             f"...); got {batch_shape!r}")
        object.__setattr__(self, "batch_size", batch_shape[0])
        object.__setattr__(self, "shape", tuple(batch_shape[1:]))

    def _check_keras_options(self, options):
        options.pop("batch_shape")  # read in __post_init__
        options["ragged"] = options["ragged"] or None  # False: not ragged, as None
        super()._check_keras_options(options)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """Keras' ``Input(shape=(n_features,))`` (or ``batch_shape=(None, n_features)``): put
    it first in a ``Sequential``'s layers to fix the input size. fastann has no symbolic
    tensors: calling a layer on it (the functional API) is not supported, nor are
    ``tensor`` and ``optional=True``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      ragged=ragged, batch_shape=batch_shape, input_tensor=tensor,
                      optional=optional, name=name)


CONSTANT_INITIALIZERS = {"zeros": 0.0, "ones": 1.0}


def _constant_initializer(layer, name, value):
    """``value`` as the name of the constant it starts a weight at ("zeros" or "ones"),
    from any Keras spelling of them (``"Ones"``, ``Ones()``, ``Constant(1.0)``)."""
    initializer = initializers.get(value, name)
    constant = initializer.value if isinstance(initializer, initializers.Constant) else None
    names = {number: key for key, number in CONSTANT_INITIALIZERS.items()}
    if constant not in names:
        raise NotSupportedError(f"{layer} {name}={value!r}", "its weights start at "
                                f"constants: {sorted(CONSTANT_INITIALIZERS)}")
    return names[constant]


@dataclass(frozen=True)
class Activation(_InModelDtype):
    """A layer with no parameters that applies ``activation`` to its inputs.

    Parameters
    ----------
    activation : str, None or a fastann.activations entry
        Anything ``Dense`` accepts (None is linear).
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs.
    """

    activation: str = None
    negative_slope: float = 0.2

    def __post_init__(self, *keras_options):
        super().__post_init__(*keras_options)
        _keep_activation_name(self)
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Activation negative_slope must be in [0, 1); got "
                             f"{self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)


@dataclass(frozen=True)
class Dropout(_InModelDtype):
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

    def __post_init__(self, *keras_options):
        super().__post_init__(*keras_options)
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not (
                0 <= self.rate < 1):
            raise ValueError(f"Dropout rate must be a number in [0, 1); got {self.rate!r}")
        if self.noise_shape is not None:
            raise NotSupportedError(f"Dropout noise_shape={self.noise_shape!r}",
                                    "only None: a mask entry per input")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(
                self.seed, int) or not 0 <= self.seed < 2**64):
            raise ValueError(f"Dropout seed must be None or an int in [0, 2**64); got "
                             f"{self.seed!r}")

    @property
    def activation_spec(self):
        return activations.get(None)


@dataclass(frozen=True)
class BatchNormalization(_InModelDtype):
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
    moving_variance_initializer : "zeros" or "ones", in any Keras spelling
        Kept as "zeros" or "ones".
    beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint, renorm,
    renorm_clipping, renorm_momentum, synchronized
        Keras' arguments, accepted at their defaults only.
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
    beta_regularizer: InitVar[object] = None
    gamma_regularizer: InitVar[object] = None
    beta_constraint: InitVar[object] = None
    gamma_constraint: InitVar[object] = None
    renorm: InitVar[bool] = False
    renorm_clipping: InitVar[dict] = None
    renorm_momentum: InitVar[float] = 0.99
    synchronized: InitVar[bool] = False

    def __post_init__(self, *keras_options):
        super().__post_init__(*keras_options)
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
            object.__setattr__(self, name, _constant_initializer(
                "BatchNormalization", name, getattr(self, name)))

    @property
    def activation_spec(self):
        return activations.get(None)


def _trainable_settable(frozen_setattr):
    """A layer class's ``__setattr__`` (a frozen dataclass's, which raises
    FrozenInstanceError for every name), with Keras' ``layer.trainable = True/False``
    allowed: the one field that changes after creation (the next ``fit`` reads it)."""
    def __setattr__(self, name, value):
        if name == "trainable":
            object.__setattr__(self, name, _checks.flag(
                f"{type(self).__name__}.trainable", value))
            return
        frozen_setattr(self, name, value)
    return __setattr__


for _cls in list(LAYER_CLASSES.values()):
    _cls.__setattr__ = _trainable_settable(_cls.__setattr__)


# Keras' layers (Keras 3's ``dir(keras.layers)``) a user may reach for; fastann builds
# fully-connected networks only.
KERAS_ONLY = frozenset("""
ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D
AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D
Add AdditiveAttention AlphaDropout Attention AugMix AutoContrast Average
AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
Bidirectional CategoryEncoding CenterCrop Concatenate
ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D
Conv2DTranspose Conv3D Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D
Convolution1DTranspose Convolution2D Convolution2DTranspose Convolution3D
Convolution3DTranspose Cropping1D Cropping2D Cropping3D CutMix DepthwiseConv1D
DepthwiseConv2D Discretization Dot ELU EinsumDense Embedding Equalization FlaxLayer GRU
GRUCell GaussianDropout GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D
GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D GlobalMaxPool1D
GlobalMaxPool2D GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D
GroupNormalization GroupQueryAttention HashedCrossing Hashing Identity InputSpec
IntegerLookup JaxLayer LSTM LSTMCell Lambda LayerNormalization LeakyReLU Masking
MaxNumBoundingBoxes MaxPool1D MaxPool2D MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D
Maximum MelSpectrogram Minimum MixUp MultiHeadAttention Multiply Normalization PReLU
Permute Pipeline RMSNormalization RNN RandAugment RandomBrightness
RandomColorDegeneration RandomColorJitter RandomContrast RandomCrop
RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur RandomGrayscale
RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation
RandomSaturation RandomSharpness RandomShear RandomTranslation RandomZoom ReLU
RepeatVector Rescaling Reshape Resizing ReversibleEmbedding STFTSpectrogram
SeparableConv1D SeparableConv2D SeparableConvolution1D SeparableConvolution2D SimpleRNN
SimpleRNNCell Softmax Solarization SpatialDropout1D SpatialDropout2D SpatialDropout3D
SpectralNormalization StackedRNNCells StringLookup Subtract TFSMLayer TextVectorization
TimeDistributed TorchModuleWrapper UnitNormalization UpSampling1D UpSampling2D
UpSampling3D Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D add average concatenate
dot maximum minimum multiply subtract
""".split())
__getattr__ = keras_only(__name__, "layer", KERAS_ONLY, "fastann builds fully-connected "
                         "networks: " + ", ".join(sorted(LAYER_CLASSES)))


def serialize(layer):
    """``{"class_name", "config"}``, as Keras serializes a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config, custom_objects=None):
    """The layer ``serialize`` described (``custom_objects`` must be None: the kernels
    run fastann's layers only)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "the kernels run fastann's layers only")
    return Layer.from_config(config)
