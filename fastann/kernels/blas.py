"""The matrix product the kernels call, straight into BLAS ``gemm`` or ``gemv``.

``np.dot(a, b, out)`` in Numba is a function per combination of layouts (three in the
dense kernels) with shape checks in front; this calls the same BLAS, SciPy's, through
its public Cython API (``scipy.linalg.cython_blas``): Numba's documented
``numba.extending.get_cython_function_address`` gives each routine's address, which is
registered with LLVM under a name of fastann's (``llvmlite.binding.add_symbol``, done
again in every process, so cached machine code links to this process' SciPy), and the
call is emitted as plain LLVM IR into the calling kernel: no checks, no function of
its own to compile. The Fortran routines take every argument by pointer and 32-bit
``int`` sizes (SciPy's BLAS is LP64).

Row-major matrices are handed to the column-major BLAS as their transposes:
C = op(A) @ op(B) is C.T = op(B).T @ op(A).T. As in NumPy, a product with a single
output row or column goes to ``gemv``: OpenBLAS' ``gemm`` takes about 10x longer on a
(1, 64) x (64, 128) product (measured).

Under ``NUMBA_DISABLE_JIT=1`` the same calls go through ``ctypes`` to the same
addresses, so the pure-Python path checks the argument order too.
"""
import ctypes

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.extending import get_cython_function_address

from ._jit import compiled_as, element_pointer, kernel, like

NO_TRANSPOSE, TRANSPOSE = ord("n"), ord("t")
# (name in SciPy, name given to LLVM) per routine and dtype
_ROUTINES = {("gemm", np.float32): "sgemm", ("gemm", np.float64): "dgemm",
             ("gemv", np.float32): "sgemv", ("gemv", np.float64): "dgemv"}
_ADDRESSES = {}
for (_routine, _dtype), _name in _ROUTINES.items():
    _ADDRESSES[_name] = get_cython_function_address("scipy.linalg.cython_blas", _name)
    binding.add_symbol(f"fastann_{_name}", _ADDRESSES[_name])
# what each argument is, in BLAS order: a character, an int, a scalar or an array
_ARGUMENTS = {"gemm": "cciiisaiaisai", "gemv": "ciisaiaisai"}


def _python_call(routine, *arguments):
    """Call the BLAS ``routine`` through ctypes (the pure-Python path): every argument
    by reference, arrays given by address (``element_pointer``)."""
    dtype = type(next(a for a, kind in zip(arguments, _ARGUMENTS[routine]) if kind == "s"))
    name = _ROUTINES[routine, dtype]
    scalar = np.ctypeslib.as_ctypes_type(dtype)
    references = []
    for value, kind in zip(arguments, _ARGUMENTS[routine]):
        if kind == "a":
            references.append(ctypes.c_void_p(value))
        else:
            cell = {"c": ctypes.c_char, "i": ctypes.c_int, "s": scalar}[kind](
                bytes([value]) if kind == "c" else value)
            references.append(ctypes.cast(ctypes.pointer(cell), ctypes.c_void_p))
            references.append(cell)  # kept alive until the call returns
    pointers = [r for r in references if isinstance(r, ctypes.c_void_p)]
    function = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(pointers))(_ADDRESSES[name])
    function(*pointers)


def _blas_signature(routine, arguments):
    """The signature a call of ``routine`` with these argument types is compiled to (its
    arguments cast to it), or None where it does not apply."""
    kinds = _ARGUMENTS[routine]
    dtypes = {a.dtype for a, kind in zip(arguments, kinds)
              if kind == "a" and isinstance(a, types.CPointer)}
    if len(dtypes) != 1 or dtypes.copy().pop() not in (types.float32, types.float64):
        return None
    dtype = dtypes.pop()
    parameters = {"c": types.intp, "i": types.intp, "s": dtype, "a": types.CPointer(dtype)}
    return types.none(*[parameters[kind] for kind in kinds])


