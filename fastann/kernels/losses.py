"""Losses fused with the output layer's backward pass, dispatched on integer codes.

The cross-entropies are computed from the logits ``Z`` (log-sum-exp, ``log1p``), so
they never overflow or take ``log(0)``, and their gradient with respect to ``Z`` is the
exact, simple ``A - Y``. They also compute the output activation ``A`` itself (sigmoid,
softmax) from the exponentials they need anyway, so training skips the output layer's
activation pass: on a tiny network those exponentials are a large part of an epoch.
Mean squared error works under any output activation: its gradient is taken with
respect to ``A``, and the backward pass applies the output activation's derivative as
it does for every other layer (one copy of that code). The losses added for Keras are
written in that second way too, except binary focal cross-entropy, fused as the
cross-entropies are. With ``from_logits`` (hyper[FROM_LOGITS] != 0) a cross-entropy
reads the logits of a linear output layer and leaves A = Z.

Per output, e = A - Y (a row's loss is the mean over its outputs, KL divergence's and
the categorical cross-entropy's the sum), as Keras 3 defines them:

====================  =================================================  ===================
loss                  value                                              gradient (A or Z)
====================  =================================================  ===================
mean_absolute_error   |e|                                                sign(e)
huber                 e**2 / 2 if |e| <= delta else delta * (|e| - delta / 2)  clip(e, +-delta)
log_cosh              log(cosh(e)) = |e| + log1p(exp(-2|e|)) - log 2    tanh(e)
poisson               A - Y * log(A + EPSILON)                           1 - Y / (A + EPSILON)
kl_divergence         sum Yc * log(Yc / Ac), both clipped to [EPSILON, 1]  -Yc / Ac (0 if clipped)
hinge                 max(1 - Y * A, 0) (Y in -1/1)                      -Y where 1 - Y*A > 0
squared_hinge         max(1 - Y * A, 0)**2                               -2 Y max(1 - Y*A, 0)
binary_focal          (1 - p_t)**gamma * bce, p_t = Y p + (1-Y)(1-p),    by the chain rule on Z
                      times Y alpha + (1-Y)(1-alpha) if class-balanced
half_poisson          Y log(Y / A) - Y + A, A = exp(Z) (fused)           A - Y (on Z)
half_squared_error    e**2 / 2                                           e * n_out
====================  =================================================  ===================
"""
import numpy as np

from ._jit import gated, kernel, like
from .activations import sigmoid_from, softmax_row

BINARY_CROSSENTROPY, MEAN_SQUARED_ERROR, CATEGORICAL_CROSSENTROPY = range(3)
(MEAN_ABSOLUTE_ERROR, HUBER, LOG_COSH, POISSON, KL_DIVERGENCE, HINGE, SQUARED_HINGE,
 BINARY_FOCAL_CROSSENTROPY) = range(3, 11)
# scikit-learn's MLPRegressor(loss="poisson"): exp output fused with the half deviance
HALF_POISSON_DEVIANCE = 11
# scikit-learn's squared loss: e**2 / 2 averaged over the outputs, with its output delta
# e (the gradient of the sum over the outputs, as scikit-learn's MLPs take it)
HALF_SQUARED_ERROR = 12
# The codes ``regression_loss_and_delta`` computes.
REGRESSION = frozenset({MEAN_ABSOLUTE_ERROR, HUBER, LOG_COSH, POISSON, KL_DIVERGENCE, HINGE,
                        SQUARED_HINGE, HALF_SQUARED_ERROR})
# Positions in the loss's hyper-parameter vector (model dtype, (N_HYPER,)).
DELTA, GAMMA, ALPHA, CLASS_BALANCING, FROM_LOGITS, REDUCTION, OUTPUTS_SUMMED = range(7)
N_HYPER = 7
# Values of hyper[REDUCTION], Keras' reductions of a batch's weighted per-row losses:
# divided by the batch's rows ("sum_over_batch_size", Keras' default, and "mean"), by
# the sum of its sample weights ("mean_with_sample_weight", scikit-learn's), or not
# divided ("sum").
OVER_BATCH_SIZE, OVER_SAMPLE_WEIGHT, SUM = 0, 1, 2
EPSILON = 1e-7  # Keras' backend epsilon
LOG_2 = 0.69314718055994530941723212145818


