"""Update rules over the flat parameter, gradient and state buffers, by integer code.

They follow Keras 3's formulas and order: the gradient is clipped first (``clipnorm``
per variable, or ``global_clipnorm``, or ``clipvalue``: at most one is set), then the
decoupled weight decay ``w -= lr * weight_decay * w`` shrinks every trainable variable,
then the rule moves it. The decay and the clipping each take a pass of their own, only
when their option is set, so a model without them runs the rule's loop alone. Only ``clipnorm`` knows of layers: it
reads each variable's place (a Dense kernel and bias, a BatchNormalization gamma and
beta) from the ``layers`` table. The decay and the rule run over the ``trainable``
ranges of the parameters only, so a frozen layer's weights and optimizer state stay as
they are (clipping zeroes the other gradients first).
"""
import numpy as np

from ._jit import gated, kernel, like, view_1d
from .network import B_OFFSET, BATCH_NORMALIZATION, DENSE, KIND, N_IN, N_OUT, W_OFFSET

SGD, ADAM, RMSPROP, ADAGRAD, ADAMAX, NADAM = range(6)

# Positions in the hyper-parameter vector (model dtype, (N_HYPER,)).
MOMENTUM, BETA_1, BETA_2, RHO, EPSILON, WEIGHT_DECAY, NESTEROV = 0, 0, 1, 0, 2, 3, 4
INITIAL_ACCUMULATOR = 1
CLIPVALUE, GLOBAL_CLIPNORM, CLIPNORM = 5, 6, 7  # 0: off
AMSGRAD, CENTERED, RMSPROP_MOMENTUM = 8, 9, 10  # Adam's flag; RMSprop's flag and momentum
N_HYPER = 11
# The flat optimizer state (N_SLOTS * n_params + N_SCALARS,): slots laid out like the
# parameters (SGD's velocity; Adam's two moments and, with amsgrad, the largest second
# moment; RMSprop's mean of squared gradients, its momentum and, centred, its mean
# gradient), then scalars (Nadam's momentum cache ``u_product``, at U_PRODUCT). A zeroed
# state is a fresh one.
N_SLOTS = 3
N_SCALARS = 1
U_PRODUCT = 0  # among the scalars


def state_length(n_params):
    """The length of the optimizer state of a model with ``n_params`` parameters."""
    return N_SLOTS * n_params + N_SCALARS


@kernel
def sgd_update(params, velocity, grads, lr, momentum, nesterov):
    """p -= lr*g, or with momentum v = momentum*v - lr*g; p += v (Nesterov: momentum*v - lr*g).

    params, velocity, grads: (n_params,).
    """
    zero = like(0, params)
    for i in range(params.shape[0]):
        g = grads[i]
        if momentum == zero:
            params[i] -= lr * g
        else:
            v = momentum * velocity[i] - lr * g
            velocity[i] = v
            params[i] += momentum * v - lr * g if nesterov else v


@kernel(inline=True)
def adam_step_size(lr, beta_1, beta_2, step, params):
    """Adam's step size with the bias correction folded in, at ``step`` (from 1):
    lr * sqrt(1 - beta_2**t) / (1 - beta_1**t), in the dtype of ``params``."""
    one = like(1, params)
    t = like(step, params)
    return lr * np.sqrt(one - beta_2**t) / (one - beta_1**t)


@kernel(inline=True)
def update_moments(m, v, i, g, beta_1, beta_2):
    """Adam's running moments of entry ``i``: m += (g - m)(1 - beta_1),
    v += (g² - v)(1 - beta_2)."""
    one = like(1, m)
    m[i] += (g - m[i]) * (one - beta_1)
    v[i] += (g * g - v[i]) * (one - beta_2)


@kernel
def adam_update(params, m, v, grads, lr, beta_1, beta_2, epsilon, step):
    """Adam with bias correction folded into the step size, ``step`` counted from 1.
    params, m, v, grads: (n_params,).
    """
    alpha = adam_step_size(lr, beta_1, beta_2, step, params)
    for i in range(params.shape[0]):
        update_moments(m, v, i, grads[i], beta_1, beta_2)
        params[i] -= alpha * m[i] / (np.sqrt(v[i]) + epsilon)


