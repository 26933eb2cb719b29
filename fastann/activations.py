"""The activation table: name → kernel code and what training may do with it."""
from dataclasses import dataclass

from ._options import lookup
from .kernels import activations as codes


@dataclass(frozen=True)
class Activation:
    name: str
    code: int
    trainable: bool = True  # has a useful derivative
    kinks: tuple = ()  # inputs where the derivative jumps (gradient checks avoid them)


ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("linear", codes.LINEAR),
        Activation("relu", codes.RELU, kinks=(0.0,)),
        Activation("leaky_relu", codes.LEAKY_RELU, kinks=(0.0,)),
        Activation("sigmoid", codes.SIGMOID),
        Activation("tanh", codes.TANH),
        Activation("softmax", codes.SOFTMAX),
        Activation("step", codes.STEP, trainable=False, kinks=(0.0,)),
        Activation("elu", codes.ELU),  # alpha 1: the derivative is continuous
        Activation("selu", codes.SELU, kinks=(0.0,)),
        Activation("gelu", codes.GELU),
        Activation("softplus", codes.SOFTPLUS),
        Activation("softsign", codes.SOFTSIGN),
        Activation("swish", codes.SWISH),
        Activation("hard_sigmoid", codes.HARD_SIGMOID, kinks=(-3.0, 3.0)),
        Activation("relu6", codes.RELU6, kinks=(0.0, 6.0)),
        Activation("exponential", codes.EXPONENTIAL),
        Activation("mish", codes.MISH),
    )
}
ACTIVATIONS["identity"] = ACTIVATIONS["linear"]
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]


def names(trainable_only=False):
    """The distinct activations' canonical names, in table order (for test grids)."""
    seen = []
    for key, spec in ACTIVATIONS.items():
        if key is not None and spec.name not in seen and (spec.trainable or not trainable_only):
            seen.append(spec.name)
    return seen
ACTIVATIONS[None] = ACTIVATIONS["linear"]


def get(name):
    """The ``Activation`` called ``name`` (None means linear)."""
    if name is None:
        return ACTIVATIONS[None]
    return lookup({k: v for k, v in ACTIVATIONS.items() if k is not None}, name, "activation")