def _blas_codegen(routine):
    def codegen(context, builder, signature, args):
        kinds = _ARGUMENTS[routine]
        dtype = signature.args[kinds.index("s")]
        name = "fastann_" + _ROUTINES[routine, np.dtype(str(dtype)).type]
        byte_pointer = ir.IntType(8).as_pointer()
        function = builder.module.globals.get(name)
        if function is None:
            function = ir.Function(builder.module,
                                   ir.FunctionType(ir.VoidType(), [byte_pointer] * len(kinds)),
                                   name)
        cell_types = {"c": ir.IntType(8), "i": ir.IntType(32),
                      "s": ir.FloatType() if dtype == types.float32 else ir.DoubleType()}
        pointers = []
        for value, kind in zip(args, kinds):
            if kind == "a":
                pointers.append(builder.bitcast(value, byte_pointer))
                continue
            if kind in "ci":
                value = builder.trunc(value, cell_types[kind])
            with builder.goto_entry_block():  # one stack slot per call site, not per pass
                cell = builder.alloca(cell_types[kind])
            builder.store(value, cell)
            pointers.append(builder.bitcast(cell, byte_pointer))
        builder.call(function, pointers)
        return context.get_dummy_value()

    return codegen


def blas_gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """BLAS ``?gemm`` (column-major): c = alpha op(a) @ op(b) + beta c. ``transa``,
    ``transb``: NO_TRANSPOSE or TRANSPOSE; a, b, c: ``element_pointer``s into arrays of
    one float dtype, which ``alpha`` and ``beta`` have too."""
    _python_call("gemm", transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


def blas_gemv(trans, m, n, alpha, a, lda, x, incx, beta, y, incy):
    """BLAS ``?gemv`` (column-major): y = alpha op(a) @ x + beta y (see ``blas_gemm``)."""
    _python_call("gemv", trans, m, n, alpha, a, lda, x, incx, beta, y, incy)


@compiled_as(blas_gemm)
def _blas_gemm():
    def typer(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        return _blas_signature("gemm", (transa, transb, m, n, k, alpha, a, lda, b, ldb,
                                        beta, c, ldc))

    return typer, _blas_codegen("gemm")


@compiled_as(blas_gemv)
def _blas_gemv():
    def typer(trans, m, n, alpha, a, lda, x, incx, beta, y, incy):
        return _blas_signature("gemv", (trans, m, n, alpha, a, lda, x, incx, beta, y, incy))

    return typer, _blas_codegen("gemv")


@kernel(inline=True)
def matrix_vector(y, S, transpose_S, x):
    """y = op(S) @ x for a stored C-ordered S (rows_S, columns_S); x and y: arrays of
    op(S)'s column and row count of elements. Column-major, S is its own transpose."""
    rows_S, columns_S = S.shape
    trans = NO_TRANSPOSE if transpose_S else TRANSPOSE
    blas_gemv(trans, columns_S, rows_S, like(1, S), element_pointer(S, 0), columns_S,
              element_pointer(x, 0), 1, like(0, S), element_pointer(y, 0), 1)


@kernel(inline=True)
def gemm(C, A, B, transpose_A, transpose_B):
    """C = op(A) @ op(B), op transposing when asked. C, A, B: C-ordered 2-D arrays of one
    float dtype; op(A) is (m, k), op(B) (k, n), C (m, n); shapes are not checked."""
    m, n = C.shape
    k = A.shape[0] if transpose_A else A.shape[1]
    if n == 1:  # C[:, 0] = op(A) @ op(B)[:, 0]
        matrix_vector(C, A, transpose_A, B)
    elif m == 1:  # C[0] = op(B).T @ op(A)[0]
        matrix_vector(C, B, not transpose_B, A)
    else:
        # C.T (n, m) = op(B).T (n, k) @ op(A).T (k, m); a C-ordered array's leading
        # dimension is its number of columns
        blas_gemm(TRANSPOSE if transpose_B else NO_TRANSPOSE,
                  TRANSPOSE if transpose_A else NO_TRANSPOSE, n, m, k, like(1, C),
                  element_pointer(B, 0), B.shape[1], element_pointer(A, 0), A.shape[1],
                  like(0, C), element_pointer(C, 0), n)
