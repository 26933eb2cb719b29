"""Input checks shared by the Model's methods. Each returns an array in the model's dtype
(C-contiguous, aligned, writeable, native byte order: the one array type the compiled
kernels are specialised for) or raises an error that names the argument, what was
expected and what came.

What a caller may hand in: lists, NumPy arrays of any numeric or bool dtype, byte order
and memory layout (Fortran order, strided views, read-only arrays are copied as needed,
never written to), pandas DataFrames and Series (mixed, bool and nullable ``Int64``/
``Float64`` columns included, as scikit-learn's ``check_array`` reads them), object
arrays holding only numbers, masked arrays without masked entries. Refused: masked
entries (their hidden values would silently be used), SciPy sparse matrices, string,
datetime, timedelta and other object data, NaN, NA or infinity, and values beyond the
range of the model's dtype (a float64 1e39 given to a float32 model would become inf).
``hyper_in_dtype`` makes the same check for options (epsilons, clipping, penalties).
"""
import numbers

import numpy as np


def flag(label, value, error=TypeError):
    """``value`` as a bool (NumPy's bools too), or ``error`` naming ``label``."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{label} must be True or False; got {value!r}")
    return bool(value)


def positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        expected = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return int(value)


def _numeric(name, value):
    """``value`` as a real, finite NumPy array (not yet converted to any dtype)."""
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.ma.getmaskarray(value).sum())
        if masked:
            raise ValueError(f"{name} is a masked array with {masked} masked entries; "
                             "fastann does not skip masked values. Fill them "
                             "(value.filled(...)) or drop those rows first")
        value = value.data
    if not isinstance(value, np.ndarray) and callable(getattr(value, "toarray", None)) \
            and hasattr(value, "nnz"):
        raise TypeError(f"{name} must be a dense array; got a sparse "
                        f"{type(value).__name__} (convert it with .toarray())")
    if _is_pandas(value):
        return _numeric(name, _from_pandas(name, value))
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged lists, unconvertible objects
        raise ValueError(f"{name} cannot be read as a numeric array: {error}") from None
    if array.dtype == object:
        array = _object_numbers(name, array)
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got dtype {array.dtype}")
    if array.dtype.kind not in NUMERIC_KINDS:  # strings, datetime64, timedelta64, records
        raise TypeError(f"{name} must be numeric (a list or array of numbers); got dtype "
                        f"{array.dtype}")
    bad = count_nonfinite(array)
    if bad:
        raise ValueError(f"{name} contains NaN or infinite values ({bad} of {array.size})")
    return array


NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: what the model's dtype can take


def _is_pandas(value):
    return type(value).__module__.partition(".")[0] == "pandas" and hasattr(value,
                                                                             "to_numpy")


def _from_pandas(name, value):
    """A pandas DataFrame, Series, Index or array as NumPy, as scikit-learn's
    ``check_array`` reads it: columns of NumPy dtypes in their common type (a view
    where pandas holds one block of it), pandas' nullable ``Int64``/``Float64``/
    ``boolean`` (and Arrow) columns as float with NA as NaN, refused below like any NaN."""
    dtypes = list(value.dtypes) if hasattr(value, "columns") else [value.dtype]
    as_numpy = [getattr(dtype, "numpy_dtype", dtype) for dtype in dtypes]
    for position, (dtype, numpy_dtype) in enumerate(zip(dtypes, as_numpy)):
        if not (isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in NUMERIC_KINDS):
            column = f" column {value.columns[position]!r}" if hasattr(value, "columns") \
                else ""
            raise TypeError(f"{name} must be numeric (a list or array of numbers); its"
                            f"{column} dtype is {dtype}")
    if not dtypes:
        return value.to_numpy(dtype=np.float64)
    if all(isinstance(dtype, np.dtype) for dtype in dtypes):
        return value.to_numpy(dtype=np.result_type(*dtypes))
    return value.to_numpy(dtype=np.result_type(np.float64, *as_numpy), na_value=np.nan)


def _object_numbers(name, array):
    """An object array that holds only real numbers and bools (what ``DataFrame.values``
    gives for mixed columns) as float64; anything else in it is a TypeError."""
    for item in array.flat:
        if isinstance(item, (str, bytes)) or not isinstance(item, (numbers.Real, np.bool_)):
            raise TypeError(f"{name} must be numeric (a list or array of numbers); got dtype "
                            f"object holding {type(item).__name__} {item!r:.60}")
    try:
        return array.astype(np.float64)
    except OverflowError:  # a Python int beyond float64
        raise ValueError(f"{name} holds an integer beyond the range of float64") from None


# Elements per block of count_nonfinite's pass: its boolean mask is this many bytes
# (a mask of the whole input would be a quarter of a float32 input's size).
FINITE_BLOCK = 2 ** 16


def count_nonfinite(array):
    """How many elements of ``array`` are NaN or infinite, reading it in place.

    A finite sum proves every element finite (a NaN or inf term makes it NaN or inf),
    and the sum allocates nothing input-sized; only when it is not finite (a bad value,
    or finite values that overflowed the sum) are the bad values counted, block by
    block along the first axis, so no mask bigger than ``FINITE_BLOCK`` is made."""
    if array.dtype.kind not in "fc" or array.size == 0:  # bool and int: always finite
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return 0
    if array.ndim == 0:
        return int(not np.isfinite(array))
    rows = max(1, FINITE_BLOCK // max(1, array.size // array.shape[0]))
    return sum(int(np.count_nonzero(~np.isfinite(array[first:first + rows])))
               for first in range(0, array.shape[0], rows))


def in_dtype(name, array, dtype):
    """A finite array as ``dtype``, refusing values that the dtype cannot hold (they
    would become inf), and copying only when the layout or type needs it: a read-only
    array (a ``np.memmap`` opened with mode "r") is read in place, never copied."""
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore"):  # overflow is detected below, with a better message
        converted = np.require(array, dtype=dtype, requirements=["C", "A"])
    if array.dtype.kind == "f" and array.dtype.itemsize > dtype.itemsize and \
            count_nonfinite(converted):
        largest = max(-float(array.min()), float(array.max()))  # no temporary array
        raise ValueError(f"{name} holds values beyond the range of {dtype.name} (up to "
                         f"{largest!r} in magnitude; {dtype.name} holds up to "
                         f"{float(np.finfo(dtype).max)!r}); scale them, or use a float64 "
                         "model")
    return converted


def numeric_in_dtype(name, value, dtype):
    """``_numeric`` then ``in_dtype``."""
    return in_dtype(name, _numeric(name, value), dtype)


def features(name, X, dtype, n_features=None):
    """X as a C-contiguous (n_samples, n_features) array of ``dtype``."""
    X = _numeric(name, X)
    if X.ndim != 2:
        hint = " (reshape a single sample with X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D, (n_samples, n_features); got shape "
                         f"{X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {X.shape}); a model needs at least "
                         "one input column")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features but the model expects "
                         f"{n_features} (input_dim)")
    return in_dtype(name, X, dtype)


def targets(name, y, n_samples, loss, n_out, dtype):
    """y encoded for ``loss`` as a C-contiguous (n_samples, n_out) array of ``dtype``."""
    y = _numeric(name, y)
    if y.ndim == 0 or y.shape[0] != n_samples:
        got = "a scalar" if y.ndim == 0 else f"{y.shape[0]} rows"
        raise ValueError(f"{name} must have one row per sample of X ({n_samples}); got {got}")
    if y.dtype.kind == "f" and y.dtype.itemsize > np.dtype(dtype).itemsize:
        in_dtype(name, y, dtype)  # only to refuse values the dtype cannot hold
    encoded = loss.encode_targets(y, n_out, dtype)
    return in_dtype(name, encoded, dtype)


def sample_weights(name, weights, n_samples, dtype):
    if weights is None:
        return np.ones(n_samples, dtype)
    weights = _numeric(name, weights)
    if weights.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), one weight per sample; got "
                         f"{weights.shape}")
    weights = in_dtype(name, weights, dtype)
    with np.errstate(over="ignore"):  # negative weights are taken, as Keras takes them
        total = np.abs(weights).sum(dtype=weights.dtype)
    if not np.isfinite(total):
        raise ValueError(f"{name} sums to more than {weights.dtype.name} holds (the loss is "
                         "their weighted sum); scale the weights down")
    return weights


def finite_results(action, name, values, remedy="scale the inputs, or use a float64 model"):
    """Refuse outputs or scores that overflowed the model's dtype inside the kernels
    (finite inputs and weights can still overflow when multiplied)."""
    values = np.asarray(values)
    bad = count_nonfinite(values)
    if bad:
        raise ValueError(f"{action}: {bad} of {values.size} values computed from {name} "
                         f"overflowed {values.dtype.name} to inf or NaN; {remedy}")


def class_weights(class_weight, Y, loss_name, dtype):
    """Per-sample weights from a {class: weight} dict, for encoded targets Y (n, n_out)."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class: weight}}; got "
                        f"{type(class_weight).__name__}")
    if loss_name == "binary_crossentropy" and Y.shape[1] == 1:
        classes, n_classes = Y[:, 0].astype(np.int64), 2
    elif loss_name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        classes, n_classes = Y.argmax(axis=1), Y.shape[1]
    else:
        raise ValueError(f"class_weight needs a classification loss with one class per sample; "
                         f"got loss {loss_name!r}")
    table = np.ones(n_classes, dtype)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, numbers.Integral) or not (
                0 <= label < n_classes):
            raise ValueError(f"class_weight keys must be class labels 0..{n_classes - 1}; "
                             f"got {label!r}")
        if not (isinstance(weight, numbers.Real) and np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{label}] must be a finite number >= 0; got {weight!r}")
        if float(weight) > float(np.finfo(dtype).max):  # a float32 weight: compared as float
            raise ValueError(f"class_weight[{label}] = {weight!r} is beyond the range of "
                             f"{np.dtype(dtype).name}")
        table[label] = weight
    return table[classes]


