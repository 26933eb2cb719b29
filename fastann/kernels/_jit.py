"""The decorator every kernel uses, and the dtype-preserving scalar cast.

Kernels are cached on disk (``cache=True``) so that only the first process pays the
compile time. Caching needs a writable directory: Numba tries the package's own
``__pycache__`` and then a user-wide cache directory (``NUMBA_CACHE_DIR`` overrides
both). When none is writable fastann compiles in memory instead of failing to import;
``FASTANN_DISABLE_CACHE=1`` turns the disk cache off on purpose.
"""
import functools
import hashlib
import os
import warnings

import numba
from numba.core import cgutils, types
from numba.extending import lower_builtin, type_callable

# Fast-math without ``nnan``/``ninf``: reductions may be reassociated (and so
# vectorised) and multiply-adds fused, but NaN and inf checks keep their meaning.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "reassoc"})

CACHE_ENABLED = os.environ.get("FASTANN_DISABLE_CACHE", "") not in ("1", "true", "yes")

_warned_no_cache = False
_cached_kernels = []  # dispatchers compiled with cache=True
_stale_modules = {}  # module -> whether its cache came from other kernel sources
DIGEST_FILE = "fastann-kernels.sha256"


def kernel(function=None, *, fastmath=FASTMATH_FLAGS, entry=False, inline=False):
    """Compile ``function`` in nopython mode, cached on disk when possible.

    Kernels called from other kernels are marked always-inline for LLVM: a call between
    separately compiled Numba functions costs more than a tiny layer's arithmetic
    (argument unpacking, reference counting that only inlining lets LLVM remove).
    ``entry=True`` marks the kernels Python calls, which stay real functions.

    ``inline=True`` goes further for the small glue kernels (views, the loops over
    layers, dispatch on a code): Numba pastes their source into the caller before
    typing, so they are never compiled on their own. Each separately compiled kernel
    costs 0.1-0.5 s of first-call compile time (typing, lowering, LLVM and machine code
    of its own). Kernels with loops over arrays stay separate: LLVM vectorises a loop
    best in a small function optimised on its own and then inlined (with the update
    rules, copies and shuffling pasted into the training loop, a 64-128-10 network
    trained 2-3x slower at batch size 1), and typing one
    huge function costs more than compiling its parts (inlining every kernel took the
    first fit from 14 s to 19 s).
    """

    def decorate(function):
        options = {"nogil": True, "fastmath": set(fastmath), "error_model": "numpy",
                   "forceinline": not entry}
        if inline:
            options["inline"] = "always"
        if CACHE_ENABLED:
            try:
                dispatcher = numba.njit(cache=True, **options)(function)
                _cached_kernels.append(dispatcher)
                _drop_if_stale(dispatcher)
                return dispatcher
            except RuntimeError as error:  # Numba found no writable cache directory
                _warn_no_cache(error)
        return numba.njit(**options)(function)

    return decorate if function is None else decorate(function)


def _warn_no_cache(error):
    global _warned_no_cache
    if not _warned_no_cache:
        _warned_no_cache = True
        warnings.warn(
            f"fastann: no writable cache directory ({error}); kernels are compiled in "
            "memory for this process. Set NUMBA_CACHE_DIR to a writable directory to "
            "keep them between runs.",
            RuntimeWarning,
            stacklevel=3,
        )


