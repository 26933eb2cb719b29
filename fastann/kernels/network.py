"""A whole network's forward and backward pass over the flat buffers.

The network is described by ``layers``, an int64 table with one row per layer
(columns below, computed once by ``fastann.layout``). Weight matrices and activation
blocks are views into the flat buffers, made here by reshaping slices: no allocation.

Two versions of the passes: ``forward``/``backward`` for a stack of Dense layers with
biases (the common case, compiled exactly as before any other layer type existed), and
``forward_layers``/``backward_layers`` for any stack, which dispatch on each row's
KIND and also take ``extras``, the tuple of buffers only the other layer types use:

    (moving (n_moving,)            BatchNormalization's moving means and variances,
     moving_backup (n_moving,)     their copy at the start of an epoch,
     scratch (n_scratch,)          per-layer blocks, see SCRATCH_OFFSET,
     floats (n_layers, N_FLOATS)   per-layer numbers, dtype,
     bits (n_layers, N_BITS)       per-layer uint64: Dropout's salt and threshold,
     rng_state (1,) uint64)        the model's random state (Dropout's masks).

The training loop picks one version with ``extras is None``, which Numba decides while
compiling (a None argument prunes the other branch), so a Dense-only network never
compiles the other layer types.
"""
from ._jit import kernel, view_1d, view_2d
from .activations import activation_backward, activation_forward
from .dense import RULE, dense_backward, dense_backward_input, dense_forward
from .dropout import copy_block, dropout_backward, dropout_forward
from .losses import batch_contribution, batch_scale, gives_dZ, loss_and_delta
from .normalization import batchnorm_backward, batchnorm_forward

# Columns of the ``layers`` table. KIND is one of the layer codes below. For Dense,
# W_OFFSET and B_OFFSET locate W and b in the parameters (B_OFFSET -1: no bias, and
# SCRATCH_OFFSET then holds a zero bias and a discarded bias gradient, n_out each).
# For BatchNormalization they locate gamma and beta (-1 where absent); MOVING_OFFSET
# locates moving_mean then moving_variance (n_out each) in ``moving``, SCRATCH_OFFSET a
# block of 6 * n_out: batch mean, inv_std, the two gradient sums, ones and zeros (for
# an absent gamma or beta). FROZEN is 1 for a layer whose weights do not train (Keras'
# ``trainable=False``): a frozen BatchNormalization normalises with its moving statistics
# in training too, and leaves them as they are.
N_IN, N_OUT, W_OFFSET, B_OFFSET, UNIT_OFFSET, ACTIVATION, KIND, MOVING_OFFSET, \
    SCRATCH_OFFSET, FROZEN = range(10)
N_COLUMNS = 10
# Layer codes (the KIND column).
DENSE, ACTIVATION_LAYER, DROPOUT, BATCH_NORMALIZATION = range(4)
# Columns of ``floats``: Dropout's 1 / (1 - rate); BatchNormalization's momentum and
# epsilon. Columns of ``bits``: Dropout's salt and keep threshold.
SCALE, MOMENTUM, EPSILON = range(3)
N_FLOATS = 3
SALT, THRESHOLD = range(2)
N_BITS = 2


@kernel(inline=True)
def layer_params(flat, layers, l):
    """Views (W (n_in, n_out), b (n_out,)) of layer ``l`` in a flat parameter-shaped buffer."""
    n_in, n_out = layers[l, N_IN], layers[l, N_OUT]
    w, b = layers[l, W_OFFSET], layers[l, B_OFFSET]
    return view_2d(flat, w, n_in, n_out), view_1d(flat, b, n_out)


@kernel(inline=True)
def layer_block(buffer, layers, l, rows, capacity):
    """View (rows, n_out) of layer ``l``'s block in an activation buffer sized for
    ``capacity`` rows per layer."""
    n_out = layers[l, N_OUT]
    return view_2d(buffer, capacity * layers[l, UNIT_OFFSET], rows, n_out)


@kernel(inline=True)
def forward(Z_buffer, A_buffer, X, params, layers, slopes, capacity, output_activation,
            features):
    """Forward pass of the batch X (rows, n_features); returns the output block A (rows, n_out).

    Z_buffer, A_buffer: (capacity * total_units,); slopes: (n_layers,); features: the
    model's ``train.Features`` (which option families compile). With
    ``output_activation`` false the output layer's A is left for the loss to compute
    (a cross-entropy does, see ``losses.gives_dZ``).
    """
    rows = X.shape[0]
    last = layers.shape[0] - 1
    A_prev = X
    for l in range(last + 1):
        W, b = layer_params(params, layers, l)
        Z = layer_block(Z_buffer, layers, l, rows, capacity)
        A = layer_block(A_buffer, layers, l, rows, capacity)
        dense_forward(Z, A_prev, W, b, RULE)
        if l < last or output_activation:
            activation_forward(A, Z, layers[l, ACTIVATION], slopes[l],
                               features.smooth_activations)
        A_prev = A
    return A_prev


