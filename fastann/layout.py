"""Where everything lives in the flat buffers, computed once per architecture.

Trainable parameters are laid out layer by layer in one contiguous array, each layer's
in Keras' order (Dense: ``W`` (n_in, n_out) then ``b`` (n_out,) when it has one;
BatchNormalization: ``gamma`` then ``beta``, those that exist); gradients and
optimizer state share that layout, so the optimizer and regularizers see only
trainable values. Non-trainable state (BatchNormalization's moving mean and variance)
lives in a second flat array, ``moving``, which the training loop updates itself.
Activations of a batch are laid out the same way: layer ``l``'s block of
``capacity * n_out`` values starts at ``capacity * unit_offset[l]`` in the Z and A
buffers.

Each layer type is one entry of ``LAYER_KINDS``: its kernel code, its output size, its
weights (name, shape, trainable or not, initial values) and its per-layer numbers for
the kernels. A new layer type is an entry there plus its kernels in
``kernels/network.py``.

Sizes are bounded here, before anything is allocated: every count must fit the kernels'
int64 table, and a model whose parameters and optimizer state would not fit in this
machine's memory is refused with a ValueError (not an OverflowError or MemoryError).
The per-layer numbers (BatchNormalization's epsilon and momentum, Dropout's scale, the
leaky slopes) are cast to the model's dtype by ``_checks.hyper_in_dtype``, which refuses
one that would become inf or 0.
"""
import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import _checks, initializers
from .kernels import network
from .kernels.activations import LINEAR
from .kernels.optimizers import state_length
from .kernels.train import Scratch
from .layers import CONSTANT_INITIALIZERS


@dataclass(frozen=True)
class Weight:
    """One of a layer's weights in ``get_weights`` order: which flat array holds it
    (``"params"``, trainable, or ``"moving"``), where, and its shape."""

    layer: int
    name: str
    trainable: bool
    offset: int
    shape: tuple
    nonnegative: bool = False  # a variance: no value below 0 is possible

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def label(self):
        """How errors name it: W3 / b3 for layer 3's (1-based) Dense kernel and bias, else
        the layer index and the weight's Keras name."""
        short = {"kernel": "W", "bias": "b"}.get(self.name)
        return f"{short}{self.layer + 1}" if short else f"layer {self.layer} {self.name}"


@dataclass(frozen=True)
class LayerKind:
    """A layer type: its kernel code, how many outputs it has for ``n_in`` inputs, its
    weights ``(name, shape, trainable)`` and how each is initialised."""

    code: int
    output_units: object  # (layer, n_in) -> n_out
    weights: object  # (layer, n_in, n_out) -> [(name, shape, trainable), ...]
    initial: object  # (layer, name, shape, random) -> ndarray or scalar
    nonnegative: tuple = ()  # names of the weights that can never be negative


def _dense_weights(layer, n_in, n_out):
    weights = [("kernel", (n_in, n_out), True)]
    if getattr(layer, "use_bias", True):
        weights.append(("bias", (n_out,), True))
    return weights


def _dense_initial(layer, name, shape, random):
    """Kernel, then bias, drawn from the model's stream by the layer's initializers
    (``fastann.initializers``: Keras' names and classes)."""
    option = layer.kernel_initializer if name == "kernel" else layer.bias_initializer
    initializer = initializers.get(option, f"{name}_initializer")
    return initializer(shape, np.float64, random, layer.init_scale)


def _batchnorm_weights(layer, n_in, n_out):
    weights = [("gamma", (n_out,), True)] if layer.scale else []
    if layer.center:
        weights.append(("beta", (n_out,), True))
    return weights + [("moving_mean", (n_out,), False), ("moving_variance", (n_out,), False)]


def _batchnorm_initial(layer, name, shape, random):
    names = {"gamma": layer.gamma_initializer, "beta": layer.beta_initializer,
             "moving_mean": layer.moving_mean_initializer,
             "moving_variance": layer.moving_variance_initializer}
    return CONSTANT_INITIALIZERS[names[name].lower()]


def _same_size(layer, n_in):
    return n_in


def _no_weights(layer, n_in, n_out):
    return []