@kernel
def amsgrad_update(params, m, v, v_max, grads, lr, beta_1, beta_2, epsilon, step):
    """Keras' Adam with ``amsgrad=True``: m, v as Adam's; v_max = max(v_max, v);
    p -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v_max) + epsilon).
    params, m, v, v_max, grads: (n_params,)."""
    alpha = adam_step_size(lr, beta_1, beta_2, step, params)
    for i in range(params.shape[0]):
        update_moments(m, v, i, grads[i], beta_1, beta_2)
        v_max[i] = max(v_max[i], v[i])
        params[i] -= alpha * m[i] / (np.sqrt(v_max[i]) + epsilon)


@kernel(inline=True)
def nadam_u_product(previous, beta_1, step):
    """Keras' Nadam cache after step ``step``: u_product = u_1 * ... * u_t, u_t =
    beta_1 (1 - 0.5 * 0.96**t), from ``previous`` (the state's entry; read as 1 before
    the first step)."""
    one = like(1, beta_1)
    before = one if step == 1 else previous
    return before * beta_1 * (one - like(0.5, beta_1) * like(0.96, beta_1)**like(step, beta_1))


@kernel
def nadam_update(params, m, v, grads, lr, beta_1, beta_2, epsilon, step, u_product):
    """Keras' Nadam: u_t = beta_1 (1 - 0.5 * 0.96**t), ``u_product`` = u_1 * ... * u_t
    (``nadam_u_product``); m, v as Adam's;
    m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product);
    p -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon).
    params, m, v, grads: (n_params,).
    """
    one = like(1, params)
    half = like(0.5, params)
    rate = like(0.96, params)
    t = like(step, params)
    u_t = beta_1 * (one - half * rate**t)
    u_next = beta_1 * (one - half * rate**(t + one))
    momentum_scale = u_next / (one - u_product * u_next)
    gradient_scale = (one - u_t) / (one - u_product)
    second_correction = one - beta_2**t
    for i in range(params.shape[0]):
        g = grads[i]
        update_moments(m, v, i, g, beta_1, beta_2)
        m_hat = momentum_scale * m[i] + gradient_scale * g
        params[i] -= m_hat * lr / (np.sqrt(v[i] / second_correction) + epsilon)


@kernel
def rmsprop_update(params, mean_square, grads, lr, rho, epsilon):
    """ms = rho*ms + (1-rho)*g²; p -= lr * g / sqrt(ms + epsilon). Arrays: (n_params,)."""
    one = like(1, params)
    for i in range(params.shape[0]):
        g = grads[i]
        mean_square[i] = rho * mean_square[i] + (one - rho) * g * g
        params[i] -= lr * g / np.sqrt(mean_square[i] + epsilon)


@kernel
def rmsprop_extended_update(params, mean_square, velocity, mean_gradient, grads, lr, rho,
                            momentum, centered, epsilon):
    """Keras' RMSprop with momentum or ``centered``: ms = rho*ms + (1-rho)*g²; centred,
    mg = rho*mg + (1-rho)*g and the denominator is ms - mg² + epsilon (else ms +
    epsilon); step = lr * g / sqrt(denominator); with momentum, v = momentum*v + step
    and p -= v, else p -= step. Arrays: (n_params,)."""
    one = like(1, params)
    zero = like(0, params)
    for i in range(params.shape[0]):
        g = grads[i]
        mean_square[i] = rho * mean_square[i] + (one - rho) * g * g
        if centered:
            mean_gradient[i] = rho * mean_gradient[i] + (one - rho) * g
            denominator = mean_square[i] - mean_gradient[i] * mean_gradient[i] + epsilon
        else:
            denominator = mean_square[i] + epsilon
        step = lr * g / np.sqrt(denominator)
        if momentum != zero:
            velocity[i] = momentum * velocity[i] + step
            step = velocity[i]
        params[i] -= step