def has_own_kernel(loss_code):
    """Whether the loss is computed by a kernel of its own (``focal_loss_and_delta``,
    ``poisson_deviance_and_delta``, ``regression_loss_and_delta``), which the lean loop
    leaves out (``train.features``)."""
    return (loss_code == BINARY_FOCAL_CROSSENTROPY or loss_code == HALF_POISSON_DEVIANCE
            or loss_code in REGRESSION)


@kernel(inline=True)
def gives_dZ(loss_code):
    """Whether ``loss_and_delta`` writes dZ (a cross-entropy fused with its output
    activation, which it also computes into A) rather than dA."""
    return (loss_code == BINARY_CROSSENTROPY or loss_code == CATEGORICAL_CROSSENTROPY
            or loss_code == BINARY_FOCAL_CROSSENTROPY or loss_code == HALF_POISSON_DEVIANCE)


@kernel(inline=True)
def output_share(n_out, hyper):
    """What each output's loss counts in its row's: 1 / n_out (a row's loss is the mean
    over its outputs, as Keras'), or 1 with hyper[OUTPUTS_SUMMED] != 0 (the sum, as
    scikit-learn's log-loss and Poisson deviance)."""
    one = like(1, hyper)
    return one if hyper[OUTPUTS_SUMMED] != like(0, hyper) else one / like(n_out, hyper)


@kernel(inline=True)
def batch_scale(weight, hyper):
    """What a batch's weighted loss sum is multiplied by under the loss's reduction:
    1 / rows, 1 / the sum of the batch's weights (0 when they sum to 0, as Keras'
    ``divide_no_nan``), or 1. weight: (rows,)."""
    one = like(1, hyper)
    reduction = hyper[REDUCTION]
    if reduction == like(OVER_SAMPLE_WEIGHT, hyper):
        total = like(0, hyper)
        for r in range(weight.shape[0]):
            total += weight[r]
        return one / total if total != like(0, hyper) else total
    if reduction == like(SUM, hyper):
        return one
    return one / like(max(weight.shape[0], 1), hyper)


@kernel(inline=True)
def batch_contribution(loss_sum, rows, scale, hyper):
    """A batch's share of a phase's loss total, which is divided by the phase's rows:
    each batch's loss (``scale`` times its weighted sum) counts once per row, as Keras'
    loss tracker weighs batches. Under the default reduction that is the weighted sum
    itself, added unchanged."""
    if hyper[REDUCTION] == like(OVER_BATCH_SIZE, hyper):
        return loss_sum
    return like(rows, hyper) * scale * loss_sum