LAYER_KINDS = {
    "Dense": LayerKind(network.DENSE, lambda layer, n_in: layer.units, _dense_weights,
                       _dense_initial),
    "Activation": LayerKind(network.ACTIVATION_LAYER, _same_size, _no_weights, None),
    "Dropout": LayerKind(network.DROPOUT, _same_size, _no_weights, None),
    "BatchNormalization": LayerKind(network.BATCH_NORMALIZATION, _same_size,
                                    _batchnorm_weights, _batchnorm_initial,
                                    nonnegative=("moving_variance",)),
}
# The names of ``Layout.floats``' columns, as errors give them.
FLOAT_NAMES = {network.SCALE: "rate (as its scale 1 / (1 - rate))",
               network.MOMENTUM: "momentum", network.EPSILON: "epsilon"}
MAX_COUNT = np.iinfo(np.int64).max  # sizes and offsets: the kernels' int64 table


def kind_of(layer):
    """The ``LayerKind`` of ``layer``, or a TypeError naming the supported types."""
    kind = LAYER_KINDS.get(type(layer).__name__)
    if kind is None:
        raise TypeError(f"fastann does not support layers of type {type(layer).__name__}; "
                        f"expected one of {', '.join(sorted(LAYER_KINDS))}")
    return kind


def output_units(layers, n_features=None):
    """Size of the network's output: the last Dense's units, or the input size when no
    Dense layer is present (None if that is not known yet)."""
    for layer in reversed(layers):
        if hasattr(layer, "units"):
            return layer.units
    return n_features


