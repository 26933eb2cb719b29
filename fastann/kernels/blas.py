"""The matrix product the kernels call, straight into BLAS ``gemm`` or ``gemv``.

``np.dot(a, b, out)`` in Numba is a function per combination of layouts (three in the
dense kernels) with shape checks in front; this calls the same BLAS (SciPy's, which
Numba loads on first use) through Numba's ``numba_xxgemm`` and ``numba_xxgemv``, with
no checks and no function of its own to compile. Row-major matrices are handed to the
column-major BLAS as their transposes: C = op(A) @ op(B) is C.T = op(B).T @ op(A).T.
As in NumPy, a product with a single output row or column goes to ``gemv``: OpenBLAS'
``gemm`` takes about 10x longer on a (1, 64) x (64, 128) product (measured).
"""
from llvmlite import ir
from numba.core import cgutils, types

from ._jit import compiled_as

_CHAR = ir.IntType(8)
_GEMM_SIGNATURE = ir.FunctionType(
    ir.IntType(32),
    [_CHAR, _CHAR, _CHAR,  # kind (s or d), transa, transb
     cgutils.intp_t, cgutils.intp_t, cgutils.intp_t,  # m, n, k
     cgutils.voidptr_t, cgutils.voidptr_t, cgutils.intp_t,  # alpha, a, lda
     cgutils.voidptr_t, cgutils.intp_t, cgutils.voidptr_t,  # b, ldb, beta
     cgutils.voidptr_t, cgutils.intp_t])  # c, ldc
_GEMV_SIGNATURE = ir.FunctionType(
    ir.IntType(32),
    [_CHAR, _CHAR,  # kind, trans
     cgutils.intp_t, cgutils.intp_t,  # m, n of the column-major matrix
     cgutils.voidptr_t, cgutils.voidptr_t, cgutils.intp_t,  # alpha, a, lda
     cgutils.voidptr_t, cgutils.voidptr_t, cgutils.voidptr_t])  # x, beta, y


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
            from numba.np.linalg import ensure_blas  # imported when compiling only

            ensure_blas()  # a clear error now if SciPy is missing, not at run time
            return types.none

    def codegen(context, builder, signature, args):
        from numba.np.linalg import get_blas_kind

        C, A, B = (context.make_array(t)(context, builder, v)
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
        kind = ir.Constant(_CHAR, ord(get_blas_kind(dtype)))

        def void(pointer):
            return builder.bitcast(pointer, cgutils.voidptr_t)

        def blas(name, signature, *arguments):
            function = cgutils.get_or_insert_function(builder.module, signature, name)
            builder.call(function, (kind,) + arguments)

        def character(flag):
            return builder.select(flag, transposed, as_is)

        def matrix_vector(S, transpose_S, x, y):
            """y = op(S) @ x for a stored C-ordered S: column-major, S is its transpose."""
            rows_S, columns_S = cgutils.unpack_tuple(builder, S.shape, 2)
            blas("numba_xxgemv", _GEMV_SIGNATURE, character(builder.not_(transpose_S)),
                 columns_S, rows_S, void(one), void(S.data), columns_S, void(x), void(zero),
                 void(y))

        single = context.get_constant(types.intp, 1)
        with builder.if_else(builder.icmp_signed("==", n, single)) as (column, not_column):
            with column:  # C[:, 0] = op(A) @ op(B)[:, 0]
                matrix_vector(A, transpose_A, B.data, C.data)
            with not_column:
                with builder.if_else(builder.icmp_signed("==", m, single)) as (row, general):
                    with row:  # C[0] = op(B).T @ op(A)[0]
                        matrix_vector(B, builder.not_(transpose_B), A.data, C.data)
                    with general:
                        # C.T (n, m) = op(B).T (n, k) @ op(A).T (k, m); a C-ordered
                        # array's leading dimension is its number of columns
                        blas("numba_xxgemm", _GEMM_SIGNATURE, character(transpose_B),
                             character(transpose_A), n, m, k, void(one), void(B.data),
                             columns_B, void(A.data), columns_A, void(zero), void(C.data), n)
        return context.get_dummy_value()

    return typer, codegen
