"""Each kernel against ``fastann.reference``, in float64 (to ~1e-12) and float32 (to
~1e-5), and the reference itself against textbook formulas and published values.

float32 kernels are compared with the reference run in float64 on the same float32
inputs, so the tolerance measures the kernel's own rounding only.
"""
import re
import subprocess
import sys

import numba
import numpy as np
import pytest

import fastann as fa
from fastann import activations as activation_table
from fastann.benchmarks import crossovers
from fastann import losses as loss_table
from fastann import optimizers as optimizer_table
from fastann import reference
from fastann.kernels import activations as activation_kernels
from fastann.kernels import blas
from fastann.kernels import dense
from fastann.kernels import losses as loss_kernels
from fastann.kernels import optimizers as optimizer_kernels
from fastann.kernels import network as network_kernels
from fastann.kernels import rng as rng_kernels
from fastann.kernels.train import EVERY_FEATURE, all_trainable

DTYPES = [np.float64, np.float32]
TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6)}
# from the library's own table, so that a new activation cannot go untested
ALL_ACTIVATIONS = activation_table.names()


def close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, **TOLERANCE[dtype])


def close_sums(actual, expected, magnitude, dtype):
    """Check sums of products entry by entry to a tolerance relative to the sum of the
    terms' magnitudes (``magnitude``, same shape): long float32 sums may cancel."""
    error = np.abs(np.asarray(actual, np.float64) - expected)
    bound = TOLERANCE[dtype]["rtol"] * magnitude + TOLERANCE[dtype]["atol"]
    assert (error <= bound).all(), f"max error / bound {np.max(error / bound):.3g}"


def code_of(name):
    return activation_table.ACTIVATIONS[name].code