@kernel
def loss_and_delta(delta, Z, A, Y, weight, loss_code, hyper, scale, kernels):
    """Return the weighted sum of per-row losses; write ``delta``, ``scale`` times the
    gradient of that sum with respect to Z if ``gives_dZ(loss_code)``, else to A.
    ``kernels`` (a ``train.LossKernels``) says which of the losses' own kernels compile.

    delta, Z, A, Y: (rows, n_out); weight: (rows,); hyper: (N_HYPER,). A cross-entropy
    also writes A, the output activation of Z (the values ``activation_forward`` gives;
    Z itself with from_logits); the others read it. A row's loss is the mean over its
    outputs (as in Keras). ``scale`` is ``batch_scale``'s, so delta is the gradient of
    the batch's loss under the reduction (the batch mean by default). Binary cross-entropy expects a
    sigmoid output layer, categorical cross-entropy a softmax one; the wrapper enforces
    the pairing.
    """
    rows, n_out = Z.shape
    zero = like(0, Z)
    per_output = output_share(n_out, hyper)
    total = zero
    logits = hyper[FROM_LOGITS] != zero
    if loss_code == BINARY_CROSSENTROPY:
        for r in range(rows):
            row_loss = zero
            g = weight[r] * scale * per_output
            for j in range(n_out):
                z = Z[r, j]
                y = Y[r, j]
                e = np.exp(-abs(z))
                a = sigmoid_from(z, e)
                A[r, j] = z if logits else a
                row_loss += max(z, zero) - z * y + np.log1p(e)
                delta[r, j] = g * (a - y)
            total += weight[r] * row_loss * per_output
    elif loss_code == MEAN_SQUARED_ERROR:
        two = like(2, Z)
        for r in range(rows):
            row_loss = zero
            g = two * weight[r] * scale * per_output
            for j in range(n_out):
                error = A[r, j] - Y[r, j]
                row_loss += error * error
                delta[r, j] = g * error
            total += weight[r] * row_loss * per_output
    elif loss_code == CATEGORICAL_CROSSENTROPY:
        for r in range(rows):
            largest, sum_exp = softmax_row(A, Z, r)
            log_sum_exp = largest + np.log(sum_exp)
            row_loss = zero
            target_mass = zero
            for j in range(n_out):
                row_loss += Y[r, j] * (log_sum_exp - Z[r, j])
                target_mass += Y[r, j]
            g = weight[r] * scale
            for j in range(n_out):
                delta[r, j] = g * (A[r, j] * target_mass - Y[r, j])
                if logits:
                    A[r, j] = Z[r, j]
            total += weight[r] * row_loss
    elif loss_code == BINARY_FOCAL_CROSSENTROPY:
        total = gated_focal(kernels.focal, delta, Z, A, Y, weight, hyper, scale)
    elif loss_code == HALF_POISSON_DEVIANCE:
        total = gated_poisson(kernels.poisson_deviance, delta, Z, A, Y, weight, hyper, scale)
    else:
        total = gated_regression(kernels.regression, delta, A, Y, weight, loss_code,
                                 hyper, scale)
    return total


@kernel(entry=True)  # a function of its own: loss_and_delta's common losses stay small
def focal_loss_and_delta(delta, Z, A, Y, weight, hyper, scale):
    """Binary focal cross-entropy from the logits Z; writes A = sigmoid(Z) (Z with
    from_logits) and delta = scale * d(sum of weighted row losses)/dZ. Arrays as
    ``loss_and_delta``'s."""
    rows, n_out = Z.shape
    zero = like(0, Z)
    one = like(1, Z)
    per_output = output_share(n_out, hyper)
    gamma, alpha = hyper[GAMMA], hyper[ALPHA]
    balanced = hyper[CLASS_BALANCING] != zero
    logits = hyper[FROM_LOGITS] != zero
    total = zero
    for r in range(rows):
        row_loss = zero
        g = weight[r] * scale * per_output
        for j in range(n_out):
            z = Z[r, j]
            y = Y[r, j]
            e = np.exp(-abs(z))
            p = sigmoid_from(z, e)
            q = sigmoid_from(-z, e)  # 1 - p without cancellation
            A[r, j] = z if logits else p
            bce = max(z, zero) - z * y + np.log1p(e)
            miss = y * q + (one - y) * p  # 1 - p_t
            factor = miss**gamma
            # d(miss)/dz = (1 - 2y) p q; d(bce)/dz = p - y
            d_factor = zero
            if miss > zero:
                d_factor = gamma * miss**(gamma - one) * (one - y - y) * p * q
            balance = y * alpha + (one - y) * (one - alpha) if balanced else one
            row_loss += balance * factor * bce
            delta[r, j] = g * balance * (d_factor * bce + factor * (p - y))
        total += weight[r] * row_loss * per_output
    return total


