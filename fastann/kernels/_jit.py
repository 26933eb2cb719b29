"""The decorator every kernel uses, the dtype-preserving scalar cast and the views.

Everything here stands on Numba's documented low-level extension API
(``numba.extending.type_callable`` and ``lower_builtin``, with ``numba.types``) and
llvmlite's ``ir``; the lowering uses the context Numba hands it (``make_array``, as
``numba.carray``'s own lowering does, ``get_value_type``, ``get_data_type``,
``get_abi_sizeof``) and the array helper's ``_getvalue()``, the accessor Numba's
documented interval example returns a struct with. Nothing is imported from Numba's
internal modules.

Kernels are cached on disk (``cache=True``) so that only the first process pays the
compile time. Caching needs a writable directory: Numba tries the package's own
``__pycache__`` and then a user-wide cache directory (``NUMBA_CACHE_DIR`` overrides
both). When none is writable fastann compiles in memory instead of failing to import;
``FASTANN_DISABLE_CACHE=1`` turns the disk cache off on purpose.

Stale caches. Numba checks only the timestamp of the file that defines a cached
function, not of the functions compiled into it, so editing ``dense.py`` would leave a
stale ``train_epochs`` (or a stale bench kernel, which inlines fastann's) in the cache.
fastann keeps a digest of the kernel sources beside each module's cache files: the
first kernel a module defines reads it (the directory is the dispatcher's public
``stats.cache_path``) and, when it differs, deletes that module's cache files (the
``<module>.<function>-<line>.pyXY.nbi`` indexes and ``.nbc`` data files Numba documents
for its cache) before anything is loaded from them, then writes the new digest. Every
``@kernel`` is covered, a user's too. (Alternatives considered: one file for every
kernel that inlines others, which would merge half the package; or uncached bench
kernels, which would not cover ``train.py`` inlining ``dense.py``.)

Specialisation. Options are integer codes read at run time, so one compiled loop serves
every model; but a loop that can dispatch to every activation, loss, optimizer rule,
clipping mode and metric compiles all of them, and most of the first fit's compile time
went to code the model never ran. ``gated`` puts a family's kernels behind a flag whose
*type* says whether the model uses it (``train.Features``, built from the model's
options): an unused family is never typed or compiled, and each combination the wrapper
passes is a specialisation of its own, cached on disk like any other.

Inlining. Numba compiles each kernel as a function of its own and LLVM's inliner, run
over the linked module, decides by size whether a callee is pasted into its caller.
``inline=True`` marks the small glue kernels (views, the loops over layers, dispatch
on a code) for Numba's documented ``inline="always"``: their source is pasted into the
caller before typing, so they are never compiled on their own. So are the one-loop
helpers the training loop calls several times a batch or an epoch (copies, fills, a
block's weight penalty): on a tiny network each call cost more than its loop. Each
separately compiled
kernel costs 0.1-0.5 s of first-call compile time (typing, lowering, LLVM and machine
code of its own). Kernels with loops over arrays stay separate: LLVM vectorises a loop
best in a small function optimised on its own, and typing one huge function costs more
than compiling its parts (inlining every kernel took the first fit from 14 s to 19 s).
"""
import functools
import glob
import hashlib
import os
import warnings

import numba
from numba import types
from llvmlite import ir
from numba.extending import lower_builtin, overload, type_callable

# Fast-math without ``nnan``/``ninf``: reductions may be reassociated (and so
# vectorised) and multiply-adds fused, but NaN and inf checks keep their meaning.
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "reassoc"})

CACHE_ENABLED = os.environ.get("FASTANN_DISABLE_CACHE", "") not in ("1", "true", "yes")

_warned_in_memory = False
kernels_on_disk = []  # dispatchers compiled with cache=True
_checked_modules = set()  # modules whose cache digest was checked in this process
DIGEST_FILE = "fastann-kernels.sha256"


def kernel(function=None, *, fastmath=FASTMATH_FLAGS, entry=False, inline=False):
    """Compile ``function`` in nopython mode, cached on disk when possible.

    ``entry=True`` marks the kernels Python calls (kept for the reader: every kernel is
    compiled the same way). ``inline=True`` pastes the kernel's source into its callers
    (Numba's ``inline="always"``), see the module docstring.
    """

    def decorate(function):
        options = {"nogil": True, "fastmath": set(fastmath), "error_model": "numpy"}
        if inline:
            options["inline"] = "always"
        if CACHE_ENABLED:
            try:
                dispatcher = numba.njit(cache=True, **options)(function)
            except RuntimeError as error:  # Numba found no writable cache directory
                _warn_compiling_in_memory(error)
            else:
                kernels_on_disk.append(dispatcher)
                _drop_if_stale(dispatcher)
                return dispatcher
        return numba.njit(**options)(function)

    return decorate if function is None else decorate(function)


