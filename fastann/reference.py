"""The same math as fastann's kernels, in plain NumPy: the correctness oracle of the
tests and the speed baseline of the benchmarks.

It is written the way an "ANN from scratch" tutorial writes it: one vectorised NumPy
expression per layer (``A_prev @ W + b``), Python loops over layers, batches and
epochs, and fresh arrays everywhere. It imports nothing from ``fastann.kernels`` (nor
Numba): it checks the kernels rather than repeating them.

Conventions are the kernels' own:

* weights are a list ``[W1, b1, W2, b2, ...]`` in Keras' layout, ``W`` of shape
  ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``;
* targets ``Y`` arrive encoded as float ``(n_samples, n_out)`` arrays (one-hot rows for
  categorical cross-entropy);
* a row's loss is the mean over its outputs, as in Keras (categorical cross-entropy:
  the sum over the classes), multiplied by the row's sample weight;
* gradients are those of the batch *mean* of the weighted row losses;
* the cross-entropies are computed from the logits ``Z``, so they never take ``log(0)``;
* arrays keep their dtype: float32 in, float32 out (scalars are Python floats, which
  NumPy casts to the arrays' dtype).
"""
import math

import numpy as np

DEFAULT_SLOPE = 0.2  # leaky ReLU's negative slope, Keras' default
LOSSES = ("binary_crossentropy", "mean_squared_error", "categorical_crossentropy",
          "mean_absolute_error", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
          "squared_hinge", "binary_focal_crossentropy")
EPSILON = 1e-7  # Keras' backend epsilon
# The output activation each cross-entropy is computed for (from its logits).
OUTPUT_ACTIVATION = {"binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax",
                     "binary_focal_crossentropy": "sigmoid"}


# ---------------------------------------------------------------- activations
# Each forward takes Z (rows, units) and returns A; each backward takes dA, Z, A (all
# (rows, units)) and returns dZ = dA * f'(Z). The derivative at a kink (Z == 0) is the
# one of the left side, as in the kernels.

def linear(Z):
    return Z


def linear_backward(dA, Z, A):
    return dA


def relu(Z):
    return np.maximum(Z, 0)


def relu_backward(dA, Z, A):
    return np.where(Z > 0, dA, 0)


def leaky_relu(Z, slope=DEFAULT_SLOPE):
    return np.where(Z > 0, Z, slope * Z)


def leaky_relu_backward(dA, Z, A, slope=DEFAULT_SLOPE):
    return np.where(Z > 0, dA, slope * dA)


def sigmoid(Z):
    # exp of a non-positive number only, so that it never overflows
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def sigmoid_backward(dA, Z, A):
    return dA * (A * (1 - A))


def tanh(Z):
    return np.tanh(Z)


def tanh_backward(dA, Z, A):
    return dA * (1 - A * A)


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def softmax_backward(dA, Z, A):
    # the Jacobian-vector product, right under any loss
    return A * (dA - (dA * A).sum(axis=1, keepdims=True))


def step(Z):
    return (Z > 0).astype(Z.dtype)


def step_backward(dA, Z, A):
    return np.zeros_like(dA)  # zero wherever the derivative exists


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def elu(Z):
    return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))


def elu_backward(dA, Z, A):
    return dA * np.where(Z > 0, 1.0, np.exp(np.minimum(Z, 0)))


def selu(Z):
    return SELU_SCALE * np.where(Z > 0, Z, SELU_ALPHA * np.expm1(np.minimum(Z, 0)))


