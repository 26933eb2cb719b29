"""A whole network's forward and backward pass over the flat buffers.

The network is described by ``layers``, an int64 table with one row per dense layer
(columns below, computed once by ``fastann.layout``). Weight matrices and activation
blocks are views into the flat buffers, made here by reshaping slices: no allocation.
"""
from ._jit import kernel, view_1d, view_2d
from .activations import activation_backward, activation_forward
from .dense import RULE, dense_backward, dense_backward_input, dense_forward
from .losses import gives_dZ, loss_and_delta

# Columns of the ``layers`` table.
N_IN, N_OUT, W_OFFSET, B_OFFSET, UNIT_OFFSET, ACTIVATION = range(6)
N_COLUMNS = 6


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
def forward(Z_buffer, A_buffer, X, params, layers, slopes, capacity, output_activation):
    """Forward pass of the batch X (rows, n_features); returns the output block A (rows, n_out).

    Z_buffer, A_buffer: (capacity * total_units,); slopes: (n_layers,). With
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
            activation_forward(A, Z, layers[l, ACTIVATION], slopes[l])
        A_prev = A
    return A_prev


@kernel(inline=True)
def output_loss(delta, Z_buffer, A_buffer, Y, weight, layers, capacity, loss_code, loss_hyper,
                scale):
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
                          loss_code, loss_hyper, scale)


@kernel(inline=True)
def backward(grads, delta, Z_buffer, A_buffer, X, params, layers, slopes, capacity,
             loss_code):
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
                                layers[l, ACTIVATION], slopes[l])
        A_prev = X if l == 0 else layer_block(A_buffer, layers, l - 1, rows, capacity)
        dW, db = layer_params(grads, layers, l)
        dense_backward(dW, db, dZ, A_prev, RULE)
        if l > 0:  # the input itself needs no gradient
            W, _ = layer_params(params, layers, l)
            dense_backward_input(view_2d(delta, (1 - slot) * half, rows, n_in), dZ, W, RULE)
            slot = 1 - slot