@dataclass(frozen=True)
class Layout:
    """Offsets of every layer's parameters and activations.

    ``table`` is the int64 (n_layers, network.N_COLUMNS) array the kernels read.
    ``plain`` says the network is Dense layers with biases only, which run the kernels'
    Dense-only passes (``extras`` None).
    """

    sizes: tuple  # (n_features, units_1, ..., units_L)
    table: np.ndarray
    n_params: int
    total_units: int
    max_units: int
    weights: tuple = ()  # Weight, in get_weights order
    n_moving: int = 0
    n_scratch: int = 0
    plain: bool = True
    floats: np.ndarray = field(default=None, repr=False)  # (n_layers, N_FLOATS) float64
    bits: np.ndarray = field(default=None, repr=False)  # (n_layers, N_BITS) uint64
    slopes: np.ndarray = field(default=None, repr=False)  # (n_layers,) float64

    @classmethod
    def build(cls, sizes, activation_codes):
        """The layout of a stack of Dense layers with biases of the given sizes."""
        n_layers = len(sizes) - 1
        table = np.zeros((n_layers, network.N_COLUMNS), dtype=np.int64)
        param_offset = unit_offset = 0
        weights = []
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            table[l, network.N_IN] = n_in
            table[l, network.N_OUT] = n_out
            table[l, network.W_OFFSET] = param_offset
            table[l, network.B_OFFSET] = param_offset + n_in * n_out
            table[l, network.UNIT_OFFSET] = unit_offset
            table[l, network.ACTIVATION] = activation_codes[l]
            table[l, network.KIND] = network.DENSE
            weights += [Weight(l, "kernel", True, param_offset, (n_in, n_out)),
                        Weight(l, "bias", True, param_offset + n_in * n_out, (n_out,))]
            param_offset += (n_in + 1) * n_out
            unit_offset += n_out
        table.setflags(write=False)
        return cls(tuple(sizes), table, param_offset, unit_offset, max(sizes[1:]),
                   tuple(weights))

    @classmethod
    def for_layers(cls, layers, n_features):
        """The layout of any stack of ``layers`` (see ``LAYER_KINDS``) on ``n_features``
        inputs."""
        n_layers = len(layers)
        table = np.full((n_layers, network.N_COLUMNS), -1, dtype=np.int64)
        table[:, network.FROZEN] = 0  # the model sets it for the layers it freezes
        floats = np.zeros((n_layers, network.N_FLOATS))
        bits = np.zeros((n_layers, network.N_BITS), np.uint64)
        slopes = np.array([getattr(layer, "negative_slope", 0.2) for layer in layers])
        sizes = [n_features]
        weights = []
        offsets = {"params": 0, "moving": 0}
        unit_offset = scratch_offset = 0
        for l, layer in enumerate(layers):
            kind = kind_of(layer)
            n_in = sizes[-1]
            n_out = kind.output_units(layer, n_in)
            _refuse_uncountable(l, layer, n_in, n_out, sum(offsets.values()), unit_offset)
            sizes.append(n_out)
            row = table[l]
            row[network.N_IN], row[network.N_OUT] = n_in, n_out
            row[network.UNIT_OFFSET] = unit_offset
            row[network.KIND] = kind.code
            spec = getattr(layer, "activation_spec", None)
            row[network.ACTIVATION] = spec.code if spec is not None else LINEAR
            for name, shape, trainable in kind.weights(layer, n_in, n_out):
                array = "params" if trainable else "moving"
                weights.append(Weight(l, name, trainable, offsets[array], shape,
                                      name in kind.nonnegative))
                offsets[array] += math.prod(shape)
            named = {w.name: w.offset for w in weights if w.layer == l}
            if kind.code == network.DENSE:
                row[network.W_OFFSET] = named["kernel"]
                row[network.B_OFFSET] = named.get("bias", -1)
                if "bias" not in named:  # a zero bias and a discarded bias gradient
                    row[network.SCRATCH_OFFSET] = scratch_offset
                    scratch_offset += 2 * n_out
            elif kind.code == network.BATCH_NORMALIZATION:
                row[network.W_OFFSET] = named.get("gamma", -1)
                row[network.B_OFFSET] = named.get("beta", -1)
                row[network.MOVING_OFFSET] = named["moving_mean"]
                row[network.SCRATCH_OFFSET] = scratch_offset
                scratch_offset += 6 * n_out
                floats[l, network.MOMENTUM] = layer.momentum
                floats[l, network.EPSILON] = layer.epsilon
            elif kind.code == network.DROPOUT:
                floats[l, network.SCALE] = 1.0 / (1.0 - layer.rate)
                bits[l, network.THRESHOLD] = np.uint64(int(layer.rate * 2.0**53))
                if layer.seed is not None:
                    # never 0 (which means "no salt"): the seed's SplitMix64 output
                    bits[l, network.SALT] = np.random.SeedSequence(
                        layer.seed).generate_state(1, np.uint64)[0] | np.uint64(1)
            unit_offset += n_out
        plain = all(type(layer).__name__ == "Dense" and getattr(layer, "use_bias", True)
                    for layer in layers)
        table.setflags(write=False)
        return cls(tuple(sizes), table, offsets["params"], unit_offset, max(sizes[1:]),
                   tuple(weights), offsets["moving"], scratch_offset, plain, floats, bits,
                   slopes)

    @property
    def n_total(self):
        """Every weight, trainable or not (Keras' ``count_params``)."""
        return self.n_params + self.n_moving

    def check_weights(self, arrays, where="set_weights:"):
        """Raise ValueError if an array of ``arrays`` (every weight, in ``get_weights``
        order) that can never be negative (a moving variance) has a negative entry;
        ``where`` begins the message."""
        for weight, array in zip(self.weights, arrays):
            if weight.nonnegative and (np.asarray(array) < 0).any():
                raise ValueError(f"{where} {weight.label} must be >= 0 (a variance); got "
                                 f"{np.asarray(array).min()!r} among its values")

    def layer_size(self, l):
        """How many weights layer ``l`` has, trainable or not."""
        return sum(w.size for w in self.weights if w.layer == l)

    def views(self, flat):
        """The trainable weights, in order, as views into a flat parameter-shaped array."""
        return [flat[w.offset:w.offset + w.size].reshape(w.shape)
                for w in self.weights if w.trainable]

    def weight_views(self, params, moving):
        """Every weight in ``get_weights`` order, as views into ``params`` / ``moving``."""
        return [(params if w.trainable else moving)[w.offset:w.offset + w.size].reshape(
            w.shape) for w in self.weights]

    def initial_state(self, layers, seed, dtype):
        """(params (n_params,), moving (n_moving,)) initialised as each layer's kind says;
        the kernels draw from one RandomState(seed), layer after layer."""
        self._refuse_beyond_memory(dtype)
        self.kernel_floats(dtype)  # numbers the dtype cannot hold: refused now, not in fit
        self.kernel_slopes(dtype)
        params = np.zeros(self.n_params, dtype)
        moving = np.zeros(self.n_moving, dtype)
        random = np.random.RandomState(seed)
        for weight, view in zip(self.weights, self.weight_views(params, moving)):
            layer = layers[weight.layer]
            view[...] = kind_of(layer).initial(layer, weight.name, weight.shape, random)
        return params, moving

    def kernel_extras(self, moving, workspace, rng_state, dtype):
        """The ``extras`` argument of the kernels: None for a plain Dense stack, else the
        tuple ``network.forward_layers`` documents."""
        if self.plain:
            return None
        return (moving, workspace.moving_backup, workspace.scratch,
                self.kernel_floats(dtype), self.bits, rng_state)

    def kernel_floats(self, dtype):
        """The per-layer numbers (``floats``) in ``dtype``, each checked to survive the
        cast."""
        return _checks.hyper_in_dtype(
            lambda index: f"{self._layer_name(index[0])} {FLOAT_NAMES[index[1]]}",
            self.floats, dtype)

    def kernel_slopes(self, dtype):
        """The leaky activations' slopes per layer in ``dtype``, checked likewise."""
        return _checks.hyper_in_dtype(
            lambda index: f"{self._layer_name(index[0])} negative_slope", self.slopes, dtype)

    def _layer_name(self, l):
        """How errors name layer ``l``: its index and type, "layer 1 (BatchNormalization)"."""
        kinds = {kind.code: name for name, kind in LAYER_KINDS.items()}
        return f"layer {l} ({kinds[int(self.table[l, network.KIND])]})"

    def _refuse_beyond_memory(self, dtype):
        """ValueError when the parameters, moving statistics and optimizer state alone
        are more bytes than this machine's memory (np.zeros would raise MemoryError,
        or, overcommitted, the first write would exhaust it)."""
        needed = (state_length(self.n_params) + self.n_params + self.n_moving) * \
            np.dtype(dtype).itemsize
        available = _physical_memory()
        if available is not None and needed > available:
            raise ValueError(f"the model has {self.n_total:,} weights (layer sizes "
                             f"{list(self.sizes)}), which with the optimizer state need "
                             f"{needed / 2**30:,.1f} GiB, more than this machine's "
                             f"{available / 2**30:,.1f} GiB of memory; use smaller layers")