def selu_backward(dA, Z, A):
    return dA * SELU_SCALE * np.where(Z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(Z, 0)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(Z):
    # the exact (erf) form, Keras' approximate=False
    return (0.5 * Z * (1 + _erf(Z / math.sqrt(2)))).astype(Z.dtype)


def gelu_backward(dA, Z, A):
    cdf = 0.5 * (1 + _erf(Z / math.sqrt(2)))
    pdf = np.exp(-0.5 * Z * Z) / math.sqrt(2 * math.pi)
    return (dA * (cdf + Z * pdf)).astype(Z.dtype)


def softplus(Z):
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


def softplus_backward(dA, Z, A):
    return dA * sigmoid(Z)


def softsign(Z):
    return Z / (1 + np.abs(Z))


def softsign_backward(dA, Z, A):
    return dA / (1 + np.abs(Z)) ** 2


def swish(Z):
    return Z * sigmoid(Z)


def swish_backward(dA, Z, A):
    s = sigmoid(Z)
    return dA * (s + Z * s * (1 - s))


def hard_sigmoid(Z):
    # Keras 3: relu6(z + 3) / 6
    return np.clip(Z + 3, 0, 6) / 6


def hard_sigmoid_backward(dA, Z, A):
    return np.where((Z > -3) & (Z < 3), dA / 6, 0)


def relu6(Z):
    return np.clip(Z, 0, 6)


def relu6_backward(dA, Z, A):
    return np.where((Z > 0) & (Z < 6), dA, 0)


def exponential(Z):
    with np.errstate(over="ignore"):  # exp of a large Z is inf, as in the kernels
        return np.exp(Z)


def exponential_backward(dA, Z, A):
    with np.errstate(over="ignore"):
        return dA * np.exp(Z)


def mish(Z):
    return Z * np.tanh(softplus(Z))


def mish_backward(dA, Z, A):
    t = np.tanh(softplus(Z))
    return dA * (t + Z * sigmoid(Z) * (1 - t * t))


ACTIVATIONS = {
    "linear": (linear, linear_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "softmax": (softmax, softmax_backward),
    "step": (step, step_backward),
    "elu": (elu, elu_backward),
    "selu": (selu, selu_backward),
    "gelu": (gelu, gelu_backward),
    "softplus": (softplus, softplus_backward),
    "softsign": (softsign, softsign_backward),
    "swish": (swish, swish_backward),
    "silu": (swish, swish_backward),
    "hard_sigmoid": (hard_sigmoid, hard_sigmoid_backward),
    "relu6": (relu6, relu6_backward),
    "exponential": (exponential, exponential_backward),
    "mish": (mish, mish_backward),
}


def activate(name, Z, slope=DEFAULT_SLOPE):
    """A = f(Z) for the activation ``name``; ``slope`` is used by leaky_relu only."""
    forward_function = ACTIVATIONS[name][0]
    if name == "leaky_relu":
        return forward_function(Z, float(slope))
    return forward_function(Z)


def activation_backward(name, dA, Z, A, slope=DEFAULT_SLOPE):
    """dZ = dA * f'(Z) for the activation ``name``; all arrays (rows, units)."""
    backward_function = ACTIVATIONS[name][1]
    if name == "leaky_relu":
        return backward_function(dA, Z, A, float(slope))
    return backward_function(dA, Z, A)


# ---------------------------------------------------------------- dense layer
def dense_forward(A_prev, W, b):
    """The dense layer's pre-activation.

    Parameters
    ----------
    A_prev : ndarray, (rows, n_in)
    W : ndarray, (n_in, n_out)
    b : ndarray, (n_out,)

    Returns
    -------
    Z : ndarray, (rows, n_out)
        ``A_prev @ W + b``.
    """
    return A_prev @ W + b


def dense_backward(dZ, A_prev, W, input_gradient=True):
    """Gradients of the dense layer from the gradient of its pre-activation.

    Parameters
    ----------
    dZ : ndarray, (rows, n_out)
    A_prev : ndarray, (rows, n_in)
    W : ndarray, (n_in, n_out)
    input_gradient : bool
        False skips ``dA_prev`` (returned as None): the first layer's input needs none.

    Returns
    -------
    dA_prev : ndarray, (rows, n_in)
        ``dZ @ W.T``.
    dW : ndarray, (n_in, n_out)
        ``A_prev.T @ dZ``.
    db : ndarray, (n_out,)
        The sum of dZ's rows.
    """
    dW = A_prev.T @ dZ
    db = dZ.sum(axis=0)
    dA_prev = dZ @ W.T if input_gradient else None
    return dA_prev, dW, db


# ---------------------------------------------------------------------- losses
# The reductions of a batch's weighted loss sum (the kernels' codes): divided by its
# rows (Keras' default), by the sum of its weights (0 when that is 0), or not at all.
OVER_BATCH_SIZE, OVER_SAMPLE_WEIGHT, SUM = 0, 1, 2


def batch_inverse(reduction, weight):
    """What a batch's weighted loss sum is multiplied by under ``reduction``; weight:
    the batch's sample weights."""
    weight = np.asarray(weight)
    if reduction == OVER_SAMPLE_WEIGHT:
        total = weight.sum()
        return 1.0 / total if total != 0 else 0.0
    if reduction == SUM:
        return 1.0
    return 1.0 / max(weight.size, 1)


def batch_share(reduction, weight, loss_sum):
    """A batch's loss times its rows, what a phase's loss total adds up (the kernels'
    ``batch_contribution``): the weighted loss sum itself under the default reduction."""
    if reduction == OVER_BATCH_SIZE:
        return loss_sum
    return len(weight) * batch_inverse(reduction, weight) * loss_sum


def loss_and_output_delta(loss, output_activation, Z, A, Y, sample_weight, slope=DEFAULT_SLOPE,
                          loss_options=None):
    """The batch's weighted loss and the gradient of its mean at the output logits.

    Parameters
    ----------
    loss : {"binary_crossentropy", "mean_squared_error", "categorical_crossentropy"}
        ("mse" is accepted for mean_squared_error.)
    output_activation : str
        The output layer's activation: sigmoid for binary cross-entropy, softmax for
        categorical cross-entropy, any for mean squared error.
    Z, A : ndarray, (rows, n_out)
        The output layer's pre-activation and activation.
    Y : ndarray, (rows, n_out)
        Encoded targets (0/1 labels, one-hot or probability rows, values).
    sample_weight : ndarray, (rows,) or None
        None weighs every row 1.
    slope : float
        Leaky ReLU's negative slope, when that is the output activation.
    loss_options : dict, optional
        ``delta`` (huber, 1.0), ``gamma`` (2.0), ``alpha`` (0.25),
        ``apply_class_balancing`` (False) of the focal loss, ``from_logits`` (False):
        a cross-entropy of the logits of a linear output layer, and ``reduction`` (the
        kernels' code, ``fastann.kernels.losses.OVER_BATCH_SIZE`` by default): what
        the gradient's sum is divided by (see ``batch_inverse``).

    Returns
    -------
    weighted_loss_sum : scalar
        ``sum over rows of sample_weight * row_loss``, a row's loss being the mean over
        its outputs (categorical cross-entropy: the sum over the classes).
    dZ : ndarray, (rows, n_out)
        The gradient of ``weighted_loss_sum * batch_inverse(reduction, sample_weight)``
        (by default ``weighted_loss_sum / rows``) with respect to Z.
    """
    loss = "mean_squared_error" if loss == "mse" else loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    options = {"delta": 1.0, "gamma": 2.0, "alpha": 0.25, "apply_class_balancing": False,
               "from_logits": False, "reduction": OVER_BATCH_SIZE, **(loss_options or {})}
    needed = OUTPUT_ACTIVATION.get(loss)
    if needed and options["from_logits"]:
        needed = "linear"
    if needed and output_activation != needed:
        raise ValueError(f"{loss} is computed from the logits of a {needed} output; the "
                         f"output activation is {output_activation!r}")
    rows, n_out = Z.shape
    if sample_weight is None:
        sample_weight = np.ones(rows, Z.dtype)
    weight = np.asarray(sample_weight, Z.dtype).reshape(rows, 1)
    inverse = batch_inverse(options["reduction"], weight)

    if loss == "binary_crossentropy":
        # -y*log(sigmoid(z)) - (1-y)*log(1-sigmoid(z)) = log(1 + exp(z)) - z*y, written
        # so that exp never overflows
        losses = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
        row_loss = losses.sum(axis=1) / n_out
        P = sigmoid(Z) if options["from_logits"] else A
        dZ = weight * (P - Y) * inverse / n_out
    elif loss == "mean_squared_error":
        error = A - Y
        row_loss = (error * error).sum(axis=1) / n_out
        dA = 2 * weight * error * inverse / n_out
        dZ = activation_backward(output_activation, dA, Z, A, slope)
    elif loss == "categorical_crossentropy":  # -sum(y * log(softmax(z))), by log-sum-exp
        largest = Z.max(axis=1, keepdims=True)
        log_sum_exp = largest + np.log(np.exp(Z - largest).sum(axis=1, keepdims=True))
        row_loss = (Y * (log_sum_exp - Z)).sum(axis=1)
        target_mass = Y.sum(axis=1, keepdims=True)  # 1 for one-hot rows
        P = softmax(Z) if options["from_logits"] else A
        dZ = weight * (P * target_mass - Y) * inverse
    elif loss == "binary_focal_crossentropy":
        P = sigmoid(Z)
        Q = sigmoid(-Z)
        bce = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
        miss = Y * Q + (1 - Y) * P  # 1 - p_t
        gamma = options["gamma"]
        factor = miss ** gamma
        safe = np.where(miss > 0, miss, 1.0)
        d_factor = np.where(miss > 0, gamma * safe ** (gamma - 1) * (1 - 2 * Y) * P * Q, 0)
        balance = (Y * options["alpha"] + (1 - Y) * (1 - options["alpha"])
                   if options["apply_class_balancing"] else 1.0)
        row_loss = (balance * factor * bce).sum(axis=1) / n_out
        dZ = weight * balance * (d_factor * bce + factor * (P - Y)) * inverse / n_out
    else:
        E = A - Y
        per_output = 1.0 / n_out
        if loss == "mean_absolute_error":
            values, slopes = np.abs(E), np.sign(E)
        elif loss == "huber":
            d = options["delta"]
            inside = np.abs(E) <= d
            values = np.where(inside, 0.5 * E * E, d * np.abs(E) - 0.5 * d * d)
            slopes = np.where(inside, E, d * np.sign(E))
        elif loss == "log_cosh":
            values, slopes = np.log(np.cosh(E)), np.tanh(E)
        elif loss == "poisson":
            values = A - Y * np.log(A + EPSILON)
            slopes = 1 - Y / (A + EPSILON)
        elif loss == "kl_divergence":
            Yc, Ac = np.clip(Y, EPSILON, 1), np.clip(A, EPSILON, 1)
            values = Yc * np.log(Yc / Ac)
            slopes = np.where((A > EPSILON) & (A < 1), -Yc / Ac, 0)
            per_output = 1.0
        else:  # hinge, squared_hinge: Y in -1/1
            margin = np.maximum(1 - Y * A, 0)
            if loss == "hinge":
                values, slopes = margin, np.where(margin > 0, -Y, 0)
            else:
                values, slopes = margin * margin, -2 * Y * margin
        row_loss = values.sum(axis=1) * per_output
        dA = weight * slopes * per_output * inverse
        dZ = activation_backward(output_activation, dA.astype(Z.dtype), Z, A, slope)
    return (weight[:, 0] * row_loss).sum(), dZ


# ---------------------------------------------------------------- regularizers
# ``regularization`` is one tuple per layer, (kernel_l1, kernel_l2, kernel_alpha,
# bias_l1, bias_l2, bias_alpha), or None for none. The alpha terms are scikit-learn
# MLP's: 0.5 * alpha * sum(w**2) / rows, rows being those of the batch scored.

def penalty_and_gradients(weights, regularization, rows):
    """The weights' total penalty and its gradient, shaped like ``weights``.

    Parameters
    ----------
    weights : list of ndarray
        ``[W1 (n_in, n_out), b1 (n_out,), ...]``.
    regularization : list of 6-tuples of float, one per layer, or None
    rows : int
        Rows of the batch (or data set) scored: the alpha terms' divisor.

    Returns
    -------
    penalty : float
        ``sum l1 * |w| + l2 * w**2 + 0.5 * alpha * w**2 / rows`` over every weight.
    grads : list of ndarray
        ``l1 * sign(w) + 2 * l2 * w + alpha * w / rows``.
    """
    grads = [np.zeros_like(w) for w in weights]
    if regularization is None:
        return 0.0, grads
    if len(regularization) * 2 != len(weights):
        raise ValueError(f"regularization must have one tuple per layer "
                         f"({len(weights) // 2}); got {len(regularization)}")
    total = 0.0
    for l, coefficients in enumerate(regularization):
        for index, (l1, l2, alpha) in ((2 * l, coefficients[:3]), (2 * l + 1, coefficients[3:])):
            w = weights[index]
            total += float(l1 * np.abs(w).sum() + l2 * (w * w).sum()
                           + 0.5 * alpha * (w * w).sum() / rows)
            grads[index] = (l1 * np.sign(w) + 2 * l2 * w + alpha * w / rows).astype(w.dtype)
    return total, grads


def evaluate_loss(weights, activations, X, Y, loss, sample_weight=None, slopes=None,
                  regularization=None, loss_options=None, batch_size=32):
    """What ``Model.evaluate`` reports as the loss: the weighted mean row loss over all
    of X (n_samples, n_features) plus the penalty, its alpha terms over n_samples rows.
    Under a reduction other than the default, the mean over batches of ``batch_size``
    rows of each batch's reduced loss, weighted by their rows (as Keras' evaluate)."""
    n = X.shape[0]
    weight = np.ones(n, X.dtype) if sample_weight is None else np.asarray(sample_weight)
    reduction = (loss_options or {}).get("reduction", OVER_BATCH_SIZE)
    step = n if reduction == OVER_BATCH_SIZE else batch_size
    total = 0.0
    for start in range(0, n, max(step, 1)):
        rows = slice(start, start + step)
        Zs, As = forward(weights, activations, X[rows], slopes)
        loss_sum, _ = loss_and_output_delta(loss, activations[-1], Zs[-1], As[-1], Y[rows],
                                            weight[rows], _slopes(slopes, len(activations))[-1],
                                            loss_options)
        total += batch_share(reduction, weight[rows], loss_sum)
    penalty, _ = penalty_and_gradients(weights, regularization, n)
    return float(total / n + penalty)


# --------------------------------------------------------------------- network
def _slopes(slopes, n_layers):
    if slopes is None:
        return [DEFAULT_SLOPE] * n_layers
    slopes = [float(s) for s in slopes]
    if len(slopes) != n_layers:
        raise ValueError(f"slopes must have one value per layer ({n_layers}); got {len(slopes)}")
    return slopes


def _check_layers(weights, activations):
    if len(weights) != 2 * len(activations):
        raise ValueError(f"weights must be [W1, b1, ...] for {len(activations)} layers, "
                         f"{2 * len(activations)} arrays; got {len(weights)}")


def forward(weights, activations, X, slopes=None):
    """Forward pass through every layer.

    Parameters
    ----------
    weights : list of ndarray
        ``[W1 (n_in, n_out), b1 (n_out,), W2, b2, ...]``.
    activations : list of str
        One activation name per layer (keys of ``ACTIVATIONS``).
    X : ndarray, (rows, n_features)
    slopes : list of float, optional
        Leaky ReLU's negative slope per layer (default 0.2 each).

    Returns
    -------
    Zs, As : list of ndarray
        Per layer, its pre-activation and activation, (rows, n_out of that layer);
        ``As[-1]`` is the network's output.
    """
    _check_layers(weights, activations)
    slopes = _slopes(slopes, len(activations))
    Zs, As = [], []
    A = X
    for l, name in enumerate(activations):
        W, b = weights[2 * l], weights[2 * l + 1]
        Z = dense_forward(A, W, b)
        A = activate(name, Z, slopes[l])
        Zs.append(Z)
        As.append(A)
    return Zs, As


def loss_sum_and_gradients(weights, activations, X, Y, loss, sample_weight=None, slopes=None,
                           regularization=None, loss_options=None):
    """Like ``gradients``, but return the batch's loss times its rows (the number the
    training loop adds up) instead of the loss: by default the weighted loss sum; the
    penalty counts ``rows`` times."""
    slopes = _slopes(slopes, len(activations))
    Zs, As = forward(weights, activations, X, slopes)
    loss_sum, dZ = loss_and_output_delta(loss, activations[-1], Zs[-1], As[-1], Y,
                                         sample_weight, slopes[-1], loss_options)
    rows = X.shape[0]
    reduction = (loss_options or {}).get("reduction", OVER_BATCH_SIZE)
    weight = np.ones(rows) if sample_weight is None else np.asarray(sample_weight)
    inverse = batch_inverse(reduction, weight)
    loss_sum = batch_share(reduction, weight, loss_sum)
    grads = [None] * len(weights)
    for l in range(len(activations) - 1, -1, -1):
        A_prev = X if l == 0 else As[l - 1]
        dA_prev, dW, db = dense_backward(dZ, A_prev, weights[2 * l], input_gradient=l > 0)
        grads[2 * l], grads[2 * l + 1] = dW, db
        if l > 0:
            dZ = activation_backward(activations[l - 1], dA_prev, Zs[l - 1], As[l - 1],
                                     slopes[l - 1])
    if regularization is not None:  # its batch-mean terms divided as the loss is
        divisor = rows if reduction == OVER_BATCH_SIZE else (1 / inverse if inverse
                                                             else np.inf)
        penalty, penalty_grads = penalty_and_gradients(weights, regularization, divisor)
        loss_sum = loss_sum + rows * penalty
        grads = [g + p for g, p in zip(grads, penalty_grads)]
    return loss_sum, grads


def gradients(weights, activations, X, Y, loss, sample_weight=None, slopes=None,
              regularization=None, loss_options=None):
    """The batch's mean loss and its gradient with respect to every weight.

    Parameters
    ----------
    weights : list of ndarray
        ``[W1 (n_in, n_out), b1 (n_out,), ...]``.
    activations : list of str
        One per layer; the last must suit ``loss`` (see ``loss_and_output_delta``).
    X : ndarray, (rows, n_features)
    Y : ndarray, (rows, n_out)
        Encoded targets.
    loss : str
        ``binary_crossentropy``, ``mean_squared_error`` or ``categorical_crossentropy``.
    sample_weight : ndarray, (rows,), optional
    slopes : list of float, optional
        Leaky ReLU's negative slope per layer.
    regularization : list of 6-tuples, optional
        Weight penalties per layer (see ``penalty_and_gradients``).

    Returns
    -------
    batch_mean_loss : scalar
        ``sum(sample_weight * row_loss) / rows`` plus the penalty.
    grads : list of ndarray
        Its gradient, shaped like ``weights``.
    """
    loss_sum, grads = loss_sum_and_gradients(weights, activations, X, Y, loss,
                                             sample_weight, slopes, regularization,
                                             loss_options)
    return loss_sum / X.shape[0], grads


# ------------------------------------------------------------------------- RNG
MASK_64 = 2**64 - 1


class SplitMix64:
    """SplitMix64 (Steele, Lea & Flood 2014) on Python ints: the kernels' shuffling stream.

    Parameters
    ----------
    state : int or array-like holding one uint64
        The generator's state, e.g. ``int(model.get_training_state().rng_state[0])``
        before ``fit``.
    """

    GOLDEN_GAMMA = 0x9E3779B97F4A7C15
    MIX_1 = 0xBF58476D1CE4E5B9
    MIX_2 = 0x94D049BB133111EB

    def __init__(self, state):
        if not isinstance(state, int):
            state = int(np.asarray(state).reshape(-1)[0])
        self.state = state & MASK_64

    def next_uint64(self):
        """Advance the state and return 64 random bits as an int."""
        self.state = (self.state + self.GOLDEN_GAMMA) & MASK_64
        z = self.state
        z = ((z ^ (z >> 30)) * self.MIX_1) & MASK_64
        z = ((z ^ (z >> 27)) * self.MIX_2) & MASK_64
        return z ^ (z >> 31)

    def permutation(self, n):
        """A random permutation of ``range(n)``, int64 (n,).

        Fisher-Yates from the top; index ``j`` for position ``i`` is Lemire's
        multiply-shift of the top 32 random bits, ``(bits * (i + 1)) >> 32``.
        """
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            bits = self.next_uint64() >> 32
            j = (bits * (i + 1)) >> 32
            order[i], order[j] = order[j], order[i]
        return np.array(order, dtype=np.int64)


# ---------------------------------------------------------- other layer types
# Dropout and BatchNormalization as the kernels compute them (see fastann.layers).

def dropout_mask(shape, rate, generator, salt=0):
    """Inverted dropout's mask (rows, units): 0, or 1 / (1 - rate) where the entry is
    kept, drawn from ``generator`` (a SplitMix64) one 64-bit draw per entry in row-major
    order, kept when its top 53 bits are at least ``floor(rate * 2**53)``; a nonzero
    ``salt`` is mixed into each draw by SplitMix64's finaliser."""
    threshold = int(rate * 2.0**53)
    keep = np.empty(int(np.prod(shape)), dtype=bool)
    for i in range(keep.shape[0]):
        bits = generator.next_uint64()
        if salt:
            z = bits ^ salt
            z = ((z ^ (z >> 30)) * SplitMix64.MIX_1) & MASK_64
            z = ((z ^ (z >> 27)) * SplitMix64.MIX_2) & MASK_64
            bits = z ^ (z >> 31)
        keep[i] = (bits >> 11) >= threshold
    return np.where(keep.reshape(shape), 1.0 / (1.0 - rate), 0.0)


def dropout_forward(A_prev, mask):
    return A_prev * mask.astype(A_prev.dtype)


def dropout_backward(dA, mask):
    return dA * mask.astype(dA.dtype)


def batchnorm_forward(X, gamma, beta, moving_mean, moving_variance, momentum=0.99,
                      epsilon=1e-3, training=True):
    """Keras 3's BatchNormalization on X (rows, units).

    Returns A (rows, units), X_hat (rows, units), inv_std (units,) and the moving mean and
    variance after the call (units,): updated as ``moving * momentum + batch_stat *
    (1 - momentum)`` in training (batch mean and biased variance), unchanged otherwise.
    """
    if training:
        mean = X.mean(axis=0)
        variance = ((X - mean) ** 2).mean(axis=0)
        moving_mean = moving_mean * momentum + mean * (1 - momentum)
        moving_variance = moving_variance * momentum + variance * (1 - momentum)
    else:
        mean, variance = moving_mean, moving_variance
    inv_std = 1 / np.sqrt(variance + epsilon)
    X_hat = (X - mean) * inv_std
    return gamma * X_hat + beta, X_hat, inv_std, moving_mean, moving_variance


def batchnorm_backward(dA, X_hat, gamma, inv_std):
    """Training-mode backward pass through the batch statistics: (dX, dgamma, dbeta)."""
    dgamma = (dA * X_hat).sum(axis=0)
    dbeta = dA.sum(axis=0)
    dX_hat = dA * gamma
    dX = inv_std * (dX_hat - dX_hat.mean(axis=0) - X_hat * (dX_hat * X_hat).mean(axis=0))
    return dX, dgamma, dbeta


# ------------------------------------------------------------------ optimizers
# Keras 3's update rules and order: the gradients are clipped (clip), every variable is
# decayed, w -= lr * weight_decay * w (decoupled weight decay), then the rule moves it.
# Each optimizer keeps its own state; ``iterations`` counts the updates made, so the
# first update is step 1.

class Rule:
    """What every rule shares: the learning rate, weight_decay and clipping, and the
    update's order. Subclasses write ``_start`` (the state) and ``_step`` (the rule for
    one variable ``w`` with its clipped gradient ``g`` and state index ``i``)."""

    def __init__(self, lr, weight_decay, clipvalue, global_clipnorm, clipnorm):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay or 0.0)
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        self.clipnorm = clipnorm
        self.iterations = 0
        self.started = False

    def update(self, weights, grads, lr=None):
        """Update the arrays of ``weights`` in place from ``grads`` (same shapes)."""
        lr = self.lr if lr is None else float(lr)
        if not self.started:
            self._start(weights)
            self.started = True
        self.iterations += 1
        grads = clip(grads, self.clipvalue, self.global_clipnorm, self.clipnorm)
        self._begin_step(lr)
        for i, (w, g) in enumerate(zip(weights, grads)):
            w -= w * (self.weight_decay * lr)
            self._step(w, g, i, lr)

    def _begin_step(self, lr):
        pass


def _zeros(weights):
    return [np.zeros_like(w) for w in weights]


class SGD(Rule):
    """w -= lr * g; with momentum v = momentum * v - lr * g, then w += v (Nesterov:
    w += momentum * v - lr * g)."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, *,
                 learning_rate=None, clipvalue=None, global_clipnorm=None, clipnorm=None):
        super().__init__(lr if learning_rate is None else learning_rate, weight_decay,
                         clipvalue, global_clipnorm, clipnorm)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _start(self, weights):
        self.velocities = _zeros(weights)

    def _step(self, w, g, i, lr):
        if self.momentum == 0:
            w -= lr * g
            return
        v = self.velocities[i]
        v[...] = self.momentum * v - lr * g
        w += self.momentum * v - lr * g if self.nesterov else v


class Adam(Rule):
    """Adam (Kingma & Ba) with the bias correction folded into the step size:
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t); w -= alpha * m / (sqrt(v) + epsilon);
    with amsgrad, the largest v so far stands for v in the step."""

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None, amsgrad=False, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(lr if learning_rate is None else learning_rate, weight_decay,
                         clipvalue, global_clipnorm, clipnorm)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _start(self, weights):
        self.m, self.v, self.v_max = _zeros(weights), _zeros(weights), _zeros(weights)

    def _begin_step(self, lr):
        t = self.iterations
        self.alpha = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def _step(self, w, g, i, lr):
        m, v = self.m[i], self.v[i]
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        if self.amsgrad:
            np.maximum(self.v_max[i], v, out=self.v_max[i])
            v = self.v_max[i]
        w -= self.alpha * m / (np.sqrt(v) + self.epsilon)


class AdamW(Adam):
    """Keras' AdamW: Adam with weight_decay=0.004 by default."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, *, lr=None, clipvalue=None,
                 global_clipnorm=None, clipnorm=None):
        super().__init__(learning_rate if lr is None else lr, beta_1, beta_2, epsilon,
                         weight_decay, amsgrad=amsgrad, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, clipnorm=clipnorm)


