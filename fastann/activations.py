"""The activation table: name → kernel code and what training may do with it."""
from dataclasses import dataclass

from ._options import lookup
from .kernels import activations as codes


@dataclass(frozen=True)
class Activation:
    name: str
    code: int
    trainable: bool = True  # has a useful derivative


ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("linear", codes.LINEAR),
        Activation("relu", codes.RELU),
        Activation("leaky_relu", codes.LEAKY_RELU),
        Activation("sigmoid", codes.SIGMOID),
        Activation("tanh", codes.TANH),
        Activation("softmax", codes.SOFTMAX),
        Activation("step", codes.STEP, trainable=False),
    )
}
ACTIVATIONS["identity"] = ACTIVATIONS["linear"]
ACTIVATIONS[None] = ACTIVATIONS["linear"]


def get(name):
    """The ``Activation`` called ``name`` (None means linear)."""
    if name is None:
        return ACTIVATIONS[None]
    return lookup({k: v for k, v in ACTIVATIONS.items() if k is not None}, name, "activation")
