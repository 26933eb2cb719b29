"""A fastann model as an ONNX inference graph.

``export_onnx(model, path)`` (what ``Model.export(path, format="onnx")`` calls) writes one
graph: a named input ``input`` of shape (batch, n_features) with a dynamic batch
dimension, then per layer

* Dense: ``Gemm`` (``MatMul`` without a bias), then its activation,
* Activation: the activation,
* BatchNormalization: its inference formula (Sub, Mul, Mul, Add) over the moving
  statistics,
* Dropout: nothing (inference is the identity),

and the output ``output`` (batch, units): what ``model.predict_proba`` returns. Values are
in the model's dtype (float32 or float64) throughout.

Each activation is built from the table ``ACTIVATIONS``: its ONNX operator where ONNX has
one (Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Elu, Selu, Gelu, Softplus, Softsign,
HardSigmoid, Exp, Mish) or an exact composition where it has none (swish = x * Sigmoid(x),
relu6 = Clip(x, 0, 6), step = Cast(x > 0)). ONNX Runtime's CPU provider implements several
of those operators for float32 only, so a float64 graph writes them as compositions of
operators it runs in float64 (``Where``, ``Exp``, ``Log``, ``Abs``, ...), with the same
values. ``OPSET`` (20, the first with ``Gelu``) is the default and the graph states it;
a lower ``opset_version`` is accepted when every operator used exists in it.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ._layers import as_float_array, describe, fspath, require, write_atomically

OPSET = 20
MIN_OPSET = 13  # Softmax over the last axis alone, Clip with tensor bounds
IR_VERSION = 9  # what ONNX Runtime 1.16 and later read
INPUT_NAME, OUTPUT_NAME = "input", "output"
PRODUCER = "fastann"


class _Graph:
    """Nodes and initializers being collected, with fresh names."""

    def __init__(self, onnx, dtype):
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.tensor_type = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.initializers, self.opset_needed = [], [], MIN_OPSET
        self._count = 0

    def name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem, value, dtype=None):
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, inputs, opset=MIN_OPSET, stem=None, **attributes):
        output = self.name(stem or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [output],
                                                name=self.name("node_" + op_type),
                                                **attributes))
        self.opset_needed = max(self.opset_needed, opset)
        return output

    def scalar(self, value):
        return self.constant("c", value)


# ------------------------------------------------------------------ activations
# Each builder: (graph, x, layer) -> name of the output. ``composed`` (float64 graphs)
# uses only operators ONNX Runtime runs in float64.

def _leaky_slope(layer):
    return float(getattr(layer, "negative_slope", 0.2))


def _where_positive(g, x, positive, negative):
    return g.op("Where", [g.op("Greater", [x, g.scalar(0)]), positive, negative])


def _expm1(g, x):
    return g.op("Sub", [g.op("Exp", [x]), g.scalar(1)])


def _softplus_composed(g, x):
    # max(x, 0) + log(1 + exp(-|x|)): no overflow for any x
    exp_minus_abs = g.op("Exp", [g.op("Neg", [g.op("Abs", [x])])])
    tail = g.op("Log", [g.op("Add", [g.scalar(1), exp_minus_abs])])
    return g.op("Add", [g.op("Relu", [x]), tail])


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SQRT_HALF = 0.70710678118654752440084436210485

# erf(t) for float64 graphs (ONNX Runtime has no float64 Erf), from the rational
# approximations of W. J. Cody, "Rational Chebyshev approximations for the error
# function", Math. Comp. 23 (1969), as used in SPECFUN's CALERF (relative error < 1e-16):
# |t| <= 0.46875: erf = t P1(t^2) / Q1(t^2);
# 0.46875 < |t| <= 4: erfc = exp(-t^2) P2(|t|) / Q2(|t|);
# |t| > 4: erfc = exp(-t^2)/|t| (1/sqrt(pi) + z P3(z)/Q3(z)), z = 1/t^2.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRT_PI_INV = 5.6418958354775628695e-1


def _gelu_composed(g, x):
    """0.5 x (1 + erf(x / sqrt 2)) with erf from Cody's approximations (float64)."""
    t = g.op("Mul", [x, g.scalar(SQRT_HALF)])
    a = g.op("Abs", [t])
    erf_small = _erf_small(g, t)
    # erfc(|t|) on the two outer ranges, clamped so each branch stays finite everywhere
    a_mid = g.op("Min", [a, g.scalar(4.0)])
    erfc_mid = g.op("Mul", [g.op("Exp", [g.op("Neg", [g.op("Mul", [a_mid, a_mid])])]),
                            _cody_ratio(g, a_mid, _ERF_C, _ERF_D)])
    a_big = g.op("Max", [a, g.scalar(4.0)])
    z = g.op("Reciprocal", [g.op("Mul", [a_big, a_big])])
    tail = g.op("Sub", [g.scalar(_SQRT_PI_INV),
                        g.op("Mul", [z, _cody_ratio(g, z, _ERF_P, _ERF_Q)])])
    exp_big = g.op("Exp", [g.op("Neg", [g.op("Mul", [a_big, a_big])])])
    erfc_big = g.op("Div", [g.op("Mul", [exp_big, tail]), a_big])
    erfc_outer = g.op("Where", [g.op("Greater", [a, g.scalar(4.0)]), erfc_big, erfc_mid])
    # 1 + erf(t): for t > 0, 2 - erfc(|t|); for t < 0, erfc(|t|); near 0 from erf
    one_plus = g.op("Where", [g.op("Greater", [t, g.scalar(0)]),
                              g.op("Sub", [g.scalar(2), erfc_outer]), erfc_outer])
    near = g.op("Add", [g.scalar(1), erf_small])
    one_plus = g.op("Where", [g.op("Greater", [a, g.scalar(0.46875)]), one_plus, near])
    return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), one_plus])


