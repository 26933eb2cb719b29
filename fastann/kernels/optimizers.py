"""Update rules over the flat parameter, gradient and state buffers, by integer code.

They follow Keras 3's formulas. ``weight_decay`` is classic L2: ``wd * params`` is
added to the gradient before the rule (as PyTorch's ``weight_decay``). The update
loops know nothing of layers: one pass over every parameter.
"""
import numpy as np

from ._jit import kernel, like, view_1d

SGD, ADAM, RMSPROP, ADAGRAD, ADAMAX = range(5)

# Positions in the hyper-parameter vector (model dtype, (N_HYPER,)).
MOMENTUM, BETA_1, BETA_2, RHO, EPSILON, WEIGHT_DECAY, NESTEROV = 0, 0, 1, 0, 2, 3, 4
INITIAL_ACCUMULATOR = 1
CLIPVALUE, GLOBAL_CLIPNORM = 5, 6  # 0: off
N_HYPER = 7
# Slots of the flat optimizer state (N_SLOTS * n_params,), each laid out like the
# parameters: SGD's velocity, Adam's two moments, RMSprop's mean of squared gradients.
N_SLOTS = 2


@kernel
def sgd_update(params, velocity, grads, lr, momentum, nesterov, weight_decay):
    """p -= lr*g, or with momentum v = momentum*v - lr*g; p += v (Nesterov: momentum*v - lr*g).

    params, velocity, grads: (n_params,).
    """
    zero = like(0, params)
    for i in range(params.shape[0]):
        g = grads[i] + weight_decay * params[i]
        if momentum == zero:
            params[i] -= lr * g
        else:
            v = momentum * velocity[i] - lr * g
            velocity[i] = v
            params[i] += momentum * v - lr * g if nesterov else v


@kernel
def adam_update(params, m, v, grads, lr, beta_1, beta_2, epsilon, weight_decay, step):
    """Adam with bias correction folded into the step size, ``step`` counted from 1.

    params, m, v, grads: (n_params,).
    """
    one = like(1, params)
    t = like(step, params)
    alpha = lr * np.sqrt(one - beta_2**t) / (one - beta_1**t)
    for i in range(params.shape[0]):
        g = grads[i] + weight_decay * params[i]
        m[i] += (g - m[i]) * (one - beta_1)
        v[i] += (g * g - v[i]) * (one - beta_2)
        params[i] -= alpha * m[i] / (np.sqrt(v[i]) + epsilon)


@kernel
def rmsprop_update(params, mean_square, grads, lr, rho, epsilon, weight_decay):
    """ms = rho*ms + (1-rho)*g²; p -= lr * g / sqrt(ms + epsilon). Arrays: (n_params,)."""
    one = like(1, params)
    for i in range(params.shape[0]):
        g = grads[i] + weight_decay * params[i]
        mean_square[i] = rho * mean_square[i] + (one - rho) * g * g
        params[i] -= lr * g / np.sqrt(mean_square[i] + epsilon)


@kernel
def adagrad_update(params, accumulated, grads, lr, initial, epsilon, weight_decay):
    """Keras' Adagrad: acc += g²; p -= lr * g / sqrt(acc + epsilon), acc starting at
    ``initial``. The state holds acc - initial, so a zeroed state is a fresh one.
    Arrays: (n_params,)."""
    for i in range(params.shape[0]):
        g = grads[i] + weight_decay * params[i]
        accumulated[i] += g * g
        params[i] -= lr * g / np.sqrt(accumulated[i] + initial + epsilon)


@kernel
def adamax_update(params, m, u, grads, lr, beta_1, beta_2, epsilon, weight_decay, step):
    """Keras' Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    p -= lr * m / ((1 - beta_1**t) (u + epsilon)). Arrays: (n_params,)."""
    one = like(1, params)
    correction = one - beta_1**like(step, params)
    for i in range(params.shape[0]):
        g = grads[i] + weight_decay * params[i]
        m[i] += (g - m[i]) * (one - beta_1)
        u[i] = max(beta_2 * u[i], abs(g))
        params[i] -= lr * m[i] / (correction * (u[i] + epsilon))


@kernel
def clip_gradients(grads, clipvalue, global_clipnorm):
    """Keras' clipping, in place: each entry to [-clipvalue, clipvalue], then the whole
    gradient scaled to norm <= global_clipnorm (a zero turns either off). (n_params,)."""
    zero = like(0, grads)
    if clipvalue > zero:
        for i in range(grads.shape[0]):
            grads[i] = min(max(grads[i], -clipvalue), clipvalue)
    if global_clipnorm > zero:
        total = zero
        for i in range(grads.shape[0]):
            total += grads[i] * grads[i]
        norm = np.sqrt(total)
        if norm > global_clipnorm:
            scale = global_clipnorm / norm
            for i in range(grads.shape[0]):
                grads[i] *= scale


@kernel(inline=True)
def state_slots(code, hyper):
    """How many slots of the optimizer state the rule reads and writes (plain SGD: none)."""
    if code == ADAM or code == ADAMAX:
        return 2
    if code == SGD and hyper[MOMENTUM] == like(0, hyper):
        return 0
    return 1


@kernel(inline=True)
def apply_update(params, state, grads, code, hyper, lr, step):
    """One optimizer step. params, grads: (n_params,); state: (N_SLOTS * n_params,);
    hyper: (N_HYPER,); ``step`` is the 1-based count of updates so far."""
    n = params.shape[0]
    first, second = view_1d(state, 0, n), view_1d(state, n, n)
    zero = like(0, hyper)
    if hyper[CLIPVALUE] != zero or hyper[GLOBAL_CLIPNORM] != zero:
        clip_gradients(grads, hyper[CLIPVALUE], hyper[GLOBAL_CLIPNORM])
    if code == SGD:
        sgd_update(params, first, grads, lr, hyper[MOMENTUM], hyper[NESTEROV] != 0,
                   hyper[WEIGHT_DECAY])
    elif code == ADAM:
        adam_update(params, first, second, grads, lr, hyper[BETA_1], hyper[BETA_2],
                    hyper[EPSILON], hyper[WEIGHT_DECAY], step)
    elif code == RMSPROP:
        rmsprop_update(params, first, grads, lr, hyper[RHO], hyper[EPSILON],
                       hyper[WEIGHT_DECAY])
    elif code == ADAGRAD:
        adagrad_update(params, first, grads, lr, hyper[INITIAL_ACCUMULATOR], hyper[EPSILON],
                       hyper[WEIGHT_DECAY])
    elif code == ADAMAX:
        adamax_update(params, first, second, grads, lr, hyper[BETA_1], hyper[BETA_2],
                      hyper[EPSILON], hyper[WEIGHT_DECAY], step)
