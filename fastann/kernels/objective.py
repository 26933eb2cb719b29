"""The full-batch objective of scikit-learn's MLPs, for ``solver="lbfgs"``.

``loss_and_gradient`` is one kernel call per evaluation of the objective: the forward
pass over every row, the loss fused with the output layer, the backward pass, and the
L2 penalty on the weights (not the biases), all divided by the sum of sample weights,
as scikit-learn's ``_loss_grad_lbfgs``:
``(sum_i w_i loss_i + alpha / 2 * sum ||W||^2) / sum_i w_i``.
"""
from ._jit import kernel, like
from .losses import gives_dZ
from .network import backward, forward, layer_params, output_loss


@kernel
def add_l2(grads, params, layers, alpha, scale):
    """grads[W] += scale * alpha * W for every layer's weights; return sum ||W||^2.

    grads, params: (n_params,); layers: (n_layers, N_COLUMNS) int64.
    """
    total = like(0, params)
    step = alpha * scale
    for l in range(layers.shape[0]):
        W, _ = layer_params(params, layers, l)
        dW, _ = layer_params(grads, layers, l)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                w = W[i, j]
                total += w * w
                dW[i, j] += step * w
    return total


@kernel(entry=True)
def loss_and_gradient(scratch, dataset, params, network, features, objective, alpha,
                      weight_sum):
    """Return the objective and write its gradient into ``scratch.grads`` (n_params,).

    scratch, dataset, network, features, objective: the ``train`` module's tuples
    (features of inference: no rule compiles; of scratch only
    grads, Z, A and delta are used; the dataset's weight are the sample weights; the
    network's regularization is not: this objective has its own L2 term, ``alpha``).
    The data term and the gradient are divided by ``weight_sum`` (the sum of the sample
    weights).
    """
    grads, Z_buffer, A_buffer, delta = scratch.grads, scratch.Z, scratch.A, scratch.delta
    X, Y, weight = dataset
    layers, slopes = network.layers, network.slopes
    loss_code, loss_hyper = objective.loss_code, objective.loss_hyper
    n = X.shape[0]
    one = like(1, params)
    half = like(0.5, params)
    inverse = one / weight_sum
    forward(Z_buffer, A_buffer, X, params, layers, slopes, n, not gives_dZ(loss_code),
            features)
    data = output_loss(delta, Z_buffer, A_buffer, Y, weight, layers, n, loss_code,
                       loss_hyper, inverse, features)
    backward(grads, delta, Z_buffer, A_buffer, X, params, layers, slopes, n, loss_code,
             features)
    squares = add_l2(grads, params, layers, alpha, inverse)
    return data * inverse + half * alpha * squares * inverse
