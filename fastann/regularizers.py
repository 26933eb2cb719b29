"""Weight regularizers, as ``keras.regularizers``: a penalty added to the loss that
``fit`` minimises and reports (and to ``evaluate``'s and ``val_loss``), and its gradient.

==============  ===========================================  ===========================
regularizer     penalty of a weight array ``w``              gradient
==============  ===========================================  ===========================
L1(l1=0.01)     ``l1 * sum(|w|)``                            ``l1 * sign(w)``
L2(l2=0.01)     ``l2 * sum(w**2)``                           ``2 * l2 * w``
L1L2(l1, l2)    the sum of both (defaults 0.0, 0.0)
BatchMeanL2     ``0.5 * alpha * sum(w**2) / batch_rows``      ``alpha * w / batch_rows``
==============  ===========================================  ===========================

``BatchMeanL2(alpha)`` is a fastann extension: scikit-learn MLP's objective term, whose
penalty is divided by the number of rows of the current mini-batch (a last, shorter batch
is penalised more) and, in ``evaluate`` and validation, by the number of rows scored. The
scikit-learn estimators put it on every layer's kernel.

A regularizer is given to ``Dense(kernel_regularizer=..., bias_regularizer=...)`` as an
instance, a name (``"l1"``, ``"l2"``, ``"l1_l2"``: the defaults), or a config dict
``{"class_name": "L2", "config": {"l2": 0.01}}``. Inside the kernels a layer's
regularizers are one row of coefficients (``fastann.kernels.regularizers``), computed in
the fused loop with nothing allocated. As in Keras, a regularizer object can also be
called on an array to get its penalty (``L2(0.1)(w)``), and Keras' spellings
``regularizers.l1``, ``l2``, ``l1_l2`` are the classes. Keras' ``OrthogonalRegularizer``
raises NotSupportedError.
"""
import math
import numbers

import numpy as np

from . import _checks
from ._errors import NotSupportedError, callable_refused, keras_only
from ._options import Configured
from .kernels import regularizers as kernel


def _coefficient(owner, name, value):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{owner} {name} must be a finite number >= 0; got {value!r}")
    return float(value)


class Regularizer(Configured):
    """Base class: ``l1``, ``l2`` and ``batch_l2`` coefficients, what the kernel reads."""

    _fields = ()

    def coefficients(self):
        """(l1, l2, batch_l2): this regularizer's row in the kernel's table."""
        return (getattr(self, "l1", 0.0), getattr(self, "l2", 0.0),
                getattr(self, "alpha", 0.0))

    def __call__(self, x, batch_rows=1):
        """The penalty of the weight array ``x`` (``batch_rows`` is BatchMeanL2's divisor)."""
        x = np.asarray(x, np.float64)
        l1, l2, batch_l2 = self.coefficients()
        return float(l1 * np.abs(x).sum() + (l2 + 0.5 * batch_l2 / batch_rows) * (x * x).sum())


class L1(Regularizer):
    """``l1 * sum(|w|)``; gradient ``l1 * sign(w)`` (0 at 0).

    Parameters
    ----------
    l1 : float >= 0, default 0.01
    """

    _fields = ("l1",)

    def __init__(self, l1=0.01):
        self.l1 = _coefficient("L1", "l1", l1)