def hyper_in_dtype(name, value, dtype):
    """``value`` (a number, or an array of them) cast to the model's ``dtype``, refusing
    what the cast would change silently: NaN, infinity, a value beyond the dtype's range
    (it would become inf) and a nonzero value too small for it (it would become 0).
    ``name``: the option, as the error names it; for an array, a function of an
    element's index giving its name."""
    dtype = np.dtype(dtype)
    if isinstance(value, numbers.Real):  # the common case, without temporary arrays
        magnitude = abs(float(value))
        info = np.finfo(dtype)
        if magnitude <= float(info.max) and (magnitude >= float(info.smallest_subnormal)
                                             or magnitude == 0):
            return dtype.type(value)
    values = np.asarray(value, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        cast = values.astype(dtype)
    lost = ~np.isfinite(cast) | ((cast == 0) & (values != 0))
    if not lost.any():
        return cast if values.ndim else cast[()]
    index = tuple(int(i) for i in np.argwhere(lost)[0])
    given = float(values[index])
    label = name(index) if callable(name) else name
    if not np.isfinite(given):
        raise ValueError(f"{label} must be a finite number; got {given!r}")
    info = np.finfo(dtype)
    raise ValueError(f"{label} = {given!r} is beyond the range of {dtype.name}, whose "
                     f"nonzero magnitudes run from {float(info.smallest_subnormal)!r} to "
                     f"{float(info.max)!r} (it would become {float(cast[index])!r}); choose "
                     "a value in that range, or use a float64 model")
