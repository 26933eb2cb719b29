"""Layer descriptions: pure data, checked on creation. The math is in ``fastann.kernels``."""
from dataclasses import KW_ONLY, dataclass

from . import activations, initializers, regularizers


@dataclass(frozen=True)
class Dense:
    """A fully-connected layer: ``activation(inputs @ W + b)``, Keras' signature.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str or None
        A name of ``fastann.activations.ACTIVATIONS``; None means linear. ``step`` is
        inference only (it has no useful gradient).
    use_bias : bool, default True
        Whether the layer adds a bias vector b (n_out,).
    kernel_initializer : str or fastann.initializers.Initializer, default "glorot_uniform"
        How W (n_in, n_out) is drawn; see ``fastann.initializers``.
    bias_initializer : str or fastann.initializers.Initializer, default "zeros"
        How b (n_out,) is drawn.
    kernel_regularizer, bias_regularizer : None, str or fastann.regularizers.Regularizer
        Penalties on W and b added to the loss (``"l1"``, ``"l2"``, ``"l1_l2"``,
        ``L2(0.01)``, ...). Stored as Regularizer objects (or None).
    init_scale : float, keyword-only
        Standard deviation for ``scaled_normal``.
    negative_slope : float, keyword-only
        Slope of ``leaky_relu`` for negative inputs (Keras' default, 0.2).
    """

    units: int
    activation: str = None
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"
    kernel_regularizer: regularizers.Regularizer = None
    bias_regularizer: regularizers.Regularizer = None
    _: KW_ONLY
    init_scale: float = 0.01
    negative_slope: float = 0.2

    def __post_init__(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ValueError(f"Dense units must be a positive int; got {self.units!r}")
        activations.get(self.activation)
        if not isinstance(self.use_bias, bool):
            raise TypeError(f"Dense use_bias must be True or False; got {self.use_bias!r}")
        initializers.get(self.kernel_initializer, "kernel_initializer")
        initializers.get(self.bias_initializer, "bias_initializer")
        for field in ("kernel_regularizer", "bias_regularizer"):
            object.__setattr__(self, field, regularizers.get(getattr(self, field), field))
        if not self.init_scale > 0:
            raise ValueError(f"Dense init_scale must be > 0; got {self.init_scale!r}")
        if not 0 <= self.negative_slope < 1:
            raise ValueError(f"Dense negative_slope must be in [0, 1); got {self.negative_slope!r}")

    @property
    def activation_spec(self):
        return activations.get(self.activation)