class Nadam(Adam):
    """Keras' Nadam: u_t = beta_1 (1 - 0.5 * 0.96**t), u_product = u_1 ... u_t;
    m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product);
    w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=0.0, *, lr=None, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(learning_rate if lr is None else lr, beta_1, beta_2, epsilon,
                         weight_decay, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         clipnorm=clipnorm)
        self.u_product = 1.0

    def _begin_step(self, lr):
        t = self.iterations
        self.u_t = self.beta_1 * (1 - 0.5 * 0.96**t)
        self.u_next = self.beta_1 * (1 - 0.5 * 0.96**(t + 1))
        self.u_product *= self.u_t

    def _step(self, w, g, i, lr):
        m, v = self.m[i], self.v[i]
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        m_hat = (self.u_next * m / (1 - self.u_product * self.u_next)
                 + (1 - self.u_t) * g / (1 - self.u_product))
        v_hat = v / (1 - self.beta_2**self.iterations)
        w -= m_hat * lr / (np.sqrt(v_hat) + self.epsilon)


class RMSprop(Rule):
    """Keras' RMSprop: ms = rho * ms + (1 - rho) * g**2; step = lr * g / sqrt(ms + epsilon)
    (centred: mg = rho * mg + (1 - rho) * g, step = lr * g / sqrt(ms - mg**2 + epsilon));
    with momentum v = momentum * v + step, w -= v; else w -= step."""

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0, *,
                 learning_rate=None, momentum=0.0, centered=False, clipvalue=None,
                 global_clipnorm=None, clipnorm=None):
        super().__init__(lr if learning_rate is None else learning_rate, weight_decay,
                         clipvalue, global_clipnorm, clipnorm)
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.momentum, self.centered = float(momentum), bool(centered)

    def _start(self, weights):
        self.mean_squares, self.mean_gradients = _zeros(weights), _zeros(weights)
        self.velocities = _zeros(weights)

    def _step(self, w, g, i, lr):
        ms = self.mean_squares[i]
        ms[...] = self.rho * ms + (1 - self.rho) * g * g
        if self.centered:
            mg = self.mean_gradients[i]
            mg[...] = self.rho * mg + (1 - self.rho) * g
            denominator = ms - mg * mg + self.epsilon
        else:
            denominator = ms + self.epsilon
        step = lr * g / np.sqrt(denominator)
        if self.momentum:
            v = self.velocities[i]
            v[...] = self.momentum * v + step
            step = v
        w -= step


class Adagrad(Rule):
    """Keras' Adagrad: acc = initial + sum of g**2; w -= lr * g / sqrt(acc + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=0.0, *, lr=None, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(learning_rate if lr is None else lr, weight_decay, clipvalue,
                         global_clipnorm, clipnorm)
        self.initial = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _start(self, weights):
        self.accumulators = [np.full_like(w, self.initial) for w in weights]

    def _step(self, w, g, i, lr):
        acc = self.accumulators[i]
        acc += g * g
        w -= lr * g / np.sqrt(acc + self.epsilon)