class L2(Regularizer):
    """``l2 * sum(w**2)``; gradient ``2 * l2 * w``.

    Parameters
    ----------
    l2 : float >= 0, default 0.01
    """

    _fields = ("l2",)

    def __init__(self, l2=0.01):
        self.l2 = _coefficient("L2", "l2", l2)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``.

    Parameters
    ----------
    l1, l2 : float >= 0, default 0.0
    """

    _fields = ("l1", "l2")

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coefficient("L1L2", "l1", l1)
        self.l2 = _coefficient("L1L2", "l2", l2)


class BatchMeanL2(Regularizer):
    """scikit-learn MLP's L2 term (a fastann extension): ``0.5 * alpha * sum(w**2) /
    batch_rows``, gradient ``alpha * w / batch_rows``, ``batch_rows`` being the rows of
    the current mini-batch (in ``evaluate`` and validation: the rows scored); under a
    loss reduced by the batch's weight sum (``reduction="mean_with_sample_weight"``)
    or not at all ("sum") in training, divided as that loss is.

    Parameters
    ----------
    alpha : float >= 0
    """

    _fields = ("alpha",)

    def __init__(self, alpha):
        self.alpha = _coefficient("BatchMeanL2", "alpha", alpha)


REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2,
                "batch_mean_l2": BatchMeanL2}
CLASSES = {cls.__name__: cls for cls in (L1, L2, L1L2, BatchMeanL2)}
l1, l2, l1_l2 = L1, L2, L1L2  # Keras' spellings: regularizers.l2(0.01) is an L2


def get(identifier, argument="regularizer"):
    """A ``Regularizer`` (or None) from None, an instance, a name or a config dict.

    ``argument`` names the option in error messages (e.g. ``kernel_regularizer``).
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        identifier = identifier.__name__  # a class: its defaults, as Keras builds it
    if isinstance(identifier, str):
        cls = REGULARIZERS.get(identifier.lower()) or CLASSES.get(identifier)
        if cls is None:
            valid = ", ".join(repr(n) for n in sorted(REGULARIZERS) + sorted(CLASSES))
            raise ValueError(f"unknown {argument} {identifier!r}; expected one of {valid}, "
                             "a fastann.regularizers instance or None")
        if cls is BatchMeanL2:
            raise ValueError(f"{argument} 'batch_mean_l2' needs its alpha: pass "
                             "fastann.regularizers.BatchMeanL2(alpha)")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        raise callable_refused(identifier, argument, sorted(REGULARIZERS))
    raise TypeError(f"{argument} must be None, a name ('l1', 'l2', 'l1_l2'), a config dict "
                    f"or a fastann.regularizers.Regularizer; got {type(identifier).__name__} "
                    f"{identifier!r}")


def serialize(regularizer):
    """{"class_name": ..., "config": {...}} (None for None), as Keras writes it."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config, custom_objects=None):
    """The regularizer ``serialize`` described; only fastann's own classes are built
    (``custom_objects`` must be None)."""
    if custom_objects:
        raise NotSupportedError("custom_objects", "the kernels compute fastann's "
                                "regularizers only")
    if not isinstance(config, dict) or set(config) - {"class_name", "config", "module",
                                                      "registered_name"}:
        raise ValueError(f"a regularizer config must be a dict with 'class_name' and "
                         f"'config'; got {config!r}")
    name = config.get("class_name")
    cls = CLASSES.get(name) or (REGULARIZERS.get(name.lower()) if isinstance(name, str)
                                else None)
    if cls is None:
        raise ValueError(f"unknown regularizer class_name {name!r}; expected one of "
                         f"{sorted(CLASSES)}")
    return cls.from_config(config.get("config", {}))


def coefficient_table(layers, dtype):
    """The (n_layers, kernels.regularizers.N_COEFFICIENTS) table of ``dtype`` the
    training and inference kernels read, from each Dense's regularizers."""
    table = np.zeros((len(layers), kernel.N_COEFFICIENTS), dtype)
    for row, layer in zip(table, layers):
        kernel_reg = getattr(layer, "kernel_regularizer", None)
        bias_reg = getattr(layer, "bias_regularizer", None)
        for what, regularizer, columns in (
                ("kernel_regularizer", kernel_reg,
                 [kernel.KERNEL_L1, kernel.KERNEL_L2, kernel.KERNEL_BATCH_L2]),
                ("bias_regularizer", bias_reg if getattr(layer, "use_bias", True) else None,
                 [kernel.BIAS_L1, kernel.BIAS_L2, kernel.BIAS_BATCH_L2])):
            if regularizer is not None:  # refusing what the dtype cannot hold
                row[columns] = _checks.hyper_in_dtype(
                    lambda i, what=what: f"{layer.name} {what} "
                                         f"{('l1', 'l2', 'batch l2')[i[0]]}",
                    get(regularizer).coefficients(), dtype)
    table.setflags(write=False)
    return table


KERAS_ONLY = frozenset({"OrthogonalRegularizer", "orthogonal_regularizer"})
__getattr__ = keras_only(__name__, "regularizer", KERAS_ONLY,
                         "fastann's regularizers: L1, L2, L1L2, BatchMeanL2")
