"""Keras' ``keras.backend`` helpers that mean something for fastann: ``clear_session``,
``floatx``, ``epsilon`` and ``image_data_format``. Its other names raise
NotSupportedError: fastann has one backend, its compiled kernels, and a model's dtype
is its own ``dtype=`` argument."""
import gc
import inspect

from . import layers, reference
from ._errors import keras_only


def clear_session(free_memory=True):
    """Forget fastann's global state, as Keras' ``clear_session``: the automatic layer
    names start again (``dense``, ``dense_1``, ...). Models keep their weights, and the
    seed stream of ``utils.set_random_seed`` goes on. ``free_memory`` runs Python's
    garbage collector, as in Keras."""
    layers.clear_names()
    if free_memory:
        gc.collect()


def floatx():
    """The dtype of a model given no ``dtype=``: ``"float32"``, as Keras' default."""
    from .model import Model

    return inspect.signature(Model).parameters["dtype"].default


def epsilon():
    """The fuzz factor fastann's losses clip by (1e-7), as Keras'."""
    return reference.EPSILON


def image_data_format():
    """``"channels_last"``: the order in which ``Flatten`` flattens a sample."""
    return "channels_last"


KERAS_ONLY = frozenset("""
backend get_uid is_float_dtype is_int_dtype is_keras_tensor result_type set_epsilon
set_floatx set_image_data_format standardize_dtype
""".split())
__getattr__ = keras_only(__name__, "backend function", KERAS_ONLY,
                         "a fastann model's dtype is its dtype= argument; fastann.backend has "
                         "clear_session, floatx, epsilon, image_data_format")
