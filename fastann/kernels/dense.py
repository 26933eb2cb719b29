"""The dense (fully-connected) layer: forward and backward, each by one of a few paths.

Weights use Keras' layout, ``W`` of shape ``(n_in, n_out)``. Small products use explicit
loops, ordered so the innermost loop runs along a contiguous row and vectorises: along
the outputs for wide layers (ALONG_OUTPUTS), along the inputs for narrow ones
(ALONG_INPUTS: fewer outputs than NARROW and than inputs, such as a single sigmoid
unit, where a loop over outputs would be one element long); a weight gradient of a few
entries is summed row by row in registers (REGISTERS). Large products go to BLAS
``gemm`` (``blas.py``), written into the output buffer (BLAS). Each kernel takes its
path as an argument; the network passes RULE, and the kernel then picks the path with
its ``*_path`` rule below, whose constants come from timing every path over a table of
shapes on each kind of CPU (``CROSSOVERS``, chosen by the vector width the kernels are
compiled for): ``fastann bench --crossovers`` repeats that measurement and prints where
the rules agree with it.
"""
from typing import NamedTuple

from ._cpu import vector_bytes
from ._jit import kernel, like
from .blas import gemm

BLAS, ALONG_OUTPUTS, ALONG_INPUTS, REGISTERS = range(4)
RULE = -1  # as a kernel's ``path``: the path its rule picks for the shapes at hand
PATH_NAMES = ("blas", "along_outputs", "along_inputs", "registers")
# The paths each operation has (``fastann bench --crossovers`` times each of them).
PATHS = {"forward": (BLAS, ALONG_OUTPUTS, ALONG_INPUTS),
         "weight_gradient": (BLAS, ALONG_OUTPUTS, ALONG_INPUTS, REGISTERS),
         "input_gradient": (BLAS, ALONG_OUTPUTS, ALONG_INPUTS)}

class Crossovers(NamedTuple):
    """Where BLAS beats the explicit loops on one kind of CPU (and its BLAS kernels)."""
    min_work: int  # multiply-adds (rows * n_in * n_out) below which loops run
    min_input_gradient_work: int  # the same for dA_prev = dZ @ W.T
    min_side: int  # a product with a side this short stays in loops however large
    short_rows: int  # outputs of 2 to short_rows - 1 rows stay in loops ...
    short_inner: int  # ... when the loops' innermost run is at least this long
    outer_products: bool  # whether an inner dimension of 1 (batch size 1's dW) goes to BLAS
    single_output_loops: bool  # whether a forward product into one output stays in loops


# The measured tables, by vector register width (``_cpu.vector_bytes``).
# 32 bytes (AVX2, an AMD EPYC with OpenBLAS' Zen/Haswell kernels, 2026-12-01): a BLAS
# call costs ~0.1 us, so tiny products stay in loops (at 512 multiply-adds, such as
# 4x8x16 and 8x8x8, the loops took 0.6-0.8 of BLAS' time), and so do products with a very
# short side, where BLAS kernels run mostly their edge cases, and outer products (the
# loops took 0.55-0.75 of gemm's time on 64x128). OpenBLAS' gemm packs its operands on
# every call, which dominates when the output has only 2 to 7 rows: (4, 64) x (64, 128)
# took 7.0 us, the loops 2.8 us; with fewer than 32 outputs BLAS still wins
# ((4, 128) x (128, 10): 1.1 us, loops 3.2 us). A single row goes to gemv, which is fast.
# 64 bytes (AVX-512, an Intel Xeon with OpenBLAS' SkylakeX kernels, 2026-12-02, medians
# of three runs of ``fastann bench --crossovers``): OpenBLAS' small-matrix kernels skip
# the packing, so BLAS wins from about 128 multiply-adds on, on short batches (4x64x32:
# 0.3 us against 1.3 us in float32), thin inputs (128x2x64) and outer products too; the
# loops keep the products into one output (32x64x1: 0.19 us against 0.36 us) and input
# gradients of under 2048 multiply-adds (4x8x16: 0.15 us against 0.24 us).
CROSSOVERS = {
    16: Crossovers(1024, 1024, 4, 8, 32, False, False),  # unmeasured: AVX2's
    32: Crossovers(1024, 1024, 4, 8, 32, False, False),
    64: Crossovers(128, 2048, 2, 0, 0, True, True),
}
VECTOR_BYTES = vector_bytes()  # this CPU's vector register: 32 with AVX2, 64 with AVX-512
# Module constants, so the compiled rules hold them as literals.
(BLAS_MIN_WORK, BLAS_MIN_INPUT_GRADIENT_WORK, BLAS_MIN_SIDE, BLAS_MIN_ROWS,
 BLAS_SHORT_INNER, BLAS_OUTER_PRODUCTS, SINGLE_OUTPUT_LOOPS) = CROSSOVERS[VECTOR_BYTES]
