"""Layer descriptions: pure data, checked on creation. The math is in ``fastann.kernels``."""
import math
import numbers
from dataclasses import dataclass

from . import _checks, activations, initializers


@dataclass(frozen=True)
class Dense:
    """A fully-connected layer: ``activation(inputs @ W + b)``.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str or None
        One of ``linear`` (None), ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``,
        ``softmax`` or ``step`` (inference only: it has no useful gradient).
    kernel_initializer : str
        ``glorot_uniform`` (default), ``he_normal``, or ``scaled_normal`` (the tutorials'
        ``randn * init_scale``).
    init_scale : float
        Standard deviation for ``scaled_normal``.
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs (Keras' default, 0.2).
    """

    units: int
    activation: str = None
    kernel_initializer: str = "glorot_uniform"
    init_scale: float = 0.01
    negative_slope: float = 0.2

    def __post_init__(self):
        # numpy scalars (np.int64(4), np.float32(0.1)) are accepted and stored as Python's
        object.__setattr__(self, "units", _checks.positive_int("Dense units", self.units))
        activations.get(self.activation)
        initializers.get(self.kernel_initializer)
        for name in ("init_scale", "negative_slope"):
            value = getattr(self, name)
            try:
                number = float(value) if isinstance(value, numbers.Real) else math.nan
            except OverflowError:  # an int beyond float's range
                number = math.inf
            if isinstance(value, bool) or not math.isfinite(number):
                raise ValueError(f"Dense {name} must be a finite number; got {value!r}")
            object.__setattr__(self, name, number)
        if not self.init_scale > 0:
            raise ValueError(f"Dense init_scale must be > 0; got {self.init_scale!r}")
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Dense negative_slope must be in [0, 1); got {self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)
