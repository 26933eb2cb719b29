"""The decorator every kernel uses, and the dtype-preserving scalar cast.

Kernels are cached on disk (``cache=True``) so that only the first process pays the
compile time. Caching needs a writable directory: Numba tries the package's own
``__pycache__`` and then a user-wide cache directory (``NUMBA_CACHE_DIR`` overrides
both). When none is writable fastann compiles in memory instead of failing to import;
``FASTANN_DISABLE_CACHE=1`` turns the disk cache off on purpose.
"""
import hashlib
import os
import warnings

import numba
from numba.core import cgutils, types
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

# Fast-math without ``nnan``/``ninf``: reductions may be reassociated (and so
# vectorised) and multiply-adds fused, but NaN and inf checks keep their meaning.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "reassoc"})

CACHE_ENABLED = os.environ.get("FASTANN_DISABLE_CACHE", "") not in ("1", "true", "yes")

_warned_no_cache = False
_cached_kernels = []  # dispatchers compiled with cache=True, for refresh_stale_caches
DIGEST_FILE = "fastann-kernels.sha256"


def kernel(function=None, *, fastmath=FASTMATH_FLAGS, entry=False):
    """Compile ``function`` in nopython mode, cached on disk when possible.

    Kernels called from other kernels are marked always-inline for LLVM: a call between
    separately compiled Numba functions costs more than a tiny layer's arithmetic
    (argument unpacking, reference counting that only inlining lets LLVM remove).
    ``entry=True`` marks the kernels Python calls, which stay real functions.
    """

    def decorate(function):
        options = {"nogil": True, "fastmath": set(fastmath), "error_model": "numpy",
                   "forceinline": not entry}
        if CACHE_ENABLED:
            try:
                dispatcher = numba.njit(cache=True, **options)(function)
                _cached_kernels.append(dispatcher)
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


def refresh_stale_caches(source_dir):
    """Drop cached kernels compiled from other kernel sources than the ones here now.

    Numba checks only the timestamp of the file that defines a cached function, not of
    the functions it calls, so editing ``dense.py`` would leave a stale ``train_epochs``
    in the cache. A digest of every kernel source is kept beside the cache; when it
    differs, every kernel's cache index is emptied (a recompile follows).
    """
    if not _cached_kernels:
        return
    digest = hashlib.sha256()
    for name in sorted(os.listdir(source_dir)):
        if name.endswith(".py"):
            with open(os.path.join(source_dir, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read())
    digest = digest.hexdigest()
    by_directory = {}
    for dispatcher in _cached_kernels:
        try:
            by_directory.setdefault(dispatcher._cache.cache_path, []).append(dispatcher)
        except AttributeError:  # a Numba without this (private) attribute: nothing to do
            return
    for directory, dispatchers in by_directory.items():
        stamp = os.path.join(directory, DIGEST_FILE)
        try:
            with open(stamp) as file:
                if file.read().strip() == digest:
                    continue
        except OSError:
            pass
        try:
            for dispatcher in dispatchers:
                dispatcher._cache.flush()
            os.makedirs(directory, exist_ok=True)
            # written aside and renamed, so a process importing meanwhile never reads
            # a half-written digest (and empties the cache again)
            partial = f"{stamp}.{os.getpid()}"
            with open(partial, "w") as file:
                file.write(digest)
            os.replace(partial, stamp)
        except OSError:  # a read-only cache: Numba will not save into it either
            pass


def like(value, array):
    """``value`` as a scalar of the dtype of ``array`` (an array or a NumPy scalar).

    Numba types ``1 + float32`` as float64; writing ``like(1, Z) + z`` keeps float32
    kernels in float32.
    """
    return array.dtype.type(value)


@overload(like)
def _like_compiled(value, array):
    dtype = getattr(array, "dtype", array)

    def cast(value, array):
        return dtype(value)

    return cast


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


def _borrowed_view(flat_type, ndim):
    """Typing and code generation of a borrowed, C-ordered view of a 1-D C array."""
    view_type = flat_type.copy(ndim=ndim, layout="C")

    def codegen(context, builder, signature, args):
        flat_value, start, *shape = [context.cast(builder, value, type_, types.intp)
                                     if i else value
                                     for i, (value, type_) in enumerate(zip(args,
                                                                             signature.args))]
        source = make_array(signature.args[0])(context, builder, flat_value)
        view = make_array(view_type)(context, builder)
        itemsize = source.itemsize
        strides = [itemsize]
        for extent in reversed(shape[1:]):
            strides.insert(0, builder.mul(strides[0], extent))
        populate_array(view, data=builder.gep(source.data, [start]), shape=shape,
                       strides=strides, itemsize=itemsize, meminfo=None, parent=None)
        return view._getvalue()

    return view_type, codegen


def _is_flat(flat):
    return isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"


@intrinsic
def _view_2d_compiled(typingctx, flat, start, rows, columns):
    if _is_flat(flat):
        view_type, codegen = _borrowed_view(flat, 2)
        return view_type(flat, start, rows, columns), codegen


@intrinsic
def _view_1d_compiled(typingctx, flat, start, length):
    if _is_flat(flat):
        view_type, codegen = _borrowed_view(flat, 1)
        return view_type(flat, start, length), codegen


@intrinsic
def _view_rows_compiled(typingctx, array, start, rows):
    if not (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"):
        return None
    view_type = array

    def codegen(context, builder, signature, args):
        array_value, start, rows = args
        start = context.cast(builder, start, signature.args[1], types.intp)
        rows = context.cast(builder, rows, signature.args[2], types.intp)
        source = make_array(signature.args[0])(context, builder, array_value)
        view = make_array(view_type)(context, builder)
        row_stride, item_stride = cgutils.unpack_tuple(builder, source.strides, 2)
        _, columns = cgutils.unpack_tuple(builder, source.shape, 2)
        data = builder.gep(source.data, [builder.mul(start, columns)])
        populate_array(view, data=data, shape=[rows, columns],
                       strides=[row_stride, item_stride], itemsize=source.itemsize,
                       meminfo=None, parent=None)
        return view._getvalue()

    return view_type(array, start, rows), codegen


@intrinsic
def _view_flat_compiled(typingctx, array):
    if not (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"):
        return None
    view_type = array.copy(ndim=1)

    def codegen(context, builder, signature, args):
        source = make_array(signature.args[0])(context, builder, args[0])
        view = make_array(view_type)(context, builder)
        rows, columns = cgutils.unpack_tuple(builder, source.shape, 2)
        populate_array(view, data=source.data, shape=[builder.mul(rows, columns)],
                       strides=[source.itemsize], itemsize=source.itemsize, meminfo=None,
                       parent=None)
        return view._getvalue()

    return view_type(array), codegen


@overload(view_flat)
def _view_flat_overload(array):
    return lambda array: _view_flat_compiled(array)


@overload(view_rows)
def _view_rows_overload(array, start, rows):
    return lambda array, start, rows: _view_rows_compiled(array, start, rows)


@overload(view_2d)
def _view_2d_overload(flat, start, rows, columns):
    return lambda flat, start, rows, columns: _view_2d_compiled(flat, start, rows, columns)


@overload(view_1d)
def _view_1d_overload(flat, start, length):
    return lambda flat, start, length: _view_1d_compiled(flat, start, length)