NARROW = 8  # below this many outputs (and fewer than inputs), loops run along the inputs
# A weight gradient of at most this many entries (a single sigmoid unit on a few
# inputs) is summed over the rows one entry at a time, in a register: 1.5-5x faster
# than accumulating rows into dW in memory, measured over 4-128 rows and layers from
# 2x1 to 16x4 (2026-12-01); from 8 entries on it is slower at 128 rows.
TINY_GRADIENT = 4


@kernel(inline=True)
def loop_path(n_in, n_out):
    """ALONG_INPUTS for a narrow layer (its outputs below NARROW and fewer than its
    inputs), else ALONG_OUTPUTS: which way the innermost loops run."""
    return ALONG_INPUTS if n_out < NARROW and n_out < n_in else ALONG_OUTPUTS


@kernel(inline=True)
def use_blas(m, k, n, short_side, inner, min_work):
    """Whether the product C (m, n) = op(A) (m, k) @ op(B) (k, n) of at least
    ``min_work`` multiply-adds goes to BLAS; ``short_side`` is the size that must reach
    BLAS_MIN_SIDE, ``inner`` the length of the innermost loop that would run instead
    (the layer's outputs)."""
    short_output = 1 < m < BLAS_MIN_ROWS and inner >= BLAS_SHORT_INNER
    return (m * k * n >= min_work and short_side >= BLAS_MIN_SIDE
            and (k > 1 or BLAS_OUTER_PRODUCTS) and not short_output)


@kernel(inline=True)
def forward_path(rows, n_in, n_out, itemsize):
    """The path ``dense_forward`` picks for Z (rows, n_out) = A_prev (rows, n_in) @ W.
    Every rule takes the dtype's ``itemsize`` too, though only one reads it, so that
    ``fastann bench --crossovers`` can call each of them alike."""
    if n_out == 1 and SINGLE_OUTPUT_LOOPS:
        return loop_path(n_in, n_out)
    if use_blas(rows, n_in, n_out, n_in, n_out, BLAS_MIN_WORK):
        return BLAS
    return loop_path(n_in, n_out)


@kernel(inline=True)
def weight_gradient_path(rows, n_in, n_out, itemsize):
    """The path ``dense_backward`` picks for dW (n_in, n_out) = A_prev.T @ dZ."""
    if n_in * n_out <= TINY_GRADIENT:
        return REGISTERS
    if use_blas(n_in, rows, n_out, n_in, n_out, BLAS_MIN_WORK):
        return BLAS
    return loop_path(n_in, n_out)


@kernel(inline=True)
def input_gradient_path(rows, n_in, n_out, itemsize):
    """The path ``dense_backward_input`` picks for dA_prev (rows, n_in) = dZ @ W.T.
    Along the inputs only when they fill a vector register: fewer inputs make too short
    a vector loop (4x4x1 and 7x3x1 in float32: the loops along the outputs took 0.3-0.8
    of the time; 4x4x1 in float64, one AVX2 vector: 2.2x slower than along the inputs)."""
    if use_blas(rows, n_out, n_in, min(n_in, n_out), n_out, BLAS_MIN_INPUT_GRADIENT_WORK):
        return BLAS
    if n_in * itemsize < VECTOR_BYTES:
        return ALONG_OUTPUTS
    return loop_path(n_in, n_out)


