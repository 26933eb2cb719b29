"""Weight penalties added to the loss and to its gradient inside the training loop.

Every layer has one row of coefficients in ``coefficients`` (n_layers, N_COEFFICIENTS),
in the model's dtype: an L1 and an L2 coefficient for its kernel W and for its bias b,
and a *batch-mean* L2 coefficient (scikit-learn MLP's ``alpha``) whose penalty is divided
by the number of rows of the batch being scored. A layer's penalty is

    l1 * sum(|w|) + (l2 + 0.5 * batch_l2 / rows) * sum(w ** 2)

and its gradient ``l1 * sign(w) + 2 * (l2 + 0.5 * batch_l2 / rows) * w``. A row of zeros
costs one comparison per layer.
"""
import numpy as np

from ._jit import kernel, like
from .network import B_OFFSET, N_IN, N_OUT, W_OFFSET

# Columns of the coefficient table.
KERNEL_L1, KERNEL_L2, KERNEL_BATCH_L2, BIAS_L1, BIAS_L2, BIAS_BATCH_L2 = range(6)
N_COEFFICIENTS = 6


@kernel(inline=True)
def block_penalty(grads, params, start, size, l1, l2, with_gradient):
    """Return l1 * sum|w| + l2 * sum(w**2) over params[start:start + size]; with
    ``with_gradient``, add l1 * sign(w) + 2 * l2 * w to the same entries of grads.

    grads, params: (n_params,).
    """
    zero = like(0, params)
    total = zero
    if l1 == zero and l2 == zero:
        return total
    two_l2 = l2 + l2
    for i in range(start, start + size):
        w = params[i]
        total += l1 * abs(w) + l2 * w * w
        if with_gradient:
            grads[i] += l1 * np.sign(w) + two_l2 * w
    return total


@kernel(inline=True)
def add_penalty(grads, params, layers, coefficients, inverse_rows, with_gradient):
    """Return the penalty of every layer's regularizers, the batch-mean terms scaled by
    ``inverse_rows`` (1 / rows scored); with ``with_gradient`` add its gradient to grads.

    grads, params: (n_params,); layers: the network table (n_layers, network.N_COLUMNS);
    coefficients: (n_layers, N_COEFFICIENTS).
    """
    half = like(0.5, params)
    total = like(0, params)
    for l in range(layers.shape[0]):
        n_in, n_out = layers[l, N_IN], layers[l, N_OUT]
        c = coefficients[l]
        total += block_penalty(grads, params, layers[l, W_OFFSET], n_in * n_out,
                               c[KERNEL_L1],
                               c[KERNEL_L2] + half * c[KERNEL_BATCH_L2] * inverse_rows,
                               with_gradient)
        total += block_penalty(grads, params, layers[l, B_OFFSET], n_out, c[BIAS_L1],
                               c[BIAS_L2] + half * c[BIAS_BATCH_L2] * inverse_rows,
                               with_gradient)
    return total