@kernel
def adagrad_update(params, accumulated, grads, lr, initial, epsilon):
    """Keras' Adagrad: acc += g²; p -= lr * g / sqrt(acc + epsilon), acc starting at
    ``initial``. The state holds acc - initial, so a zeroed state is a fresh one.
    Arrays: (n_params,)."""
    for i in range(params.shape[0]):
        g = grads[i]
        accumulated[i] += g * g
        params[i] -= lr * g / np.sqrt(accumulated[i] + initial + epsilon)


@kernel
def adamax_update(params, m, u, grads, lr, beta_1, beta_2, epsilon, step):
    """Keras' Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    p -= lr * m / ((1 - beta_1**t) (u + epsilon)). Arrays: (n_params,)."""
    one = like(1, params)
    correction = one - beta_1**like(step, params)
    for i in range(params.shape[0]):
        g = grads[i]
        m[i] += (g - m[i]) * (one - beta_1)
        u[i] = max(beta_2 * u[i], abs(g))
        params[i] -= lr * m[i] / (correction * (u[i] + epsilon))


@kernel
def decay_weights(params, decay):
    """Keras 3's decoupled weight decay: p -= p * decay (decay = lr * weight_decay),
    before the rule, in a pass of its own only when weight_decay is set."""
    for i in range(params.shape[0]):
        params[i] -= params[i] * decay


@kernel
def clip_by_norm(grads, start, size, clipnorm):
    """Keras' ``clip_by_norm`` of one variable's gradient grads[start:start+size]: scaled
    by clipnorm / ||g|| when its norm exceeds clipnorm."""
    total = like(0, grads)
    for i in range(start, start + size):
        total += grads[i] * grads[i]
    norm = np.sqrt(total)
    if norm > clipnorm:
        for i in range(start, start + size):
            grads[i] = grads[i] * clipnorm / norm


@kernel
def clip_each_variable(grads, layers, clipnorm):
    """``clipnorm``: each variable (a Dense kernel and bias, a BatchNormalization gamma
    and beta) clipped by its own norm; the places come from the ``layers`` table."""
    for l in range(layers.shape[0]):
        kind, n_out = layers[l, KIND], layers[l, N_OUT]
        first_size = layers[l, N_IN] * n_out if kind == DENSE else n_out
        if kind == DENSE or kind == BATCH_NORMALIZATION:
            if layers[l, W_OFFSET] >= 0:
                clip_by_norm(grads, layers[l, W_OFFSET], first_size, clipnorm)
            if layers[l, B_OFFSET] >= 0:
                clip_by_norm(grads, layers[l, B_OFFSET], n_out, clipnorm)


@kernel
def zero_untrained(grads, trainable):
    """Zero the gradient outside the ``trainable`` ranges (frozen layers' weights), so
    that clipping sees only what trains, as Keras' does."""
    zero = like(0, grads)
    start = 0
    for s in range(trainable.shape[0]):
        for i in range(start, trainable[s, 0]):
            grads[i] = zero
        start = trainable[s, 1]
    for i in range(start, grads.shape[0]):
        grads[i] = zero


@kernel
def clip_gradients(grads, layers, trainable, clipvalue, global_clipnorm, clipnorm):
    """Keras' clipping, in place; at most one option is non-zero (a zero is off):
    ``clipnorm`` per variable, else the whole gradient scaled to norm <= global_clipnorm,
    else each entry to [-clipvalue, clipvalue]. grads: (n_params,); the entries outside
    ``trainable`` are zeroed first."""
    zero = like(0, grads)
    zero_untrained(grads, trainable)
    if clipnorm > zero:
        clip_each_variable(grads, layers, clipnorm)
    elif global_clipnorm > zero:
        total = zero
        for i in range(grads.shape[0]):
            total += grads[i] * grads[i]
        norm = np.sqrt(total)
        if norm > global_clipnorm:
            scale = global_clipnorm / norm
            for i in range(grads.shape[0]):
                grads[i] *= scale
    elif clipvalue > zero:
        for i in range(grads.shape[0]):
            grads[i] = min(max(grads[i], -clipvalue), clipvalue)