def _erf_small(g, t):
    """Cody's erf for |t| <= 0.46875 (t clamped to 0.5, the caller selects)."""
    c = g.op("Clip", [t, g.scalar(-0.5), g.scalar(0.5)])
    y2 = g.op("Mul", [c, c])
    a, b = _ERF_A, _ERF_B
    num = g.op("Mul", [g.scalar(a[4]), y2])
    den = y2
    for i in range(3):
        num = g.op("Mul", [g.op("Add", [num, g.scalar(a[i])]), y2])
        den = g.op("Mul", [g.op("Add", [den, g.scalar(b[i])]), y2])
    return g.op("Div", [g.op("Mul", [c, g.op("Add", [num, g.scalar(a[3])])]),
                        g.op("Add", [den, g.scalar(b[3])])])


def _cody_ratio(g, y, p, q):
    """CALERF's nested ratio for the outer ranges: p[-1] leads the numerator."""
    n = len(q)
    num = g.op("Mul", [g.scalar(p[-1]), y])
    den = y
    for i in range(n - 1):
        num = g.op("Mul", [g.op("Add", [num, g.scalar(p[i])]), y])
        den = g.op("Mul", [g.op("Add", [den, g.scalar(q[i])]), y])
    return g.op("Div", [g.op("Add", [num, g.scalar(p[n - 1])]),
                        g.op("Add", [den, g.scalar(q[n - 1])])])


@dataclass(frozen=True)
class OnnxActivation:
    """How one activation becomes ONNX. ``composed`` is used in float64 graphs; None means
    the native form runs in float64 too."""
    native: Callable
    composed: Optional[Callable] = None


def _selu_composed(g, x):
    negative = g.op("Mul", [g.scalar(SELU_ALPHA), _expm1(g, x)])
    return g.op("Mul", [g.scalar(SELU_SCALE), _where_positive(g, x, x, negative)])


def _mish_composed(g, x):
    return g.op("Mul", [x, g.op("Tanh", [_softplus_composed(g, x)])])