@kernel
def dense_forward(Z, A_prev, W, b, path):
    """Z = A_prev @ W + b, by ``path`` (BLAS, ALONG_OUTPUTS, ALONG_INPUTS, or RULE for
    the one ``forward_path`` picks).

    Z: (rows, n_out); A_prev: (rows, n_in); W: (n_in, n_out); b: (n_out,).
    """
    rows, n_in = A_prev.shape
    n_out = W.shape[1]
    if path == RULE:
        path = forward_path(rows, n_in, n_out, Z.itemsize)
    if path == BLAS:
        gemm(Z, A_prev, W, False, False)
        for r in range(rows):
            for j in range(n_out):
                Z[r, j] += b[j]
    elif path == ALONG_INPUTS:
        for r in range(rows):
            for j in range(n_out):
                total = b[j]
                for k in range(n_in):
                    total += A_prev[r, k] * W[k, j]
                Z[r, j] = total
    else:
        for r in range(rows):
            for j in range(n_out):
                Z[r, j] = b[j]
            for k in range(n_in):
                a = A_prev[r, k]
                for j in range(n_out):
                    Z[r, j] += a * W[k, j]


@kernel
def dense_backward(dW, db, dZ, A_prev, path):
    """dW = A_prev.T @ dZ and db = the sum of dZ's rows, by ``path`` (any of the four, or
    RULE for the one ``weight_gradient_path`` picks).

    dW: (n_in, n_out); db: (n_out,); dZ: (rows, n_out); A_prev: (rows, n_in).
    """
    rows, n_in = A_prev.shape
    n_out = dZ.shape[1]
    if path == RULE:
        path = weight_gradient_path(rows, n_in, n_out, dW.itemsize)
    zero = like(0, dW)
    if path == REGISTERS:
        for j in range(n_out):
            total = zero
            for r in range(rows):
                total += dZ[r, j]
            db[j] = total
            for k in range(n_in):
                total = zero
                for r in range(rows):
                    total += A_prev[r, k] * dZ[r, j]
                dW[k, j] = total
        return
    for j in range(n_out):
        db[j] = zero
    for r in range(rows):
        for j in range(n_out):
            db[j] += dZ[r, j]
    if path == BLAS:
        gemm(dW, A_prev, dZ, True, False)
        return
    for k in range(n_in):
        for j in range(n_out):
            dW[k, j] = zero
    if path == ALONG_INPUTS:
        for r in range(rows):
            for j in range(n_out):
                d = dZ[r, j]
                for k in range(n_in):
                    dW[k, j] += A_prev[r, k] * d
    else:
        for r in range(rows):
            for k in range(n_in):
                a = A_prev[r, k]
                for j in range(n_out):
                    dW[k, j] += a * dZ[r, j]


@kernel
def dense_backward_input(dA_prev, dZ, W, path):
    """dA_prev = dZ @ W.T, the gradient passed to the layer below (the first layer skips
    it), by ``path`` (BLAS, ALONG_OUTPUTS, ALONG_INPUTS, or RULE for the one
    ``input_gradient_path`` picks).

    dA_prev: (rows, n_in); dZ: (rows, n_out); W: (n_in, n_out).
    """
    rows, n_out = dZ.shape
    n_in = W.shape[0]
    if path == RULE:
        path = input_gradient_path(rows, n_in, n_out, dA_prev.itemsize)
    if path == BLAS:
        gemm(dA_prev, dZ, W, False, True)
        return
    zero = like(0, dA_prev)
    if path == ALONG_INPUTS:
        for r in range(rows):
            for k in range(n_in):
                dA_prev[r, k] = zero
            for j in range(n_out):
                d = dZ[r, j]
                for k in range(n_in):
                    dA_prev[r, k] += d * W[k, j]
    else:
        for r in range(rows):
            for k in range(n_in):
                total = zero
                for j in range(n_out):
                    total += dZ[r, j] * W[k, j]
                dA_prev[r, k] = total