def _physical_memory():
    """This machine's memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _refuse_uncountable(l, layer, n_in, n_out, n_weights, n_units):
    """ValueError when layer ``l``'s sizes would overflow the kernels' int64 counts: its
    outputs, the weights (``n_weights`` before it) or the units (``n_units``) so far."""
    if max(n_out, n_weights + (n_in + 2) * n_out, n_units + n_out) > MAX_COUNT:
        raise ValueError(f"layer {l} ({type(layer).__name__}) has {n_out:,} outputs on "
                         f"{n_in:,} inputs: more weights or units than fastann can count "
                         f"(at most {MAX_COUNT:,})")


class Workspace:
    """Every scratch buffer that training or inference on batches of up to ``capacity``
    rows needs, allocated once and reused by every kernel call."""

    def __init__(self, layout, capacity, dtype):
        self.capacity = capacity
        n_features, n_out = layout.sizes[0], layout.sizes[-1]
        self.Z = np.zeros(capacity * layout.total_units, dtype)
        self.A = np.zeros(capacity * layout.total_units, dtype)
        self.delta = np.zeros(2 * capacity * layout.max_units, dtype)
        self.grads = np.zeros(layout.n_params, dtype)
        self.backup_params = np.zeros(layout.n_params, dtype)
        self.backup_state = np.zeros(state_length(layout.n_params), dtype)
        self.batch_X = np.zeros((capacity, n_features), dtype)
        self.batch_Y = np.zeros((capacity, n_out), dtype)
        self.batch_weight = np.zeros(capacity, dtype)
        self.order = np.zeros(0, np.int64)
        self.moving_backup = np.zeros(layout.n_moving, dtype)
        self.scratch = np.zeros(layout.n_scratch, dtype)
        for l in range(layout.table.shape[0]):  # BatchNormalization's constant gamma
            if layout.table[l, network.KIND] == network.BATCH_NORMALIZATION:
                n_out, start = layout.table[l, network.N_OUT], layout.table[
                    l, network.SCRATCH_OFFSET]
                self.scratch[start + 4 * n_out:start + 5 * n_out] = 1

    def kernel_scratch(self, order):
        """The kernels' ``Scratch`` tuple of these buffers, with the permutation buffer
        ``order`` (``order_for``)."""
        return Scratch(self.grads, self.backup_params, self.backup_state, self.Z, self.A,
                       self.delta, order, self.batch_X, self.batch_Y, self.batch_weight)

    def order_for(self, n_samples):
        """The permutation buffer for a data set of ``n_samples`` rows."""
        if self.order.shape[0] != n_samples:
            self.order = np.zeros(n_samples, np.int64)
        return self.order