# ----------------------------------------------------------------------- dense
# (rows, n_in, n_out): products below and above BLAS_MIN_WORK multiply-adds, narrow
# (loops along the inputs) and wide, thin ones (a side below BLAS_MIN_SIDE) that stay
# in loops however large, short batches (2 to BLAS_MIN_ROWS - 1 rows) that stay in loops
# along many outputs and go to BLAS along few, and the single-row
# and single-column products that BLAS runs as gemv.
DENSE_SHAPES = {
    "tiny-narrow": (3, 4, 2),
    "tiny-gradient": (7, 3, 1),  # dW of at most TINY_GRADIENT entries: summed in registers
    "tiny-gradient-square": (5, 2, 2),
    "tiny-fewer-inputs": (4, 2, 4),  # n_out < NARROW, but the inputs are fewer still
    "tiny-wide": (2, 3, 10),
    "thin-input": (200, 2, 10),
    "blas": (16, 12, 10),
    "blas-narrow-output": (64, 16, 2),
    "blas-single-row": (1, 64, 16),
    "blas-single-output": (16, 64, 1),
    "short-batch": (4, 64, 32),
    "short-batch-few-outputs": (4, 64, 8),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_shapes_cover_every_path_the_rules_choose(dtype):
    itemsize = np.dtype(dtype).itemsize
    for operation, rule in crossovers.RULES.items():
        chosen = {rule(*shape, itemsize) for shape in DENSE_SHAPES.values()}
        assert chosen == set(dense.PATHS[operation]), operation
    works = [rows * n_in * n_out for rows, n_in, n_out in DENSE_SHAPES.values()]
    assert min(works) < dense.BLAS_MIN_WORK <= max(works)


@numba.njit
def _gemm(C, A, B, transpose_A, transpose_B):
    blas.gemm(C, A, B, transpose_A, transpose_B)


# (m, k, n): general products, and the single-row, single-column and 1x1 outputs that
# gemm hands to gemv
GEMM_SHAPES = [(3, 5, 7), (1, 5, 7), (6, 5, 1), (1, 5, 1), (7, 1, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose_A", [False, True])
@pytest.mark.parametrize("transpose_B", [False, True])
@pytest.mark.parametrize("shape", GEMM_SHAPES)
def test_gemm_matches_numpy(shape, transpose_A, transpose_B, dtype, rng):
    m, k, n = shape
    A = rng.normal(size=(k, m) if transpose_A else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if transpose_B else (k, n)).astype(dtype)
    C = np.full((m, n), np.nan, dtype)
    _gemm(C, A, B, transpose_A, transpose_B)
    expected = (A.T if transpose_A else A) @ (B.T if transpose_B else B)
    close(C, expected, dtype)


def dense_inputs(shape, dtype, generator):
    rows, n_in, n_out = shape
    A_prev = generator.normal(size=(rows, n_in)).astype(dtype)
    W = generator.normal(size=(n_in, n_out)).astype(dtype)
    b = generator.normal(size=n_out).astype(dtype)
    dZ = generator.normal(size=(rows, n_out)).astype(dtype)
    return A_prev, W, b, dZ


def path_ids(operation):
    """Test parameters: None (RULE: the kernel's own rule chooses), then every path."""
    paths = (None,) + dense.PATHS[operation]
    return {"argvalues": paths,
            "ids": ["rule"] + [dense.PATH_NAMES[p] for p in dense.PATHS[operation]]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", **path_ids("forward"))
@pytest.mark.parametrize("shape", DENSE_SHAPES.values(), ids=DENSE_SHAPES.keys())
def test_dense_forward(shape, path, dtype, rng):
    A_prev, W, b, _ = dense_inputs(shape, dtype, rng)
    Z = np.full((shape[0], shape[2]), np.nan, dtype)  # every entry must be written
    dense.dense_forward(Z, A_prev, W, b, dense.RULE if path is None else path)
    A_prev64, W64, b64 = (a.astype(np.float64) for a in (A_prev, W, b))
    expected = reference.dense_forward(A_prev64, W64, b64)
    close_sums(Z, expected, np.abs(A_prev64) @ np.abs(W64) + np.abs(b64), dtype)
    assert reference.dense_forward(A_prev, W, b).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", **path_ids("weight_gradient"))
@pytest.mark.parametrize("shape", DENSE_SHAPES.values(), ids=DENSE_SHAPES.keys())
def test_dense_backward(shape, path, dtype, rng):
    """Both backward kernels by their rules, or by one path: the weight gradient's, and
    the input gradient's path of that name where it has one (else its rule's)."""
    rows, n_in, n_out = shape
    A_prev, W, _, dZ = dense_inputs(shape, dtype, rng)
    dW = np.full((n_in, n_out), np.nan, dtype)
    db = np.full(n_out, np.nan, dtype)
    dA_prev = np.full((rows, n_in), np.nan, dtype)
    dense.dense_backward(dW, db, dZ, A_prev, dense.RULE if path is None else path)
    dense.dense_backward_input(dA_prev, dZ, W, path if path in dense.PATHS["input_gradient"]
                               else dense.RULE)
    dZ64, A_prev64, W64 = (a.astype(np.float64) for a in (dZ, A_prev, W))
    expected = reference.dense_backward(dZ64, A_prev64, W64)
    magnitudes = (np.abs(dZ64) @ np.abs(W64).T, np.abs(A_prev64).T @ np.abs(dZ64),
                  np.abs(dZ64).sum(axis=0))
    for actual, wanted, magnitude in zip((dA_prev, dW, db), expected, magnitudes):
        close_sums(actual, wanted, magnitude, dtype)
    assert all(g.dtype == dtype for g in reference.dense_backward(dZ, A_prev, W))


def test_dense_backward_input_may_be_skipped(rng):
    A_prev, W, _, dZ = dense_inputs((3, 4, 2), np.float64, rng)
    dA_prev, dW, db = reference.dense_backward(dZ, A_prev, W, input_gradient=False)
    assert dA_prev is None
    np.testing.assert_array_equal(dW, A_prev.T @ dZ)
    np.testing.assert_array_equal(db, dZ.sum(axis=0))


# ----------------------------------------------------------------- activations
def activation_inputs(dtype, generator):
    """Z (6, 5): moderate values, exact zeros (the kinks' convention), saturating and
    overflowing magnitudes, and a row of equal values."""
    Z = generator.normal(0, 3, (6, 5))
    Z[0, :2] = 0.0
    Z[1] = [40.0, -40.0, 800.0, -800.0, 1e-3]
    Z[2] = 7.0
    dA = generator.normal(size=Z.shape)
    return Z.astype(dtype), dA.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.2, 0.05])
@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_activation_forward_and_backward(name, slope, dtype, rng):
    Z, dA = activation_inputs(dtype, rng)
    slope_scalar = dtype(slope)
    A = np.full_like(Z, np.nan)
    activation_kernels.activation_forward(A, Z, code_of(name), slope_scalar, True)
    Z64 = Z.astype(np.float64)
    expected_A = reference.activate(name, Z64, slope)
    close(A, expected_A, dtype)
    # exp(800) is inf in any precision; every other output is finite
    assert np.isfinite(A[np.isfinite(expected_A)]).all() and (
        np.isfinite(expected_A).all() or name == "exponential")

    dZ = dA.copy()  # the kernel works in place
    activation_kernels.activation_backward(dZ, Z, A, code_of(name), slope_scalar, True)
    expected_dZ = reference.activation_backward(name, dA.astype(np.float64), Z64,
                                                A.astype(np.float64), slope)
    close(dZ, expected_dZ, dtype)

    assert reference.activate(name, Z, slope).dtype == dtype
    assert reference.activation_backward(name, dA, Z, A, slope).dtype == dtype


def test_activation_table_default_slope_and_kink_conventions():
    Z = np.array([[-2.0, 0.0, 3.0]])
    dA = np.ones_like(Z)
    forward, backward = reference.ACTIVATIONS["leaky_relu"]
    np.testing.assert_array_equal(forward(Z), [[-0.4, 0.0, 3.0]])
    np.testing.assert_array_equal(backward(dA, Z, forward(Z)), [[0.2, 0.2, 1.0]])
    forward, backward = reference.ACTIVATIONS["relu"]
    np.testing.assert_array_equal(backward(dA, Z, forward(Z)), [[0.0, 0.0, 1.0]])
    forward, backward = reference.ACTIVATIONS["step"]
    np.testing.assert_array_equal(forward(Z), [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(backward(dA, Z, forward(Z)), np.zeros_like(Z))
    assert set(reference.ACTIVATIONS) == set(ALL_ACTIVATIONS) | {"silu"}


def test_reference_activations_against_textbook_forms(rng):
    Z = rng.normal(0, 2, (4, 3))
    dA = rng.normal(size=Z.shape)
    np.testing.assert_allclose(reference.sigmoid(Z), 1 / (1 + np.exp(-Z)), rtol=1e-15)
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(reference.softmax(Z), softmax, rtol=1e-14)
    # the softmax backward is dA times the full Jacobian diag(a) - a a^T, row by row
    A = reference.softmax(Z)
    jacobian_product = np.stack([(np.diag(a) - np.outer(a, a)) @ d for a, d in zip(A, dA)])
    np.testing.assert_allclose(reference.softmax_backward(dA, Z, A), jacobian_product,
                               rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------- losses
# (loss, output activation): the cross-entropies with their output, mean squared
# error under every activation (the step's gradient is zero).
LOSS_CASES = [("binary_crossentropy", "sigmoid"), ("categorical_crossentropy", "softmax")] + [
    ("mean_squared_error", name) for name in ALL_ACTIVATIONS]


def loss_inputs(loss, n_out, dtype, generator, soft=False):
    rows = 7
    Z = generator.normal(0, 2, (rows, n_out))
    Z[0, 0] = 30.0  # confident logits, where a naive log(sigmoid) or log(softmax) fails
    Z[1, -1] = -30.0
    if loss == "binary_crossentropy":
        Y = generator.random((rows, n_out)) if soft else generator.integers(0, 2, (rows, n_out))
    elif loss == "categorical_crossentropy":
        Y = np.eye(n_out)[generator.integers(0, n_out, rows)]
        if soft:  # probability rows that need not sum to one: the gradient's A*sum(Y) term
            Y = generator.random((rows, n_out)) * 0.7
    else:
        Y = generator.normal(size=(rows, n_out))
    weight = generator.uniform(0.2, 2.0, rows)
    weight[2] = 0.0
    return Z.astype(dtype), Y.astype(dtype), weight.astype(dtype)


LOSS_SHAPES = [(loss, output, n_out) for loss, output in LOSS_CASES for n_out in (1, 4)
               if not (output == "softmax" and n_out == 1)]  # no softmax over one class


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft-targets"])
@pytest.mark.parametrize("loss, output, n_out", LOSS_SHAPES,
                         ids=[f"{l}-{o}-{n}" for l, o, n in LOSS_SHAPES])
def test_loss_and_delta(loss, output, n_out, soft, dtype, rng):
    slope = 0.1
    Z, Y, weight = loss_inputs(loss, n_out, dtype, rng, soft)
    rows = Z.shape[0]
    A = np.empty_like(Z)
    activation_kernels.activation_forward(A, Z, code_of(output), dtype(slope), True)
    dZ = np.full_like(Z, np.nan)
    code = loss_table.LOSSES[loss].code
    fused = loss_kernels.gives_dZ(code)
    # a cross-entropy computes the output activation itself (training skips it)
    A_given = np.full_like(Z, np.nan) if fused else A.copy()
    total = loss_kernels.loss_and_delta(dZ, Z, A_given, Y, weight, code,
                                        loss_table.LOSSES[loss].hyper_vector(dtype),
                                        dtype(1) / dtype(rows), EVERY_FEATURE.losses)
    np.testing.assert_array_equal(A_given, A)  # bit for bit what activation_forward gives
    if not fused:  # it wrote dA: the backward pass takes it to dZ
        activation_kernels.activation_backward(dZ, Z, A, code_of(output), dtype(slope), True)
    as64 = [a.astype(np.float64) for a in (Z, A, Y, weight)]
    expected_total, expected_dZ = reference.loss_and_output_delta(loss, output, *as64, slope)
    close(total, expected_total, dtype)
    close(dZ, expected_dZ, dtype)

    total32, dZ32 = reference.loss_and_output_delta(loss, output, Z, A, Y, weight, slope)
    assert dZ32.dtype == dtype and np.asarray(total32).dtype == dtype


def test_reference_losses_against_textbook_forms(rng):
    """On moderate logits the stable forms equal the tutorials' formulas."""
    rows, n_out = 5, 3
    Z = rng.normal(size=(rows, n_out))
    weight = rng.uniform(0.5, 2, rows)
    Y = rng.integers(0, 2, (rows, n_out)).astype(float)
    A = reference.sigmoid(Z)
    bce = -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).mean(axis=1)
    total, dZ = reference.loss_and_output_delta("binary_crossentropy", "sigmoid", Z, A, Y,
                                                weight)
    np.testing.assert_allclose(total, (weight * bce).sum(), rtol=1e-13)
    np.testing.assert_allclose(dZ, weight[:, None] * (A - Y) / (rows * n_out), rtol=1e-13)

    Y = np.eye(n_out)[rng.integers(0, n_out, rows)]
    A = reference.softmax(Z)
    total, dZ = reference.loss_and_output_delta("categorical_crossentropy", "softmax", Z, A, Y,
                                                weight)
    np.testing.assert_allclose(total, -(weight * (Y * np.log(A)).sum(axis=1)).sum(),
                               rtol=1e-13)
    np.testing.assert_allclose(dZ, weight[:, None] * (A - Y) / rows, rtol=1e-13, atol=1e-16)

    Y = rng.normal(size=(rows, n_out))
    total, dZ = reference.loss_and_output_delta("mse", "linear", Z, Z, Y, None)
    np.testing.assert_allclose(total, ((Z - Y) ** 2).mean(axis=1).sum(), rtol=1e-13)
    np.testing.assert_allclose(dZ, 2 * (Z - Y) / (rows * n_out), rtol=1e-13)


def test_reference_loss_rejects_a_mismatched_output():
    Z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="softmax"):
        reference.loss_and_output_delta("categorical_crossentropy", "sigmoid", Z, Z, Z, None)
    with pytest.raises(ValueError, match="loss must be one of"):
        reference.loss_and_output_delta("cosine_similarity", "linear", Z, Z, Z, None)


# ------------------------------------------------------------------ optimizers
OPTIMIZER_CASES = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd-weight-decay": ("SGD", dict(lr=0.1, weight_decay=0.05)),
    "sgd-momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd-nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam-weight-decay": ("Adam", dict(lr=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                                       weight_decay=0.1)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop-weight-decay": ("RMSprop", dict(lr=0.01, rho=0.8, epsilon=1e-5,
                                             weight_decay=0.1)),
    "nadam": ("Nadam", dict(lr=0.01, weight_decay=0.1)),
    "adamw-clipnorm": ("AdamW", dict(lr=0.01, clipnorm=0.5)),
}


def dense_table():
    """The layer table of one Dense(4) layer on 3 inputs: W at 0, b at 12."""
    table = np.zeros((1, network_kernels.N_COLUMNS), np.int64)
    table[0, network_kernels.N_IN], table[0, network_kernels.N_OUT] = 3, 4
    table[0, network_kernels.W_OFFSET], table[0, network_kernels.B_OFFSET] = 0, 12
    table[0, network_kernels.KIND] = network_kernels.DENSE
    return table


def unflatten(flat):
    """The 15-vector as [W (3, 4), b (4,)], the way the reference holds weights."""
    return [flat[:12].reshape(3, 4).copy(), flat[12:].copy()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OPTIMIZER_CASES.values(), ids=OPTIMIZER_CASES.keys())
def test_apply_update(case, dtype, rng):
    class_name, options = case
    optimizer = getattr(optimizer_table, class_name)(**options)
    oracle = getattr(reference, class_name)(**options)
    W = rng.normal(size=(3, 4))
    b = rng.normal(size=4)
    params = np.concatenate([W.ravel(), b]).astype(dtype)
    state = np.zeros(optimizer_kernels.state_length(params.size), dtype)
    weights = unflatten(params.astype(np.float64))
    hyper = optimizer.hyper(dtype)
    for step in range(1, 7):
        lr = optimizer.lr * (1 + 0.1 * step)  # a schedule: the lr argument wins
        grads = rng.normal(size=params.size).astype(dtype)
        optimizer_kernels.apply_update(params, state, grads, dense_table(),
                                       all_trainable(params.size), optimizer.code, hyper,
                                       dtype(lr), step, EVERY_FEATURE)
        oracle.update(weights, unflatten(grads.astype(np.float64)), lr)
        close(params, np.concatenate([weights[0].ravel(), weights[1]]), dtype)
    assert oracle.iterations == 6
    # the reference keeps float32 weights float32
    weights32 = [W.astype(np.float32), b.astype(np.float32)]
    getattr(reference, class_name)(**options).update(
        weights32, [np.ones_like(w) for w in weights32])
    assert all(w.dtype == np.float32 for w in weights32)


def test_reference_optimizers_by_hand():
    w = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    sgd = reference.SGD(lr=0.1, momentum=0.5)
    weights = [w.copy()]
    sgd.update(weights, [g])  # v = -0.1 g = [-0.05, -0.025]
    sgd.update(weights, [g])  # v = 0.5 v - 0.1 g = [-0.075, -0.0375]
    np.testing.assert_allclose(weights[0], [1 - 0.05 - 0.075, -2 - 0.025 - 0.0375], rtol=1e-15)
    adam = reference.Adam(lr=0.1, epsilon=0.0)
    weights = [w.copy()]
    adam.update(weights, [g])  # first step: m_hat = g, v_hat = g^2, step lr * sign(g)
    np.testing.assert_allclose(weights[0], w - 0.1, rtol=1e-12)
    rmsprop = reference.RMSprop(lr=0.1, rho=0.0, epsilon=0.0)
    weights = [w.copy()]
    rmsprop.update(weights, [g])  # rho 0: ms = g^2, step lr * sign(g)
    np.testing.assert_allclose(weights[0], w - 0.1, rtol=1e-15)


# ------------------------------------------------------------------------- RNG
SEEDS = [0, 1, 12345, 2**63 + 7, 2**64 - 1]


def test_splitmix64_published_values():
    """The first outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c)."""
    generator = reference.SplitMix64(0)
    outputs = [generator.next_uint64() for _ in range(3)]
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("seed", SEEDS)
def test_next_uint64(seed):
    state = np.array([seed], np.uint64)
    generator = reference.SplitMix64(seed)
    for _ in range(5):
        assert int(rng_kernels.next_uint64(state)) == generator.next_uint64()
        assert int(state[0]) == generator.state


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000])
@pytest.mark.parametrize("seed", SEEDS)
def test_shuffle_order(seed, n):
    state = np.array([seed], np.uint64)
    generator = reference.SplitMix64(state)  # also takes the model's one-element array
    order = np.zeros(n, np.int64)
    for _ in range(3):
        rng_kernels.shuffle_order(order, state)
        expected = generator.permutation(n)
        np.testing.assert_array_equal(order, expected)
        assert int(state[0]) == generator.state
        np.testing.assert_array_equal(np.sort(expected), np.arange(n))