@kernel(inline=True)
def output_loss(delta, Z_buffer, A_buffer, Y, weight, layers, capacity, loss_code, loss_hyper,
                scale, features):
    """Return the weighted sum of the batch's per-row losses and write the output layer's
    gradient (dZ, or dA for a loss not fused with its activation; scaled by ``scale``)
    at the start of ``delta``, after ``forward`` on that batch.

    delta: (2 * capacity * max_units,), two halves; Y: (rows, n_out); weight: (rows,);
    loss_hyper: the loss's hyper-parameters (losses.N_HYPER,).
    """
    rows = Y.shape[0]
    last = layers.shape[0] - 1
    n_out = layers[last, N_OUT]
    return loss_and_delta(view_2d(delta, 0, rows, n_out),
                          layer_block(Z_buffer, layers, last, rows, capacity),
                          layer_block(A_buffer, layers, last, rows, capacity), Y, weight,
                          loss_code, loss_hyper, scale, features.losses)


@kernel(inline=True)
def reduced_loss(delta, Z_buffer, A_buffer, Y, weight, layers, capacity, loss_code,
                 loss_hyper, features):
    """``output_loss`` under the loss's reduction: (the batch's share of its phase's
    loss total, ``losses.batch_contribution``; the scale its gradient got,
    ``losses.batch_scale``), arrays as ``output_loss``'s."""
    scale = batch_scale(weight, loss_hyper)
    total = output_loss(delta, Z_buffer, A_buffer, Y, weight, layers, capacity, loss_code,
                        loss_hyper, scale, features)
    return batch_contribution(total, Y.shape[0], scale, loss_hyper), scale


@kernel(inline=True)
def backward(grads, delta, Z_buffer, A_buffer, X, params, layers, slopes, capacity,
             loss_code, features):
    """Fill ``grads`` (n_params,) by backpropagating the output gradient that
    ``output_loss`` left in ``delta``, whose two halves serve in turn as dZ and dA_prev.

    X: (rows, n_features), the batch that ``forward`` saw. Each step is called from one
    place only (the loop turns dA into dZ at its top), so each is compiled once.
    """
    rows = X.shape[0]
    half = delta.shape[0] // 2
    last = layers.shape[0] - 1
    slot = 0
    for l in range(last, -1, -1):
        n_in, n_out = layers[l, N_IN], layers[l, N_OUT]
        dZ = view_2d(delta, slot * half, rows, n_out)
        if l < last or not gives_dZ(loss_code):
            activation_backward(dZ, layer_block(Z_buffer, layers, l, rows, capacity),
                                layer_block(A_buffer, layers, l, rows, capacity),
                                layers[l, ACTIVATION], slopes[l],
                                features.smooth_activations)
        A_prev = X if l == 0 else layer_block(A_buffer, layers, l - 1, rows, capacity)
        dW, db = layer_params(grads, layers, l)
        dense_backward(dW, db, dZ, A_prev, RULE)
        if l > 0:  # the input itself needs no gradient
            W, _ = layer_params(params, layers, l)
            dense_backward_input(view_2d(delta, (1 - slot) * half, rows, n_in), dZ, W, RULE)
            slot = 1 - slot


