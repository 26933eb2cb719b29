"""Keras' ``keras.utils`` helpers that fastann has: ``set_random_seed``,
``to_categorical``, ``normalize`` and ``clear_session``; Keras' others raise
NotSupportedError."""
import numbers
import random

import numpy as np

from ._errors import keras_only
from .backend import clear_session  # noqa: F401 (Keras has it in both namespaces)

_seed_stream = None  # set by set_random_seed: where models without a seed draw theirs


def set_random_seed(seed):
    """Seed Python's ``random``, NumPy's global generator and fastann, as Keras'
    ``keras.utils.set_random_seed`` does.

    Every model created afterwards without an explicit ``seed`` takes the next seed of a
    stream started from ``seed``, so a program that calls this first builds and trains
    bit for bit the same networks on every run.

    Parameters
    ----------
    seed : int in [0, 2**32)
    """
    global _seed_stream
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
            0 <= seed < 2**32):
        raise ValueError(f"set_random_seed seed must be an int in [0, 2**32); got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    _seed_stream = np.random.default_rng(int(seed))


def draw_seed():
    """A model's seed when none is given: the next of ``set_random_seed``'s stream, or
    fresh entropy if it was never called."""
    if _seed_stream is None:
        return int(np.random.SeedSequence().entropy % 2**32)
    return int(_seed_stream.integers(0, 2**32))


def to_categorical(x, num_classes=None):
    """One-hot rows (n, num_classes) of float32 from integer class labels (n,), as Keras'.

    Parameters
    ----------
    x : array-like of int, (n,)
    num_classes : int, optional
        Default: ``max(x) + 1``.
    """
    labels = np.asarray(x)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.number) \
            or (labels != np.round(labels)).any() or (labels < 0).any():
        raise ValueError("to_categorical x must be non-negative integer labels of shape "
                         f"(n,); got shape {labels.shape}, dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or \
            num_classes <= labels.max():
        raise ValueError(f"to_categorical num_classes must be an int > max(x) = "
                         f"{labels.max()}; got {num_classes!r}")
    out = np.zeros((labels.shape[0], int(num_classes)), np.float32)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as 1, so
    all-zero rows stay zero), as Keras' ``keras.utils.normalize`` on a NumPy array.

    Parameters
    ----------
    x : array-like of floats
    axis : int
    order : int or float, the norm's order (``numpy.linalg.norm``'s ``ord``)
    """
    values = np.asarray(x)
    if not np.issubdtype(values.dtype, np.number) or values.ndim == 0:
        raise ValueError(f"normalize x must be a numeric array of at least one dimension; "
                         f"got shape {values.shape}, dtype {values.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or \
            not -values.ndim <= axis < values.ndim:
        raise ValueError(f"normalize axis must be an int in [{-values.ndim}, {values.ndim}); "
                         f"got {axis!r}")
    norm = np.atleast_1d(np.linalg.norm(values, order, int(axis)))
    norm[norm == 0] = 1
    return values / np.expand_dims(norm, int(axis))


KERAS_ONLY = frozenset("""
Config CustomObjectScope FeatureSpace Progbar PyDataset Sequence array_to_img
audio_dataset_from_directory bounding_boxes custom_object_scope deserialize_keras_object
disable_interactive_logging enable_interactive_logging get_custom_objects get_file
get_registered_name get_registered_object get_source_inputs image_dataset_from_directory
img_to_array is_interactive_logging_enabled is_keras_tensor legacy load_img model_to_dot
pack_x_y_sample_weight pad_sequences plot_model register_keras_serializable save_img
serialize_keras_object split_dataset standardize_dtype text_dataset_from_directory
timeseries_dataset_from_array unpack_x_y_sample_weight
""".split())
__getattr__ = keras_only(__name__, "utility", KERAS_ONLY,
                         "fastann.utils has set_random_seed, to_categorical, normalize and "
                         "clear_session (fastann.plot_history plots a History)")