def test_permutation_is_roughly_uniform():
    generator = reference.SplitMix64(3)
    counts = {}
    for _ in range(6000):
        key = tuple(generator.permutation(3))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    assert all(850 < c < 1150 for c in counts.values()), counts  # ~1000 each, 5 sigma


def test_model_rng_state_seeds_the_reference():
    model = fa.Model([fa.Dense(1)], input_dim=2, seed=7)
    assert reference.SplitMix64(model._rng_state).state == int(model._rng_state[0])


# ---------------------------------------------------------- reference as a module
def test_reference_imports_without_numba():
    """reference.py alone, loaded with Numba made unimportable, imports and works."""
    script = (
        "import sys, importlib.util\n"
        "sys.modules['numba'] = None\n"
        f"spec = importlib.util.spec_from_file_location('reference', {reference.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "import numpy as np\n"
        "X = np.eye(2)\n"
        "w, h = module.train([np.ones((2, 1)), np.zeros(1)], ['sigmoid'], X, np.ones((2, 1)),\n"
        "                    'binary_crossentropy', module.SGD(lr=0.1), 2)\n"
        "assert len(h['loss']) == 2\n"
        "assert not [name for name, module in sys.modules.items()\n"
        "            if module is not None and name.startswith(('numba', 'fastann'))]\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout + done.stderr
    with open(reference.__file__) as file:
        imports = [line for line in file if re.match(r"\s*(import|from)\s", line)]
    assert not [line for line in imports if re.search(r"numba|fastann|from \.", line)], imports