ACTIVATIONS = {
    "linear": OnnxActivation(lambda g, x, layer: x),
    "relu": OnnxActivation(lambda g, x, layer: g.op("Relu", [x])),
    "leaky_relu": OnnxActivation(
        lambda g, x, layer: g.op("LeakyRelu", [x], alpha=_leaky_slope(layer)),
        lambda g, x, layer: _where_positive(
            g, x, x, g.op("Mul", [x, g.scalar(_leaky_slope(layer))]))),
    "sigmoid": OnnxActivation(lambda g, x, layer: g.op("Sigmoid", [x])),
    "tanh": OnnxActivation(lambda g, x, layer: g.op("Tanh", [x])),
    "softmax": OnnxActivation(lambda g, x, layer: g.op("Softmax", [x], axis=-1)),
    "step": OnnxActivation(lambda g, x, layer: g.op(
        "Cast", [g.op("Greater", [x, g.scalar(0)])], to=g.tensor_type)),
    "elu": OnnxActivation(
        lambda g, x, layer: g.op("Elu", [x], alpha=1.0),
        lambda g, x, layer: _where_positive(g, x, x, _expm1(g, x))),
    "selu": OnnxActivation(
        lambda g, x, layer: g.op("Selu", [x], alpha=SELU_ALPHA, gamma=SELU_SCALE),
        lambda g, x, layer: _selu_composed(g, x)),
    "gelu": OnnxActivation(
        lambda g, x, layer: g.op("Gelu", [x], opset=20, approximate="none"),
        lambda g, x, layer: _gelu_composed(g, x)),
    "softplus": OnnxActivation(
        lambda g, x, layer: g.op("Softplus", [x]),
        lambda g, x, layer: _softplus_composed(g, x)),
    "softsign": OnnxActivation(
        lambda g, x, layer: g.op("Softsign", [x]),
        lambda g, x, layer: g.op("Div", [x, g.op("Add", [g.scalar(1), g.op("Abs", [x])])])),
    "swish": OnnxActivation(lambda g, x, layer: g.op("Mul", [x, g.op("Sigmoid", [x])])),
    "hard_sigmoid": OnnxActivation(  # Keras 3: relu6(x + 3) / 6
        lambda g, x, layer: g.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5),
        lambda g, x, layer: g.op("Clip", [g.op("Add", [g.op("Div", [x, g.scalar(6)]),
                                                      g.scalar(0.5)]),
                                          g.scalar(0), g.scalar(1)])),
    "relu6": OnnxActivation(
        lambda g, x, layer: g.op("Clip", [x, g.scalar(0), g.scalar(6)])),
    "exponential": OnnxActivation(lambda g, x, layer: g.op("Exp", [x])),
    "mish": OnnxActivation(
        lambda g, x, layer: g.op("Mish", [x], opset=18),
        lambda g, x, layer: _mish_composed(g, x)),
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]
ACTIVATIONS["identity"] = ACTIVATIONS["linear"]


def _activation(g, x, info):
    name = info.activation
    if name not in ACTIVATIONS:
        raise ValueError(f"export: layer {info.index} ({info.kind}) uses the {name!r} "
                         f"activation, which has no ONNX form here; supported: "
                         f"{sorted(ACTIVATIONS)}")
    entry = ACTIVATIONS[name]
    build = entry.composed if (g.dtype == np.float64 and entry.composed) else entry.native
    return build(g, x, info.layer)


# ----------------------------------------------------------------------- layers
def _dense(g, x, info):
    kernel = g.constant(f"dense{info.index}_kernel", as_float_array(info.weights[0], g.dtype))
    if len(info.weights) == 2:
        bias = g.constant(f"dense{info.index}_bias", as_float_array(info.weights[1], g.dtype))
        z = g.op("Gemm", [x, kernel, bias], stem=f"dense{info.index}")
    else:
        z = g.op("MatMul", [x, kernel], stem=f"dense{info.index}")
    return _activation(g, z, info)