@kernel(inline=True)
def forward_layers(Z_buffer, A_buffer, X, params, layers, slopes, capacity,
                   output_activation, features, extras, training):
    """``forward`` for any stack of layers; ``training`` switches Dropout on and
    BatchNormalization to batch statistics (updating the moving ones in ``extras``),
    unless the layer is FROZEN."""
    moving, _, scratch, floats, bits, rng_state = extras
    rows = X.shape[0]
    last = layers.shape[0] - 1
    A_prev = X
    for l in range(last + 1):
        kind = layers[l, KIND]
        n_in, n_out = layers[l, N_IN], layers[l, N_OUT]
        w, b, s = layers[l, W_OFFSET], layers[l, B_OFFSET], layers[l, SCRATCH_OFFSET]
        Z = layer_block(Z_buffer, layers, l, rows, capacity)
        A = layer_block(A_buffer, layers, l, rows, capacity)
        activate = l < last or output_activation
        if kind == DENSE:
            bias = view_1d(params, b, n_out) if b >= 0 else view_1d(scratch, s, n_out)
            dense_forward(Z, A_prev, view_2d(params, w, n_in, n_out), bias, RULE)
        elif kind == ACTIVATION_LAYER:
            copy_block(Z, A_prev)
        elif kind == DROPOUT:
            activate = False
            if training:
                dropout_forward(A, Z, A_prev, floats[l, SCALE], bits[l, SALT],
                                bits[l, THRESHOLD], rng_state)
            else:
                copy_block(A, A_prev)
        else:
            activate = False
            m = layers[l, MOVING_OFFSET]
            gamma = view_1d(params, w, n_out) if w >= 0 else view_1d(scratch, s + 4 * n_out,
                                                                     n_out)
            beta = view_1d(params, b, n_out) if b >= 0 else view_1d(scratch, s + 5 * n_out,
                                                                    n_out)
            batchnorm_forward(A, Z, view_1d(scratch, s, n_out),
                              view_1d(scratch, s + n_out, n_out), view_1d(moving, m, n_out),
                              view_1d(moving, m + n_out, n_out), A_prev, gamma, beta,
                              floats[l, MOMENTUM], floats[l, EPSILON],
                              training and layers[l, FROZEN] == 0)
        if activate:
            activation_forward(A, Z, layers[l, ACTIVATION], slopes[l],
                               features.smooth_activations)
        A_prev = A
    return A_prev


@kernel(inline=True)
def backward_layers(grads, delta, Z_buffer, A_buffer, X, params, layers, slopes, capacity,
                    loss_code, features, extras):
    """``backward`` for any stack of layers, after ``forward_layers`` in training mode.

    Dense layers pass dA_prev to the other half of ``delta``; the other layer types have
    as many inputs as outputs and turn dA into dA_prev in place.
    """
    _, _, scratch, _, _, _ = extras
    rows = X.shape[0]
    half = delta.shape[0] // 2
    last = layers.shape[0] - 1
    slot = 0
    for l in range(last, -1, -1):
        kind = layers[l, KIND]
        n_in, n_out = layers[l, N_IN], layers[l, N_OUT]
        w, b, s = layers[l, W_OFFSET], layers[l, B_OFFSET], layers[l, SCRATCH_OFFSET]
        d = view_2d(delta, slot * half, rows, n_out)
        Z = layer_block(Z_buffer, layers, l, rows, capacity)
        if kind == DENSE or kind == ACTIVATION_LAYER:
            if l < last or not gives_dZ(loss_code):
                activation_backward(d, Z, layer_block(A_buffer, layers, l, rows, capacity),
                                    layers[l, ACTIVATION], slopes[l],
                                features.smooth_activations)
        if kind == DENSE:
            A_prev = X if l == 0 else layer_block(A_buffer, layers, l - 1, rows, capacity)
            d_bias = view_1d(grads, b, n_out) if b >= 0 else view_1d(scratch, s + n_out, n_out)
            dense_backward(view_2d(grads, w, n_in, n_out), d_bias, d, A_prev, RULE)
            if l > 0:
                dense_backward_input(view_2d(delta, (1 - slot) * half, rows, n_in), d,
                                     view_2d(params, w, n_in, n_out), RULE)
                slot = 1 - slot
        elif kind == DROPOUT:
            dropout_backward(d, Z)
        elif kind == BATCH_NORMALIZATION:
            gamma = view_1d(params, w, n_out) if w >= 0 else view_1d(scratch, s + 4 * n_out,
                                                                     n_out)
            sum_d = view_1d(scratch, s + 2 * n_out, n_out)
            sum_d_x_hat = view_1d(scratch, s + 3 * n_out, n_out)
            batchnorm_backward(d, sum_d, sum_d_x_hat, Z, gamma,
                               view_1d(scratch, s + n_out, n_out), layers[l, FROZEN] == 0)
            if w >= 0:
                copy_vector(view_1d(grads, w, n_out), sum_d_x_hat)
            if b >= 0:
                copy_vector(view_1d(grads, b, n_out), sum_d)


@kernel(inline=True)
def copy_vector(destination, source):
    for i in range(source.shape[0]):
        destination[i] = source[i]


@kernel(inline=True)
def save_moving(extras):
    """Copy the moving statistics into their backup (at the start of an epoch)."""
    moving, moving_backup, _, _, _, _ = extras
    copy_vector(moving_backup, moving)


@kernel(inline=True)
def restore_moving(extras):
    """Copy the moving statistics back from their backup (after a non-finite epoch)."""
    moving, moving_backup, _, _, _, _ = extras
    copy_vector(moving, moving_backup)