def _warn_compiling_in_memory(error):
    global _warned_in_memory
    if not _warned_in_memory:
        _warned_in_memory = True
        warnings.warn(
            f"fastann: no writable cache directory ({error}); kernels are compiled in "
            "memory for this process. Set NUMBA_CACHE_DIR to a writable directory to "
            "keep them between runs.",
            RuntimeWarning,
            stacklevel=3,
        )


KERNELS_DIR = os.path.dirname(os.path.abspath(__file__))


@functools.cache
def _kernel_sources_digest():
    """SHA-256 over every source file in ``kernels/``, computed once per process."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(KERNELS_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(KERNELS_DIR, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read())
    return digest.hexdigest()


def _drop_if_stale(dispatcher):
    """Delete the cache files of ``dispatcher``'s module if they were compiled from
    other kernel sources (see the module docstring); only its module's first kernel
    checks, before any of the module's kernels has been called."""
    stats = getattr(dispatcher, "stats", None)  # a plain function under NUMBA_DISABLE_JIT
    directory = getattr(stats, "cache_path", None)
    module = dispatcher.py_func.__module__ if directory else None
    if module is None or module in _checked_modules:
        return
    _checked_modules.add(module)
    stamp = os.path.join(directory, f"{module}.{DIGEST_FILE}")
    try:
        with open(stamp) as file:
            if file.read().strip() == _kernel_sources_digest():
                return
    except OSError:
        pass
    stem = os.path.splitext(os.path.basename(dispatcher.py_func.__code__.co_filename))[0]
    try:
        for path in glob.glob(os.path.join(glob.escape(directory), f"{stem}.*.nb[ic]")):
            os.remove(path)
        os.makedirs(directory, exist_ok=True)
        # written aside and renamed, so a process importing meanwhile never reads a
        # half-written digest (and deletes the cache again)
        partial = f"{stamp}.{os.getpid()}"
        with open(partial, "w") as file:
            file.write(_kernel_sources_digest())
        os.replace(partial, stamp)
    except OSError:  # a read-only cache: Numba will not save into it either
        pass


def gated(function, returns_sum=False):
    """``gate(flag, *args)``: ``function(*args)``, compiled only where ``flag`` is not None.

    Where ``flag`` is None (known from its type while compiling) the call compiles to
    nothing (to 0 in the dtype of the first argument, an array, for a function that
    ``returns_sum``) and ``function`` is never typed or compiled, so a model whose
    options never reach it does not pay its compile time. Built on Numba's documented
    ``@overload``, the choice follows the flag's type wherever the flag comes from (an
    argument, a field of a tuple, an inlined kernel); Numba's pruning of
    ``if x is None`` sees arguments alone. The wrapper sets the flags from the model's
    options (``train.features``), so a None flag means no code path reaches
    ``function``. ``function`` is a kernel compiled on its own (not ``inline=True``:
    Numba does not inline a call with ``*args``).
    """

    def gate(flag, *args):
        if flag is not None:
            return function(*args)
        return like(0, args[0]) if returns_sum else None

    @overload(gate)
    def _gate(flag, *args):
        if not isinstance(flag, types.NoneType):
            return lambda flag, *args: function(*args)
        if returns_sum:
            return lambda flag, *args: like(0, args[0])
        return lambda flag, *args: None

    gate.__name__ = gate.__qualname__ = f"gated_{function.__name__}"
    gate.__doc__ = f"``{function.__name__}(*args)`` where ``flag`` is not None (see ``gated``)."
    return gate


def compiled_as(function):
    """Register ``typer`` and ``codegen`` as the compiled form of the Python ``function``.

    ``typer(*argument_types)`` returns the call's signature (the arguments are cast to
    its parameter types before ``codegen`` sees them), or None where the function does
    not apply. Registered this way (Numba's documented ``type_callable`` and
    ``lower_builtin``, not ``@overload``) a helper is emitted straight into its
    caller's code: no function of its own to compile for each signature, which cost
    seconds of first-call compile time. The Python ``function`` stays what runs under
    ``NUMBA_DISABLE_JIT=1``.
    """

    def register(typer_and_codegen):
        typer, codegen = typer_and_codegen()

        @type_callable(function)
        def typing(context):
            return typer

        lower_builtin(function, types.VarArg(types.Any))(codegen)
        return function

    return register


def like(value, array):
    """``value`` as a scalar of the dtype of ``array`` (an array or a NumPy scalar).

    Numba types ``1 + float32`` as float64; writing ``like(1, Z) + z`` keeps float32
    kernels in float32.
    """
    return array.dtype.type(value)


@compiled_as(like)
def _like():
    def typer(value, array):
        dtype = getattr(array, "dtype", array)
        if isinstance(value, types.Number) and isinstance(dtype, types.Number):
            return dtype(dtype, array)  # Numba casts ``value`` to the dtype on the way in

    def codegen(context, builder, signature, args):
        return args[0]

    return typer, codegen


