"""ONNX export: the file passes the full ONNX checker, and ONNX Runtime computes what
``predict_proba`` computes, for every activation, loss head and layer kind fastann has,
in float32 and float64, on one row and on many."""
import numpy as np
import pytest

import fastann as fa
from fastann import activations, layers, losses

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from fastann.export import onnx as fastann_onnx  # noqa: E402

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}
ACTIVATION_NAMES = sorted({spec.name for spec in activations.ACTIVATIONS.values()})
LOSS_NAMES = sorted({spec.name for spec in losses.LOSSES.values()})


def _run(path_or_proto, X):
    if isinstance(path_or_proto, bytes):
        data = path_or_proto
    else:
        with open(path_or_proto, "rb") as file:
            data = file.read()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": X})
    return output


def _check_file(path, model):
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    (graph_input,) = proto.graph.input
    assert graph_input.name == "input"
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and not dims[0].HasField("dim_value")
    assert dims[1].dim_value == model.input_dim
    assert graph_input.type.tensor_type.elem_type == onnx.helper.np_dtype_to_tensor_dtype(
        model.dtype)
    assert [o.version for o in proto.opset_import if o.domain == ""] == [fastann_onnx.OPSET]
    return proto


def _assert_same(model, path, rng):
    dtype = model.dtype.type
    for n_rows in (1, 257):
        X = (rng.standard_normal((n_rows, model.input_dim)) * 2).astype(dtype)
        expected = model.predict_proba(X)
        got = _run(path, X)
        assert got.dtype == model.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_every_activation_matches_predict_proba(name, dtype, tmp_path, rng):
    model = fa.Model([fa.Dense(6, activation=name), fa.Dense(3, activation=name)],
                     input_dim=4, dtype=dtype, seed=3)
    if name == "exponential":  # exp(exp(x)) of two layers: keep it within float32
        model.set_weights([w * 0.2 for w in model.get_weights()])
    path = tmp_path / f"{name}.onnx"
    assert model.export(path, format="onnx") == str(path)
    _check_file(path, model)
    _assert_same(model, path, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_head_after_training(loss, dtype, tmp_path, rng):
    spec = losses.get(loss)
    X = rng.standard_normal((64, 5)).astype(dtype)
    labels = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    binary = labels.clip(0, 1)
    # each target encoding with an output layer it makes sense for
    heads = {losses.binary_targets: (1, spec.output_activation, binary),
             losses.one_hot_targets: (3, spec.output_activation, np.eye(3)[labels]),
             losses.sparse_targets: (3, spec.output_activation, labels),
             losses.probability_targets: (3, "softmax", np.eye(3)[labels] * 0.8 + 0.2 / 3),
             losses.hinge_targets: (1, "tanh", binary)}
    n_out, output, y = heads.get(spec.encode_targets, (3, None, X[:, :3] * 0.5))
    if spec.name == "poisson":
        output, y = "softplus", np.abs(y)
    model = fa.Model([fa.Dense(8, activation="tanh"), fa.Dense(n_out, activation=output)],
                     input_dim=5, dtype=dtype, seed=1)
    model.compile(loss=loss, optimizer="adam")
    model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "trained.onnx"
    model.export(path)
    _check_file(path, model)
    _assert_same(model, path, rng)


def _layer_kinds():
    """Every layer class fastann.layers has (more arrive on other branches)."""
    return {name: getattr(layers, name) for name in
            ("Dense", "Activation", "Dropout", "BatchNormalization") if hasattr(layers, name)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layer_kind(dtype, tmp_path, rng):
    kinds = _layer_kinds()
    stack = [fa.Dense(7, activation="relu")]
    if "BatchNormalization" in kinds:
        stack.append(kinds["BatchNormalization"]())
    if "Activation" in kinds:
        stack.append(kinds["Activation"]("tanh"))
    if "Dropout" in kinds:
        stack.append(kinds["Dropout"](0.5))
    stack.append(fa.Dense(2, activation="softmax"))
    try:
        model = fa.Model(stack, input_dim=3, dtype=dtype, seed=5)
    except TypeError:
        pytest.skip("this fastann.Model takes Dense layers only")
    # non-trivial moving statistics, so BatchNormalization's constants are exercised
    weights = [w + rng.uniform(0.1, 0.5, w.shape).astype(dtype) for w in model.get_weights()]
    model.set_weights(weights)
    path = tmp_path / "layers.onnx"
    model.export(path)
    proto = _check_file(path, model)
    ops = {node.op_type for node in proto.graph.node}
    assert "Gemm" in ops
    if "BatchNormalization" in kinds:  # inference form, as the kernel computes it
        assert {"Sub", "Mul", "Add"} <= ops
    _assert_same(model, path, rng)


def test_dense_without_bias_uses_matmul(tmp_path, rng):
    try:
        layer = fa.Dense(3, activation="sigmoid", use_bias=False)
    except TypeError:
        pytest.skip("this fastann's Dense has no use_bias")
    model = fa.Model([fa.Dense(4, activation="relu"), layer], input_dim=2, dtype="float64",
                     seed=0)
    path = tmp_path / "nobias.onnx"
    model.export(path)
    assert "MatMul" in {node.op_type for node in _check_file(path, model).graph.node}
    _assert_same(model, path, rng)


# The builder table covers every activation name of Keras' set, including those fastann's
# own table may not have yet; each is checked against its formula in NumPy.
def _formulas():
    from scipy.special import erf

    def softplus(x):
        return np.logaddexp(0, x)

    return {
        "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0),
        "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh,
        "softmax": lambda x: np.exp(x - x.max(1, keepdims=True)) / np.exp(
            x - x.max(1, keepdims=True)).sum(1, keepdims=True),
        "step": lambda x: (x > 0).astype(x.dtype),
        "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        "selu": lambda x: fastann_onnx.SELU_SCALE * np.where(
            x > 0, x, fastann_onnx.SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        "gelu": lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
        "softplus": softplus, "softsign": lambda x: x / (1 + np.abs(x)),
        "swish": lambda x: x / (1 + np.exp(-x)), "silu": lambda x: x / (1 + np.exp(-x)),
        "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
        "relu6": lambda x: np.clip(x, 0, 6), "exponential": np.exp,
        "mish": lambda x: x * np.tanh(softplus(x)), "identity": lambda x: x,
    }


class _Layer:
    negative_slope = 0.2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(fastann_onnx.ACTIVATIONS))
def test_activation_builders_match_their_formulas(name, dtype):
    formulas = _formulas()
    assert set(formulas) == set(fastann_onnx.ACTIVATIONS)
    g = fastann_onnx._Graph(onnx, dtype)
    out = fastann_onnx._activation(g, "input", type("Info", (), {
        "activation": name, "layer": _Layer(), "index": 0, "kind": "Dense"})())
    if out == "input":
        out = g.op("Identity", ["input"])
    g.nodes[-1].output[0] = "output"
    helper = onnx.helper
    graph = helper.make_graph(
        g.nodes, "one", [helper.make_tensor_value_info("input", g.tensor_type, ["n", 5])],
        [helper.make_tensor_value_info("output", g.tensor_type, ["n", 5])],
        initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    proto.ir_version = fastann_onnx.IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    x = np.concatenate([np.linspace(-12, 12, 2001), [0.0, -0.0, 0.3, -0.3, 3, -3, 6, -6]])
    x = np.resize(x, (x.size // 5, 5)).astype(dtype)
    got = _run(proto.SerializeToString(), x)
    expected = formulas[name](x.astype(np.float64))
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * 10)


def test_errors(tmp_path):
    model = fa.Model([fa.Dense(2)], dtype="float64")
    with pytest.raises(ValueError, match="input size is not known"):
        model.export(tmp_path / "m.onnx")
    model = fa.Model([fa.Dense(2)], input_dim=3)
    with pytest.raises(ValueError, match="format must be 'onnx'.*'tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['opset'\\]"):
        model.export(tmp_path / "m.onnx", opset=20)
    with pytest.raises(ValueError, match="opset_version=12 is too old"):
        model.export(tmp_path / "m.onnx", opset_version=12)
    assert not list(tmp_path.iterdir())  # nothing written by a call that raised


def test_lower_opset_when_the_graph_allows_it(tmp_path, rng):
    model = fa.Model([fa.Dense(3, activation="relu"), fa.Dense(2, activation="softmax")],
                     input_dim=2, dtype="float32", seed=0)
    path = tmp_path / "m.onnx"
    model.export(path, opset_version=13)
    assert onnx.load(path).opset_import[0].version == 13
    _assert_same(model, path, rng)


def test_without_onnx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)  # import onnx fails
    model = fa.Model([fa.Dense(2)], input_dim=3)
    with pytest.raises(ImportError, match=r"pip install 'fastann\[onnx\]'"):
        model.export(tmp_path / "m.onnx")
