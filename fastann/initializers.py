"""Weight initialisers: name → function drawing W (n_in, n_out) from the model's generator.

Every initialiser draws from one ``numpy.random.RandomState`` seeded by the model's
``seed``, layer after layer, so a seed fixes every weight. ``scaled_normal`` draws in
the tutorials' (n_out, n_in) order, so with seed 42 it reproduces their weights exactly.
Biases start at zero.
"""
import numpy as np

from ._options import lookup


def glorot_uniform(random, n_in, n_out, scale):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return random.uniform(-limit, limit, size=(n_in, n_out))


def he_normal(random, n_in, n_out, scale):
    """Truncated normal (re-drawn beyond two standard deviations), as Keras does."""
    stddev = np.sqrt(2.0 / n_in) / 0.87962566103423978
    values = random.standard_normal((n_in, n_out))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = random.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values * stddev


def scaled_normal(random, n_in, n_out, scale):
    return random.randn(n_out, n_in).T * scale


INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "scaled_normal": scaled_normal,
}


def get(name):
    return lookup(INITIALIZERS, name, "kernel_initializer")