class Adamax(Rule):
    """Keras' Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    w -= lr * m / ((1 - beta_1**t)(u + epsilon))."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=0.0, *, lr=None, clipvalue=None, global_clipnorm=None,
                 clipnorm=None):
        super().__init__(learning_rate if lr is None else lr, weight_decay, clipvalue,
                         global_clipnorm, clipnorm)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _start(self, weights):
        self.m, self.u = _zeros(weights), _zeros(weights)

    def _step(self, w, g, i, lr):
        m, u = self.m[i], self.u[i]
        m += (g - m) * (1 - self.beta_1)
        u[...] = np.maximum(self.beta_2 * u, np.abs(g))
        w -= lr * m / ((1 - self.beta_1**self.iterations) * (u + self.epsilon))


def clip(grads, clipvalue=None, global_clipnorm=None, clipnorm=None):
    """Keras' gradient clipping (at most one option set): each array scaled to norm <=
    clipnorm, or all of them to a global norm <= global_clipnorm, or each value to
    [-clipvalue, clipvalue]. Returns new arrays."""
    grads = [np.array(g, copy=True) for g in grads]
    if clipnorm:
        norms = [math.sqrt(float((g * g).sum())) for g in grads]
        return [g * clipnorm / norm if norm > clipnorm else g for g, norm in zip(grads, norms)]
    if global_clipnorm:
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
        return [g * (global_clipnorm / norm) for g in grads] if norm > global_clipnorm else grads
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


# --------------------------------------------------------------------- metrics
# Keras 3's confusion-count metrics and top-k accuracy over a whole set of outputs A and
# targets Y (n_samples, n_out), every output one prediction, computed in A's dtype.
def _divide_no_nan(numerator, denominator):
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0, numerator / safe).astype(numerator.dtype)


def auc(Y, A, num_thresholds=200, curve="ROC", summation_method="interpolation",
        from_logits=False):
    """Keras' AUC with its evenly spaced thresholds: a prediction p in [0, 1] (clipped)
    is above threshold i when max(ceil(p * (n - 1)) - 1, 0) >= i."""
    A = np.asarray(A)
    p = sigmoid(A) if from_logits else A
    p = np.clip(p, 0, 1).ravel()
    actual = (np.asarray(Y) != 0).ravel()
    n = num_thresholds
    bucket = np.maximum(np.ceil(p * A.dtype.type(n - 1)) - 1, 0).astype(np.int64)
    above = bucket[None, :] >= np.arange(n)[:, None]  # (n_thresholds, n_predictions)
    tp = (above & actual).sum(axis=1).astype(A.dtype)
    fp = (above & ~actual).sum(axis=1).astype(A.dtype)
    fn = actual.sum().astype(A.dtype) - tp
    tn = (~actual).sum().astype(A.dtype) - fp
    if curve.upper() == "PR" and summation_method == "interpolation":
        dtp = tp[:-1] - tp[1:]
        positive = tp + fp
        slope = _divide_no_nan(dtp, np.maximum(positive[:-1] - positive[1:], 0))
        intercept = tp[1:] - slope * positive[1:]
        both = (positive[:-1] > 0) & (positive[1:] > 0)
        ratio = np.where(both, _divide_no_nan(positive[:-1], np.maximum(positive[1:], 0)),
                         A.dtype.type(1))
        return float(_divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                                    np.maximum(tp[1:] + fn[1:], 0)).sum())
    recall_values = _divide_no_nan(tp, tp + fn)
    if curve.upper() == "ROC":
        x, y = _divide_no_nan(fp, fp + tn), recall_values
    else:
        x, y = recall_values, _divide_no_nan(tp, tp + fp)
    heights = {"interpolation": (y[:-1] + y[1:]) / A.dtype.type(2),
               "minoring": np.minimum(y[:-1], y[1:]),
               "majoring": np.maximum(y[:-1], y[1:])}[summation_method]
    return float(((x[:-1] - x[1:]) * heights).sum())


def _confusion(Y, A, threshold, top_k=None, class_id=None):
    A = np.asarray(A)
    predicted = A > A.dtype.type(threshold)
    if top_k is not None:  # each row's top_k outputs, ties to the lower index
        top = np.zeros(A.shape, bool)
        np.put_along_axis(top, np.argsort(-A, axis=1, kind="stable")[:, :top_k], True, 1)
        predicted &= top
    actual = np.asarray(Y) != 0
    if class_id is not None:
        predicted, actual = predicted[:, class_id], actual[:, class_id]
    count = lambda mask: A.dtype.type(mask.sum())  # noqa: E731
    return count(predicted & actual), count(predicted & ~actual), count(~predicted & actual)


def precision(Y, A, threshold=0.5, top_k=None, class_id=None):
    """Keras' Precision: predicted positive when A > threshold (and among the row's
    top_k), actual when Y != 0; over output ``class_id`` only when given."""
    tp, fp, _ = _confusion(Y, A, threshold, top_k, class_id)
    return float(tp / (tp + fp)) if tp + fp else 0.0


def recall(Y, A, threshold=0.5, top_k=None, class_id=None):
    """Keras' Recall, with precision's conventions."""
    tp, _, fn = _confusion(Y, A, threshold, top_k, class_id)
    return float(tp / (tp + fn)) if tp + fn else 0.0


def top_k_categorical_accuracy(Y, A, k=5):
    """The share of rows whose label (arg-max of Y) has fewer than k outputs strictly
    above it (Keras' in_top_k: ties are hits)."""
    A = np.asarray(A)
    labels = np.asarray(Y).argmax(axis=1)
    at_label = A[np.arange(A.shape[0]), labels]
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)
    return float(((A > at_label[:, None]).sum(axis=1) < k).mean())


