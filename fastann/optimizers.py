"""Optimizers: hyper-parameters, checked on creation, and the kernel code they select.

The update rules themselves are kernels (``fastann.kernels.optimizers``). Defaults
follow Keras. ``weight_decay`` adds ``weight_decay * w`` to every gradient (L2).
"""
import math

import numpy as np

from ._options import lookup
from .kernels import optimizers as kernel


def _check(name, value, low, high=math.inf, low_inclusive=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= low if low_inclusive else value > low)
    if not ok or value >= high:
        low_text = f">= {low}" if low_inclusive else f"> {low}"
        high_text = f" and < {high}" if high != math.inf else ""
        raise ValueError(f"{name} must be a finite number {low_text}{high_text}; got {value!r}")
    return float(value)


class Optimizer:
    """Base: a learning rate and a hyper-parameter vector for the update kernel."""

    code = None
    name = None

    def __init__(self, lr, weight_decay, learning_rate=None):
        if learning_rate is not None:
            lr = learning_rate
        self.lr = _check(f"{type(self).__name__} lr", lr, 0)
        self.weight_decay = _check("weight_decay", weight_decay, 0, low_inclusive=True)

    def hyper(self, dtype):
        """The (kernel.N_HYPER,) vector the update kernel reads."""
        values = np.zeros(kernel.N_HYPER, dtype)
        values[kernel.WEIGHT_DECAY] = self.weight_decay
        self._fill(values)
        return values

    def _fill(self, values):
        pass

    def get_config(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as Keras' SGD."""

    code, name = kernel.SGD, "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, *,
                 learning_rate=None):
        super().__init__(lr, weight_decay, learning_rate)
        self.momentum = _check("momentum", momentum, 0, 1, low_inclusive=True)
        self.nesterov = bool(nesterov)

    def _fill(self, values):
        values[kernel.MOMENTUM] = self.momentum
        values[kernel.NESTEROV] = self.nesterov


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as Keras' Adam."""

    code, name = kernel.ADAM, "adam"

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None):
        super().__init__(lr, weight_decay, learning_rate)
        self.beta_1 = _check("beta_1", beta_1, 0, 1, low_inclusive=True)
        self.beta_2 = _check("beta_2", beta_2, 0, 1, low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.BETA_1] = self.beta_1
        values[kernel.BETA_2] = self.beta_2
        values[kernel.EPSILON] = self.epsilon


class RMSprop(Optimizer):
    """RMSprop, as Keras' (uncentred, no momentum): w -= lr * g / sqrt(ms + epsilon)."""

    code, name = kernel.RMSPROP, "rmsprop"

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None):
        super().__init__(lr, weight_decay, learning_rate)
        self.rho = _check("rho", rho, 0, 1, low_inclusive=True)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _fill(self, values):
        values[kernel.RHO] = self.rho
        values[kernel.EPSILON] = self.epsilon


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop)}


def get(optimizer):
    """An ``Optimizer`` from an instance or a name (which gives the defaults)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    return lookup(OPTIMIZERS, optimizer, "optimizer")()
