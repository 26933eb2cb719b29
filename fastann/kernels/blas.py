"""The one BLAS routine the kernels call: a matrix product straight into ``gemm``.

``np.dot(a, b, out)`` in Numba is a function per combination of layouts (three in the
dense kernels) with shape checks in front; this calls the same BLAS (SciPy's, which
Numba loads on first use) through Numba's ``numba_xxgemm`` with no checks and no
function of its own to compile. Row-major matrices are handed to the column-major
BLAS as their transposes: C = op(A) @ op(B) is C.T = op(B).T @ op(A).T.
"""
from llvmlite import ir
from numba.core import cgutils, types
from numba.np.arrayobj import make_array
from numba.np.linalg import ensure_blas, get_blas_kind

from ._jit import compiled_as

_CHAR = ir.IntType(8)
_GEMM_SIGNATURE = ir.FunctionType(
    ir.IntType(32),
    [_CHAR, _CHAR, _CHAR,  # kind (s or d), transa, transb
     cgutils.intp_t, cgutils.intp_t, cgutils.intp_t,  # m, n, k
     cgutils.voidptr_t, cgutils.voidptr_t, cgutils.intp_t,  # alpha, a, lda
     cgutils.voidptr_t, cgutils.intp_t, cgutils.voidptr_t,  # b, ldb, beta
     cgutils.voidptr_t, cgutils.intp_t])  # c, ldc


def gemm(C, A, B, transpose_A, transpose_B):
    """C = op(A) @ op(B), op transposing when asked. C, A, B: C-ordered 2-D arrays of one
    float dtype; op(A) is (m, k), op(B) (k, n), C (m, n); shapes are not checked."""
    C[...] = (A.T if transpose_A else A) @ (B.T if transpose_B else B)


@compiled_as(gemm)
def _gemm():
    def typer(C, A, B, transpose_A, transpose_B):
        arrays = (C, A, B)
        if all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
               and a.dtype == C.dtype for a in arrays) and C.dtype in types.real_domain:
            ensure_blas()  # a clear error now if SciPy is missing, not at run time
            return types.none

    def codegen(context, builder, signature, args):
        C, A, B = (make_array(t)(context, builder, v)
                   for t, v in zip(signature.args[:3], args[:3]))
        transpose_A, transpose_B = (
            context.cast(builder, v, t, types.boolean)
            for v, t in zip(args[3:], signature.args[3:]))
        dtype = signature.args[0].dtype
        m, n = cgutils.unpack_tuple(builder, C.shape, 2)
        rows_A, columns_A = cgutils.unpack_tuple(builder, A.shape, 2)
        k = builder.select(transpose_A, rows_A, columns_A)
        _, columns_B = cgutils.unpack_tuple(builder, B.shape, 2)
        transposed, as_is = ir.Constant(_CHAR, ord("t")), ir.Constant(_CHAR, ord("n"))
        one = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1))
        zero = cgutils.alloca_once_value(builder, context.get_constant(dtype, 0))
        gemm_function = cgutils.get_or_insert_function(builder.module, _GEMM_SIGNATURE,
                                                       "numba_xxgemm")

        def void(pointer):
            return builder.bitcast(pointer, cgutils.voidptr_t)

        # column-major view: C.T (n, m) = op(B).T (n, k) @ op(A).T (k, m); a C-ordered
        # array's leading dimension is its number of columns
        builder.call(gemm_function, (
            ir.Constant(_CHAR, ord(get_blas_kind(dtype))),
            builder.select(transpose_B, transposed, as_is),
            builder.select(transpose_A, transposed, as_is),
            n, m, k, void(one), void(B.data), columns_B, void(A.data), columns_A,
            void(zero), void(C.data), n))
        return context.get_dummy_value()

    return typer, codegen