KERNELS_DIR = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def _kernel_sources_digest():
    """SHA-256 over every source file in ``kernels/``, computed once per process."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(KERNELS_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(KERNELS_DIR, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read())
    return digest.hexdigest()


def _drop_if_stale(dispatcher):
    """Empty ``dispatcher``'s cache index if it was compiled from other kernel sources.

    Numba checks only the timestamp of the file that defines a cached function, not of
    the functions it calls, so editing ``dense.py`` would leave a stale ``train_epochs``
    (or a stale bench kernel) in the cache. A digest of the kernel sources is kept
    beside the cache, one per defining module. The first kernel of a module reads it;
    when it differs, that kernel and every later one of the module are emptied (a
    recompile follows) and the new digest is written.
    """
    try:
        directory = dispatcher._cache.cache_path
    except AttributeError:  # a Numba without this (private) attribute: nothing to do
        return
    module = dispatcher.py_func.__module__
    stamp = os.path.join(directory, f"{module}.{DIGEST_FILE}")
    stale = _stale_modules.get(module)
    first = stale is None
    if first:
        try:
            with open(stamp) as file:
                stale = file.read().strip() != _kernel_sources_digest()
        except OSError:
            stale = True
        _stale_modules[module] = stale
    if not stale:
        return
    try:
        dispatcher._cache.flush()
        if first:
            os.makedirs(directory, exist_ok=True)
            # written aside and renamed, so a process importing meanwhile never reads
            # a half-written digest (and empties the cache again)
            partial = f"{stamp}.{os.getpid()}"
            with open(partial, "w") as file:
                file.write(_kernel_sources_digest())
            os.replace(partial, stamp)
    except OSError:  # a read-only cache: Numba will not save into it either
        pass


def like(value, array):
    """``value`` as a scalar of the dtype of ``array`` (an array or a NumPy scalar).

    Numba types ``1 + float32`` as float64; writing ``like(1, Z) + z`` keeps float32
    kernels in float32.
    """
    return array.dtype.type(value)


def view_2d(flat, start, rows, columns):
    """The C-ordered (rows, columns) view of ``flat[start:start + rows * columns]``.

    The compiled form is a *borrowed* view: it shares ``flat``'s memory but holds no
    reference to it, so making and dropping it costs no atomic reference counting and
    no call into Numba's ``reshape`` helper (together more than a tiny layer's whole
    forward pass). It must not outlive ``flat``: kernels use such views only inside
    the call that received ``flat`` and never return one to Python. No bounds checks.
    """
    return flat[start:start + rows * columns].reshape((rows, columns))


def view_1d(flat, start, length):
    """``flat[start:start + length]`` as a borrowed view (see ``view_2d``)."""
    return flat[start:start + length]


def view_flat(array):
    """All elements of a C-ordered 2-D array as a borrowed 1-D view (see ``view_2d``):
    element-wise loops over a (rows, units) block then run as one loop, not one per row."""
    return array.reshape(-1)


def view_rows(array, start, rows):
    """``array[start:start + rows]`` of a C-ordered 2-D array, as a borrowed view (see
    ``view_2d``)."""
    return array[start:start + rows]


def compiled_as(function):
    """Register ``typer`` and ``codegen`` as the compiled form of the Python ``function``.

    ``typer(*argument_types)`` returns the result type, or None where the function does
    not apply. Registered this way (typing template and lowering, not ``@overload`` or
    ``@intrinsic``) a helper is emitted straight into its caller's code: no function of
    its own to compile for each signature, which cost seconds of first-call compile time.
    """

    def register(typer_and_codegen):
        typer, codegen = typer_and_codegen()

        @type_callable(function)
        def typing(context):
            return typer

        lower_builtin(function, types.VarArg(types.Any))(codegen)
        return function

    return register


@compiled_as(like)
def _like():
    def typer(value, array):
        return getattr(array, "dtype", array)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)

    return typer, codegen


def _is_c_array(array, ndim):
    return isinstance(array, types.Array) and array.ndim == ndim and array.layout == "C"


def _borrowed(view_type, data, shape, strides, itemsize, context, builder):
    """A view struct over ``data`` that holds no reference (meminfo and parent null)."""
    from numba.np.arrayobj import populate_array  # 0.1 s to import: only when compiling

    view = context.make_array(view_type)(context, builder)
    populate_array(view, data=data, shape=shape, strides=strides, itemsize=itemsize,
                   meminfo=None, parent=None)
    return view._getvalue()


def _indices(context, builder, signature, args):
    """The integer arguments after the first, as intp values."""
    return [context.cast(builder, value, type_, types.intp)
            for value, type_ in zip(args[1:], signature.args[1:])]


def _flat_view_codegen(context, builder, signature, args):
    """view_2d / view_1d: a C-ordered view of a 1-D C array from ``start`` on."""
    source = context.make_array(signature.args[0])(context, builder, args[0])
    start, *shape = _indices(context, builder, signature, args)
    strides = [source.itemsize]
    for extent in reversed(shape[1:]):
        strides.insert(0, builder.mul(strides[0], extent))
    return _borrowed(signature.return_type, builder.gep(source.data, [start]), shape,
                     strides, source.itemsize, context, builder)


@compiled_as(view_2d)
def _view_2d():
    def typer(flat, start, rows, columns):
        if _is_c_array(flat, 1):
            return flat.copy(ndim=2)

    return typer, _flat_view_codegen


@compiled_as(view_1d)
def _view_1d():
    def typer(flat, start, length):
        if _is_c_array(flat, 1):
            return flat

    return typer, _flat_view_codegen


@compiled_as(view_rows)
def _view_rows():
    def typer(array, start, rows):
        if _is_c_array(array, 2):
            return array

    def codegen(context, builder, signature, args):
        source = context.make_array(signature.args[0])(context, builder, args[0])
        start, rows = _indices(context, builder, signature, args)
        row_stride, item_stride = cgutils.unpack_tuple(builder, source.strides, 2)
        _, columns = cgutils.unpack_tuple(builder, source.shape, 2)
        data = builder.gep(source.data, [builder.mul(start, columns)])
        return _borrowed(signature.return_type, data, [rows, columns],
                         [row_stride, item_stride], source.itemsize, context, builder)

    return typer, codegen


@compiled_as(view_flat)
def _view_flat():
    def typer(array):
        if _is_c_array(array, 2):
            return array.copy(ndim=1)

    def codegen(context, builder, signature, args):
        source = context.make_array(signature.args[0])(context, builder, args[0])
        rows, columns = cgutils.unpack_tuple(builder, source.shape, 2)
        return _borrowed(signature.return_type, source.data, [builder.mul(rows, columns)],
                         [source.itemsize], source.itemsize, context, builder)

    return typer, codegen