# The rarer rules (Adam's amsgrad and RMSprop's momentum and centred forms among them),
# the clipping and the decay, compiled only where the model's
# ``train.Features`` says they are used. SGD, Adam and RMSprop are called directly: every
# training loop compiles them, and a gate would add a call per step.
gated_adagrad_update = gated(adagrad_update)
gated_adamax_update = gated(adamax_update)
gated_nadam_update = gated(nadam_update)
gated_amsgrad_update = gated(amsgrad_update)
gated_rmsprop_extended_update = gated(rmsprop_extended_update)
gated_clip_gradients = gated(clip_gradients)
gated_decay_weights = gated(decay_weights)


@kernel(inline=True)
def apply_update(params, state, grads, layers, trainable, code, hyper, lr, step, features):
    """One optimizer step. params, grads: (n_params,); state: (state_length(n_params),);
    layers: the network's layer table (read by ``clipnorm`` only); trainable: (k, 2)
    int64 [start, stop) ranges of the parameters that train (one range, all of them,
    unless layers are frozen); hyper: (N_HYPER,); ``step`` is the 1-based count of
    updates so far. ``features`` (``train.Features``): the rarer rules', the clipping's
    and the decay's kernels compile only where it says so.
    """
    n = params.shape[0]
    zero = like(0, hyper)
    if hyper[CLIPVALUE] != zero or hyper[GLOBAL_CLIPNORM] != zero or hyper[CLIPNORM] != zero:
        gated_clip_gradients(features.clipping, grads, layers, trainable, hyper[CLIPVALUE],
                             hyper[GLOBAL_CLIPNORM], hyper[CLIPNORM])
    u_product = zero
    if code == NADAM:  # once per step, whatever the ranges
        scalars = view_1d(state, N_SLOTS * n, N_SCALARS)
        u_product = nadam_u_product(scalars[U_PRODUCT], hyper[BETA_1], step)
        scalars[U_PRODUCT] = u_product
    for r in range(trainable.shape[0]):
        start = trainable[r, 0]
        size = trainable[r, 1] - start
        p, g = view_1d(params, start, size), view_1d(grads, start, size)
        if hyper[WEIGHT_DECAY] != zero:
            gated_decay_weights(features.weight_decay, p, lr * hyper[WEIGHT_DECAY])
        apply_rule(p, view_1d(state, start, size), view_1d(state, n + start, size),
                   view_1d(state, 2 * n + start, size), g, code, hyper, lr, step,
                   u_product, features)


@kernel(inline=True)
def apply_rule(params, first, second, third, grads, code, hyper, lr, step, u_product,
               features):
    """The rule ``code`` on one range of the parameters and its three state slots."""
    zero = like(0, hyper)
    if code == SGD:
        sgd_update(params, first, grads, lr, hyper[MOMENTUM], hyper[NESTEROV] != 0)
    elif code == ADAM:
        if hyper[AMSGRAD] == zero:
            adam_update(params, first, second, grads, lr, hyper[BETA_1], hyper[BETA_2],
                        hyper[EPSILON], step)
        else:
            gated_amsgrad_update(features.other_rules, params, first, second, third, grads,
                                 lr, hyper[BETA_1], hyper[BETA_2], hyper[EPSILON], step)
    elif code == RMSPROP:
        if hyper[CENTERED] == zero and hyper[RMSPROP_MOMENTUM] == zero:
            rmsprop_update(params, first, grads, lr, hyper[RHO], hyper[EPSILON])
        else:
            gated_rmsprop_extended_update(features.other_rules, params, first, second, third,
                                          grads, lr, hyper[RHO], hyper[RMSPROP_MOMENTUM],
                                          hyper[CENTERED] != zero, hyper[EPSILON])
    elif code == ADAGRAD:
        gated_adagrad_update(features.other_rules, params, first, grads, lr,
                             hyper[INITIAL_ACCUMULATOR], hyper[EPSILON])
    elif code == ADAMAX:
        gated_adamax_update(features.other_rules, params, first, second, grads, lr,
                            hyper[BETA_1], hyper[BETA_2], hyper[EPSILON], step)
    elif code == NADAM:
        gated_nadam_update(features.other_rules, params, first, second, grads, lr,
                           hyper[BETA_1], hyper[BETA_2], hyper[EPSILON], step, u_product)