@kernel(entry=True)  # a function of its own: loss_and_delta's common losses stay small
def poisson_deviance_and_delta(delta, Z, A, Y, weight, hyper, scale):
    """Half the Poisson deviance of an exponential output from the log-mean Z, as
    scikit-learn's ``poisson_loss``: per output ``y log(y / a) - y + a`` with
    ``a = exp(z)`` (written into A), whose gradient with respect to Z is ``a - y``.
    Arrays as ``loss_and_delta``'s; a row's loss is the mean over its outputs (the sum
    with hyper[OUTPUTS_SUMMED], as scikit-learn's)."""
    rows, n_out = Z.shape
    zero = like(0, Z)
    per_output = output_share(n_out, hyper)
    total = zero
    for r in range(rows):
        row_loss = zero
        g = weight[r] * scale * per_output
        for j in range(n_out):
            z = Z[r, j]
            y = Y[r, j]
            a = np.exp(z)
            A[r, j] = a
            constant = y * np.log(y) - y if y > zero else zero
            row_loss += a - y * z + constant
            delta[r, j] = g * (a - y)
        total += weight[r] * row_loss * per_output
    return total


@kernel(entry=True)  # a function of its own: loss_and_delta's common losses stay small
def regression_loss_and_delta(delta, A, Y, weight, loss_code, hyper, scale):
    """The losses of A itself (codes MEAN_ABSOLUTE_ERROR..SQUARED_HINGE and
    HALF_SQUARED_ERROR): return the
    weighted sum of row losses, write delta = scale * its gradient with respect to A.
    Arrays as ``loss_and_delta``'s."""
    rows, n_out = A.shape
    zero = like(0, A)
    one = like(1, A)
    half = like(0.5, A)
    two = like(2, A)
    per_output = output_share(n_out, hyper)
    if loss_code == KL_DIVERGENCE:
        per_output = one  # a sum over the outputs, as Keras'
    total = zero
    for r in range(rows):
        row_loss = zero
        g = weight[r] * scale * per_output
        for j in range(n_out):
            a = A[r, j]
            y = Y[r, j]
            error = a - y
            value = zero
            slope = zero
            if loss_code == MEAN_ABSOLUTE_ERROR:
                value = abs(error)
                slope = np.sign(error)
            elif loss_code == HUBER:
                d = hyper[DELTA]
                if abs(error) <= d:
                    value = half * error * error
                    slope = error
                else:
                    value = d * abs(error) - half * d * d
                    slope = d * np.sign(error)
            elif loss_code == LOG_COSH:
                magnitude = abs(error)
                value = magnitude + np.log1p(np.exp(-two * magnitude)) - like(LOG_2, A)
                slope = np.tanh(error)
            elif loss_code == POISSON:
                shifted = a + like(EPSILON, A)
                value = a - y * np.log(shifted)
                slope = one - y / shifted
            elif loss_code == KL_DIVERGENCE:
                epsilon = like(EPSILON, A)
                yc = min(max(y, epsilon), one)
                ac = min(max(a, epsilon), one)
                value = yc * np.log(yc / ac)
                if epsilon < a < one:
                    slope = -yc / ac
            elif loss_code == HINGE:
                margin = one - y * a
                if margin > zero:
                    value = margin
                    slope = -y
            elif loss_code == SQUARED_HINGE:
                margin = one - y * a
                if margin > zero:
                    value = margin * margin
                    slope = -two * y * margin
            elif loss_code == HALF_SQUARED_ERROR:
                value = half * error * error
                slope = error / per_output  # g * slope: the error itself
            row_loss += value
            delta[r, j] = g * slope
        total += weight[r] * row_loss * per_output
    return total


gated_focal = gated(focal_loss_and_delta, returns_sum=True)
gated_poisson = gated(poisson_deviance_and_delta, returns_sum=True)
gated_regression = gated(regression_loss_and_delta, returns_sum=True)