def _batch_normalization(g, x, info):
    """Inference mode, as the kernel computes it: ``gamma * ((x - moving_mean) * inv_std)
    + beta`` with ``inv_std = 1 / sqrt(moving_variance + epsilon)`` taken in the model's
    dtype, so ONNX Runtime matches ``predict`` to the last bits (its own
    BatchNormalization operator rounds differently)."""
    layer, n = info.layer, info.n_out
    dtype = np.dtype(g.dtype)
    arrays = list(info.weights)
    gamma = arrays.pop(0) if getattr(layer, "scale", True) else np.ones(n)
    beta = arrays.pop(0) if getattr(layer, "center", True) else np.zeros(n)
    mean, variance = (np.asarray(a, dtype) for a in arrays)
    epsilon = dtype.type(getattr(layer, "epsilon", 1e-3))
    inv_std = dtype.type(1) / np.sqrt(variance + epsilon)
    stem = f"bn{info.index}"
    centred = g.op("Sub", [x, g.constant(f"{stem}_mean", as_float_array(mean, g.dtype))],
                   stem=f"{stem}_centred")
    x_hat = g.op("Mul", [centred, g.constant(f"{stem}_inv_std",
                                             as_float_array(inv_std, g.dtype))],
                 stem=f"{stem}_normalized")
    scaled = g.op("Mul", [x_hat, g.constant(f"{stem}_gamma", as_float_array(gamma, g.dtype))],
                  stem=f"{stem}_scaled")
    return g.op("Add", [scaled, g.constant(f"{stem}_beta", as_float_array(beta, g.dtype))],
                stem=stem)


LAYERS = {
    "Dense": _dense,
    "Activation": _activation,
    "Dropout": lambda g, x, info: x,
    "BatchNormalization": _batch_normalization,
}


# ----------------------------------------------------------------------- public
def to_onnx(model, opset_version=None, graph_name="fastann_model"):
    """The ``onnx.ModelProto`` of ``model``'s inference graph (see the module docstring).

    Parameters
    ----------
    model : fastann.Model
        A built model (its input size known).
    opset_version : int, optional
        The default ONNX opset is ``OPSET``; a lower one is accepted down to the
        highest opset an operator in this graph needs.
    graph_name : str

    Returns
    -------
    onnx.ModelProto
        Input ``input`` (batch, n_features), output ``output`` (batch, n_out), both
        in the model's dtype, checked with ``onnx.checker.check_model(full_check=True)``.
    """
    onnx = require("onnx", "onnx", "ONNX export")
    if opset_version is not None and (isinstance(opset_version, bool)
                                      or not isinstance(opset_version, int)):
        raise TypeError(f"opset_version must be an int; got {opset_version!r}")
    infos = describe(model, "export")
    g = _Graph(onnx, model.dtype)
    x = INPUT_NAME
    for info in infos:
        x = LAYERS[info.kind](g, x, info)
    x = g.op("Identity", [x], stem="out") if x == INPUT_NAME else x
    g.nodes[-1].output[0] = OUTPUT_NAME
    opset = OPSET if opset_version is None else opset_version
    if opset < g.opset_needed:
        raise ValueError(f"opset_version={opset} is too old for this model: its graph "
                         f"uses operators of opset {g.opset_needed}")
    if opset > onnx.defs.onnx_opset_version():
        raise ValueError(f"opset_version={opset} is newer than the installed onnx "
                         f"supports ({onnx.defs.onnx_opset_version()})")
    helper = onnx.helper
    n_out = infos[-1].n_out if infos else model.input_dim
    graph = helper.make_graph(
        g.nodes, graph_name,
        [helper.make_tensor_value_info(INPUT_NAME, g.tensor_type, ["batch", model.input_dim])],
        [helper.make_tensor_value_info(OUTPUT_NAME, g.tensor_type, ["batch", n_out])],
        initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=PRODUCER, producer_version=_version())
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, filepath, opset_version=None):
    """Write ``to_onnx(model, opset_version)`` to ``filepath`` atomically; returns the
    path."""
    path = fspath(filepath)
    proto = to_onnx(model, opset_version=opset_version)
    write_atomically(path, proto.SerializeToString())
    return path


def _version():
    from .. import __version__
    return __version__