# -------------------------------------------------------------------- training
def train(weights, activations, X, Y, loss, optimizer, epochs, batch_size=None, shuffle=False,
          rng_state=None, sample_weight=None, slopes=None, lr_by_epoch=None,
          regularization=None, loss_options=None):
    """Train by mini-batch gradient descent, as ``fastann.kernels.train.train_epochs``.

    Parameters
    ----------
    weights : list of ndarray
        Initial ``[W1 (n_in, n_out), b1 (n_out,), ...]``; copied, not changed.
    activations : list of str
        One per layer.
    X : ndarray, (n_samples, n_features)
    Y : ndarray, (n_samples, n_out)
        Encoded targets (one-hot rows for categorical cross-entropy).
    loss : str
        ``binary_crossentropy``, ``mean_squared_error`` or ``categorical_crossentropy``.
    optimizer : one of the rules above (SGD, Adam, AdamW, Nadam, RMSprop, Adagrad, Adamax)
        Of this module; its state carries on from earlier calls.
    epochs : int
    batch_size : int or None
        Rows per update; None (or more than n_samples) means the full batch. The last
        batch may be shorter.
    shuffle : bool
        Before every epoch take the rows in the order of a fresh SplitMix64 permutation
        (only when there is more than one batch, as the kernel does).
    rng_state : int or array-like holding one uint64
        The SplitMix64 state to shuffle with (needed when shuffling).
    sample_weight : ndarray, (n_samples,), optional
    slopes : list of float, optional
        Leaky ReLU's negative slope per layer.
    lr_by_epoch : sequence, (epochs,) or (epochs, k), optional
        The learning rate of each epoch (default: ``optimizer.lr`` throughout), or of
        each of its steps, step b at ``[epoch][min(b, k - 1)]`` (as the kernel reads it).
    regularization : list of 6-tuples, optional
        Weight penalties per layer (see ``penalty_and_gradients``), in each batch's loss
        and gradient.

    Returns
    -------
    weights : list of ndarray
        The trained weights.
    history : dict
        ``{"loss": [...]}``: per epoch, the sum over its batches of the weighted batch
        loss sums (each computed before that batch's update) divided by n_samples.
    """
    weights = [np.array(w, copy=True) for w in weights]
    n = X.shape[0]
    batch_size = n if batch_size is None else min(int(batch_size), n)
    if sample_weight is None:
        sample_weight = np.ones(n, X.dtype)
    sample_weight = np.asarray(sample_weight, X.dtype)
    if lr_by_epoch is None:
        lr_by_epoch = [optimizer.lr] * epochs
    if len(lr_by_epoch) != epochs:
        raise ValueError(f"lr_by_epoch must have one value per epoch ({epochs}); got "
                         f"{len(lr_by_epoch)}")
    reshuffle = shuffle and n > batch_size
    if reshuffle:
        if rng_state is None:
            raise ValueError("shuffle=True needs rng_state, the SplitMix64 state to shuffle "
                             "with (e.g. int(model.get_training_state().rng_state[0]))")
        rng = SplitMix64(rng_state)

    history = {"loss": []}
    for epoch in range(epochs):
        order = rng.permutation(n) if reshuffle else None
        epoch_loss = 0.0
        for start in range(0, n, batch_size):
            lr = lr_by_epoch[epoch]  # the epoch's rate, or its row of rates per step
            if np.ndim(lr):
                lr = lr[min(start // batch_size, len(lr) - 1)]
            if reshuffle:
                rows = order[start:start + batch_size]
            else:
                rows = slice(start, start + batch_size)
            loss_sum, grads = loss_sum_and_gradients(weights, activations, X[rows], Y[rows],
                                                     loss, sample_weight[rows], slopes,
                                                     regularization, loss_options)
            epoch_loss += loss_sum
            optimizer.update(weights, grads, lr)
        history["loss"].append(float(epoch_loss / n))
    return weights, history