def view_2d(flat, start, rows, columns):
    """The C-ordered (rows, columns) view of ``flat[start:start + rows * columns]``.

    The compiled form is a *borrowed* view (an array struct over a pointer into
    ``flat``, with no meminfo, as ``numba.carray`` makes): it shares ``flat``'s memory but holds no reference to it, so making and
    dropping it costs no atomic reference counting and no call into Numba's ``reshape``
    helper (together more than a tiny layer's whole forward pass). It must not outlive
    ``flat``: kernels use such views only inside the call that received ``flat`` and
    never return one to Python. No bounds checks.
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


def element_pointer(array, index):
    """The address of element ``index`` of the C-ordered ``array`` (counted over its
    flattened elements): an int in Python, a typed pointer (``CPointer(dtype)``) in
    compiled code. The pointer holds no reference: ``array.ctypes`` would, and its
    reference counting (atomic, and not all removed by Numba's pruning) made the AND
    gate train about a third slower."""
    return array.ctypes.data + index * array.itemsize


@compiled_as(element_pointer)
def _element_pointer():
    def typer(array, index):
        if isinstance(array, types.Array) and array.layout == "C" and isinstance(
                index, types.Integer):
            return types.CPointer(array.dtype)(array, types.intp)

    def codegen(context, builder, signature, args):
        # the array argument's data pointer, from the array helper the lowering
        # context gives (as numba.carray's own lowering builds its array)
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.gep(data, [args[1]])

    return typer, codegen


# The compiled views: a typing rule and an array struct built in the caller's code, with
# no reference (null meminfo and parent), as ``numba.carray`` builds its result.
# Written as ``@overload``s around ``numba.carray`` instead, each view was a function
# returning a new reference, and the reference counting around them left the AND gate
# training at two thirds of its speed.
def _is_c_array(array, ndim):
    return isinstance(array, types.Array) and array.ndim == ndim and array.layout == "C"


def _borrowed_view(context, builder, view_type, data, shape):
    """A C-ordered array of ``view_type`` over ``data`` (a pointer) with extents
    ``shape`` (intp values), holding no reference."""
    intp = context.get_value_type(types.intp)
    itemsize = context.get_abi_sizeof(context.get_data_type(view_type.dtype))
    strides, stride = [], ir.Constant(intp, itemsize)
    for extent in reversed(shape):
        strides.insert(0, stride)
        stride = builder.mul(stride, extent)
    nitems = ir.Constant(intp, 1)
    for extent in shape:
        nitems = builder.mul(nitems, extent)

    def pack(values):
        packed = ir.Constant(ir.ArrayType(intp, len(values)), ir.Undefined)
        for i, value in enumerate(values):
            packed = builder.insert_value(packed, value, i)
        return packed

    view = context.make_array(view_type)(context, builder)
    view.meminfo = ir.Constant(context.get_value_type(types.MemInfoPointer(view_type.dtype)),
                               None)
    view.parent = ir.Constant(context.get_value_type(types.pyobject), None)
    view.nitems = nitems
    view.itemsize = ir.Constant(intp, itemsize)
    view.data = data
    view.shape = pack(shape)
    view.strides = pack(strides)
    # the struct's LLVM value: the accessor Numba's own documented low-level example
    # ("Example: an interval type", its lowering of the constructor) returns
    return view._getvalue()


def _source(context, builder, signature, args):
    """The first argument's array helper and its extents."""
    source = context.make_array(signature.args[0])(context, builder, args[0])
    extents = [builder.extract_value(source.shape, i) for i in range(signature.args[0].ndim)]
    return source, extents


@compiled_as(view_2d)
def _view_2d():
    def typer(flat, start, rows, columns):
        if _is_c_array(flat, 1):
            return flat.copy(ndim=2)(flat, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        source, _ = _source(context, builder, signature, args)
        return _borrowed_view(context, builder, signature.return_type,
                              builder.gep(source.data, [args[1]]), list(args[2:]))

    return typer, codegen


@compiled_as(view_1d)
def _view_1d():
    def typer(flat, start, length):
        if _is_c_array(flat, 1):
            return flat(flat, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        source, _ = _source(context, builder, signature, args)
        return _borrowed_view(context, builder, signature.return_type,
                              builder.gep(source.data, [args[1]]), [args[2]])

    return typer, codegen


@compiled_as(view_rows)
def _view_rows():
    def typer(array, start, rows):
        if _is_c_array(array, 2):
            return array(array, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        source, (_, columns) = _source(context, builder, signature, args)
        data = builder.gep(source.data, [builder.mul(args[1], columns)])
        return _borrowed_view(context, builder, signature.return_type, data,
                              [args[2], columns])

    return typer, codegen


@compiled_as(view_flat)
def _view_flat():
    def typer(array):
        if _is_c_array(array, 2):
            return array.copy(ndim=1)(array)

    def codegen(context, builder, signature, args):
        source, (rows, columns) = _source(context, builder, signature, args)
        return _borrowed_view(context, builder, signature.return_type, source.data,
                              [builder.mul(rows, columns)])

    return typer, codegen
