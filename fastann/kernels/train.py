"""The fused training loop and the batched inference loop (prediction, evaluation).

``train_epochs`` runs many epochs in one call: shuffling, mini-batch slicing, forward,
loss, backward, update, metrics and validation, with every buffer passed in by the
caller, so nothing is allocated per epoch. After each epoch it checks that the loss and
the parameters are finite; if not it restores the parameters and optimizer state of
the last good epoch and stops with ``counters[STATUS] = NON_FINITE``.
"""
from collections import namedtuple

import numpy as np

from ._jit import kernel, like, view_1d, view_rows
from . import losses, optimizers
from .activations import SMOOTH
from .losses import gives_dZ
from .metrics import accumulate_metrics, finish_metrics, reset_metrics
from .network import (ACTIVATION, backward, backward_layers, forward, forward_layers,
                      reduced_loss, restore_moving, save_moving)
from .optimizers import apply_update
from .regularizers import add_penalty
from .rng import shuffle_order

# The kernels' arguments, grouped by what they are (as llm.c groups its buffers); the
# wrapper builds them, the kernels unpack them. Each is a tuple of arrays and numbers.
State = namedtuple("State", "params opt_state rng_state counters")
State.__doc__ = """The model state training updates in place: params (n_params,),
opt_state (state_length(n_params),), rng_state (1,) uint64, counters (N_COUNTERS,) int64."""
Logs = namedtuple("Logs", "loss metrics val_loss val_metrics")
Logs.__doc__ = """Per-epoch outputs: loss, val_loss (n_epochs,); metrics, val_metrics
(n_epochs, n_metrics)."""
Scratch = namedtuple("Scratch", "grads backup_params backup_state Z A delta order batch_X "
                                "batch_Y batch_weight")
Scratch.__doc__ = """Scratch buffers (``layout.Workspace``): grads, backup_params
(n_params,); backup_state like opt_state; Z, A (capacity * total_units,); delta
(2 * capacity * max_units,); order (n,) int64; batch_X (capacity, n_features); batch_Y
(capacity, n_out); batch_weight (capacity,)."""
Dataset = namedtuple("Dataset", "X Y weight")
Dataset.__doc__ = """Rows to train on or score: X (n, n_features), Y (n, n_out), weight
(n,); zero rows for none."""
Network = namedtuple("Network", "layers slopes regularization")
Network.__doc__ = """The network: its layer table (n_layers, network.N_COLUMNS), the
leaky activations' slopes (n_layers,) and the weight penalties (n_layers,
regularizers.N_COEFFICIENTS)."""
Objective = namedtuple("Objective", "loss_code loss_hyper metric_codes")
Objective.__doc__ = """What is scored: the loss's code and hyper-parameters
(losses.N_HYPER,) and the metrics' codes (n_metrics,)."""
Update = namedtuple("Update", "code hyper rates trainable state_used")
Update.__doc__ = """The optimizer: its rule's code, its hyper-parameters
(optimizers.N_HYPER,), the learning rates (n_epochs, k) of ``train_epochs``, the
parameters it trains, int64 (k, 2) [start, stop) ranges (``all_trainable`` for every
parameter; fewer where layers are frozen), and how much of the optimizer state, from
its start, the rule reads and writes (``Optimizer.state_in_use``: what the per-epoch
backup copies)."""

Features = namedtuple("Features", "smooth_activations losses other_rules clipping "
                                 "weight_decay")
Features.__doc__ = """Which option families the kernels compile, each None (never compiled:
see ``_jit.gated``) or True: smooth_activations (``activations.SMOOTH``); losses, a
``LossKernels``; other_rules, the optimizer rules outside CLASSIC_RULES; the gradient
clipping; the decoupled weight decay. Built by ``features``."""
LossKernels = namedtuple("LossKernels", "focal poisson_deviance regression")
LossKernels.__doc__ = """The losses' kernels of their own (``losses.focal_loss_and_delta``,
``poisson_deviance_and_delta``, ``regression_loss_and_delta``), each None or True."""

# The rules every training loop compiles: the tutorials', scikit-learn's and Keras'
# default.
CLASSIC_RULES = (optimizers.SGD, optimizers.ADAM, optimizers.RMSPROP)
# Every family compiled: what a model using any option outside CLASSIC_RULES and the
# classic activations and losses gets, and what callers that run the kernels without a
# model's options use (tests, benchmarks).
EVERY_FEATURE = Features(True, LossKernels(True, True, True), True, True, True)
# The lean specialisation: the long-standing activations (linear, relu, leaky relu,
# sigmoid, tanh, softmax, step), losses (the cross-entropies, mean squared error) and
# CLASSIC_RULES in their plain forms (no amsgrad, RMSprop neither centred nor with
# momentum), without clipping or weight decay; the other families (most of the
# first fit's compile time) left out.
LEAN = Features(None, LossKernels(None, None, None), None, None, None)
# The optimizer hyper-parameters that, when non-zero, take a model out of the lean
# loop: for any rule, and for one of CLASSIC_RULES (its rarer forms).
OUTSIDE_LEAN = (optimizers.CLIPVALUE, optimizers.GLOBAL_CLIPNORM, optimizers.CLIPNORM,
                optimizers.WEIGHT_DECAY)
RULE_FORMS_OUTSIDE_LEAN = {optimizers.ADAM: (optimizers.AMSGRAD,),
                           optimizers.RMSPROP: (optimizers.CENTERED,
                                                optimizers.RMSPROP_MOMENTUM)}
_NO_UPDATE = {"other_rules": None, "clipping": None, "weight_decay": None}


def features(network, objective, update=None):
    """The ``Features`` of the kernels' ``Network``, ``Objective`` and, for training,
    ``Update``: LEAN when every option is in it, else EVERY_FEATURE, so however many
    options a session tries, each loop compiles at most two specialisations (per dtype
    and layer kinds). Without an ``update`` (inference): no rarer rule, clipping or
    decay (no rule is called)."""
    loss_code = objective.loss_code
    extended = (any(int(code) in SMOOTH for code in network.layers[:, ACTIVATION])
                or losses.has_own_kernel(loss_code))
    if update is not None:
        hyper = update.hyper
        options = OUTSIDE_LEAN + RULE_FORMS_OUTSIDE_LEAN.get(int(update.code), ())
        extended = extended or update.code not in CLASSIC_RULES or any(
            hyper[i] != 0 for i in options)
    chosen = EVERY_FEATURE if extended else LEAN
    return chosen if update is not None else chosen._replace(**_NO_UPDATE)


def all_trainable(n_params):
    """``Update.trainable`` when every parameter trains: one range."""
    return np.array([[0, n_params]], np.int64)


# Positions in the int64 ``counters`` array, the model's running totals.
EPOCHS, STEPS, STATUS = range(3)
N_COUNTERS = 3
OK, NON_FINITE = 0, 1
TRAINING, VALIDATION = 0, 1  # the phases of an epoch


@kernel(inline=True)
def all_finite(values):
    """True when no entry of the 1-D array is NaN or infinite."""
    for i in range(values.shape[0]):
        if not np.isfinite(values[i]):
            return False
    return True


@kernel(inline=True)
def copy_into(destination, source):
    """destination[:] = source for 1-D arrays, as a plain loop: Numba's slice assignment
    compiles shape-checking and message-formatting code that costs seconds of compile."""
    for i in range(source.shape[0]):
        destination[i] = source[i]


@kernel(inline=True)
def fill(destination, value):
    """destination[:] = value for a 1-D array, as a plain loop (see ``copy_into``)."""
    for i in range(destination.shape[0]):
        destination[i] = value


@kernel(inline=True)
def copy_row(destination, source, row):
    """Copy row ``row`` of the 2-D ``source`` into the 1-D ``destination``."""
    for j in range(source.shape[1]):
        destination[j] = source[row, j]


@kernel(entry=True)
def infer_dataset(out, metric_means, scratch, dataset, params, network, features, extras,
                  objective, metric_state, capacity):
    """Run the network over ``dataset.X`` (n, n_features) in blocks of ``capacity`` rows.

    When ``out`` has rows, copy the outputs into it (n, n_out): prediction. When Y has
    rows, score the outputs against Y (n, n_out) with weight (n,): return the weighted
    mean loss and write each metric's mean into metric_means (n_metrics,); the gradient
    written into ``delta`` is scratch. The loss includes the regularizers' penalty
    (``regularization``: (n_layers, N_COEFFICIENTS), batch-mean terms over the n rows
    scored). Under a reduction other than Keras' default, the blocks are the batches
    the loss is reduced over (Keras' evaluate reduces each batch and averages them by
    rows). Prediction and evaluation share this one kernel so that a model compiles
    one inference loop, not two. ``extras``: None for a stack of Dense layers with
    biases, else the buffers of ``network.forward_layers`` (run in inference mode: no
    dropout, BatchNormalization's moving statistics). ``features``: the ``Features``
    of inference (``features`` without an update). ``metric_state``: None, or the
    counts of the confusion-count metrics (see ``metrics.py``), reset here. Of
    ``scratch`` (a ``Scratch``) only Z, A and delta are used.
    """
    X, Y, weight = dataset
    layers, slopes, regularization = network
    loss_code, loss_hyper, metric_codes = objective
    Z_buffer, A_buffer, delta = scratch.Z, scratch.A, scratch.delta
    n = X.shape[0]
    keep_outputs = out.shape[0] > 0
    score = Y.shape[0] > 0
    zero = like(0, params)
    one = like(1, params)
    reset_metrics(metric_means, metric_state)
    total = zero
    for start in range(0, n, capacity):
        stop = min(start + capacity, n)
        if extras is None:  # decided at compile time: see network.py
            A = forward(Z_buffer, A_buffer, X[start:stop], params, layers, slopes, capacity,
                        True, features)
        else:
            A = forward_layers(Z_buffer, A_buffer, X[start:stop], params, layers, slopes,
                               capacity, True, features, extras, False)
        if keep_outputs:
            for r in range(stop - start):
                copy_row(out[start + r], A, r)
        if score:
            accumulate_metrics(metric_means, A, Y[start:stop], metric_codes, metric_state)
            share, _ = reduced_loss(delta, Z_buffer, A_buffer, Y[start:stop],
                                    weight[start:stop], layers, capacity, loss_code,
                                    loss_hyper, features)
            total += share
    scale = one / like(max(n, 1), params)
    finish_metrics(metric_means, metric_codes, metric_state, scale)
    if not score:
        return zero
    # delta stands in for the gradient buffer: with_gradient=False writes nothing
    return total * scale + add_penalty(delta, params, layers, regularization, scale, False)


@kernel(inline=True)
def gather_rows(batch_X, batch_Y, batch_weight, X, Y, weight, order, start, stop):
    """Copy rows order[start:stop] of X, Y, weight into the first rows of the batch buffers."""
    for i in range(stop - start):
        row = order[start + i]
        copy_row(batch_X[i], X, row)
        copy_row(batch_Y[i], Y, row)
        batch_weight[i] = weight[row]


@kernel(entry=True)
def train_epochs(state, logs, scratch, training_set, validation_set, network, features,
                 extras, objective, metric_state, update, capacity, shuffle):
    """Train for ``update.rates.shape[0]`` epochs; return how many completed.

    state (a ``State``), updated in place; logs (``Logs``), written per epoch; scratch
    (``Scratch``); the training and validation sets (``Dataset``s, the validation set
    zero rows for none); network (``Network``); features (``Features``, of training:
    which option families compile); objective (``Objective``); update
    (``Update``): rates (n_epochs, k) holds the learning rate of each epoch's steps,
    step b at ``rates[epoch, min(b, k - 1)]`` (k = 1: one rate per epoch; k = steps per
    epoch: a rate per step, as a step schedule gives). ``capacity`` is the batch size;
    the last batch may be shorter.
    ``extras``: None for a stack of Dense layers with biases, else the buffers of
    ``network.forward_layers`` (its moving statistics are model state too, backed up
    and restored with the parameters).
    regularization (n_layers, N_COEFFICIENTS): the layers' weight penalties, added to each
    batch's loss (times its rows) and gradient, and to the validation loss.
    metric_state: None, or the counts of the confusion-count metrics (see ``metrics.py``),
    reset at the start of each phase. (``extras`` and ``metric_state`` stay arguments of
    their own: Numba prunes a branch on an argument that is None at compile time.)
    """
    params, opt_state, rng_state, counters = state
    epoch_loss, epoch_metrics, val_loss, val_metrics = logs
    (grads, backup_params, backup_state, Z_buffer, A_buffer, delta, order, batch_X, batch_Y,
     batch_weight) = scratch
    X, Y, weight = training_set
    X_val, Y_val, weight_val = validation_set
    layers, slopes, regularization = network
    loss_code, loss_hyper, metric_codes = objective
    opt_code, opt_hyper, rates, trainable, n_state_used = update
    n = X.shape[0]
    zero = like(0, params)
    one = like(1, params)
    reshuffle = shuffle and n > capacity
    n_phases = VALIDATION + 1 if X_val.shape[0] > 0 else TRAINING + 1
    output_activation = not gives_dZ(loss_code)
    # the state slots the rule uses: the only ones the per-epoch backup must copy
    state_used = view_1d(opt_state, 0, n_state_used)
    state_backup = view_1d(backup_state, 0, state_used.shape[0])
    last_rate = rates.shape[1] - 1
    for epoch in range(rates.shape[0]):
        copy_into(backup_params, params)
        copy_into(state_backup, state_used)
        backup_rng = rng_state[0]
        if extras is not None:
            save_moving(extras)
        if reshuffle:
            shuffle_order(order, rng_state)
        # The training phase, then the validation phase through the same loop (so the
        # forward pass, loss and metrics are compiled once, not once per phase).
        for phase in range(n_phases):
            training = phase == TRAINING
            if training:
                data_X, data_Y, data_weight = X, Y, weight
                metrics = epoch_metrics[epoch]
            else:
                data_X, data_Y, data_weight = X_val, Y_val, weight_val
                metrics = val_metrics[epoch]
            n_rows = data_X.shape[0]
            reset_metrics(metrics, metric_state)
            loss = zero
            for start in range(0, n_rows, capacity):
                stop = min(start + capacity, n_rows)
                rows = stop - start
                if training and reshuffle:
                    gather_rows(batch_X, batch_Y, batch_weight, X, Y, weight, order, start,
                                stop)
                    X_batch = view_rows(batch_X, 0, rows)
                    Y_batch = view_rows(batch_Y, 0, rows)
                    weight_batch = view_1d(batch_weight, 0, rows)
                else:
                    X_batch = view_rows(data_X, start, rows)
                    Y_batch = view_rows(data_Y, start, rows)
                    weight_batch = view_1d(data_weight, start, rows)
                # a cross-entropy computes the output activation itself, before metrics
                if extras is None:  # decided at compile time: see network.py
                    A = forward(Z_buffer, A_buffer, X_batch, params, layers, slopes, capacity,
                                output_activation, features)
                else:
                    A = forward_layers(Z_buffer, A_buffer, X_batch, params, layers, slopes,
                                       capacity, output_activation, features, extras,
                                       training)
                share, scale = reduced_loss(delta, Z_buffer, A_buffer, Y_batch, weight_batch,
                                            layers, capacity, loss_code, loss_hyper,
                                            features)
                loss += share
                accumulate_metrics(metrics, A, Y_batch, metric_codes, metric_state)
                if training:
                    if extras is None:
                        backward(grads, delta, Z_buffer, A_buffer, X_batch, params, layers,
                                 slopes, capacity, loss_code, features)
                    else:
                        backward_layers(grads, delta, Z_buffer, A_buffer, X_batch, params,
                                        layers, slopes, capacity, loss_code, features,
                                        extras)
                    # the penalty of the weights this batch saw, weighted by its rows
                    # as the data loss is (Keras reports the epoch's row-weighted mean);
                    # its batch-mean terms divided as the reduction divides the loss
                    loss += like(rows, params) * add_penalty(
                        grads, params, layers, regularization, scale, True)
                    counters[STEPS] += 1
                    lr = rates[epoch, min(start // capacity, last_rate)]
                    apply_update(params, opt_state, grads, layers, trainable, opt_code,
                                 opt_hyper, lr, counters[STEPS], features)
            inverse_rows = one / like(n_rows, params)
            finish_metrics(metrics, metric_codes, metric_state, inverse_rows)
            if training:
                epoch_loss[epoch] = loss * inverse_rows
            else:
                val_loss[epoch] = loss * inverse_rows + add_penalty(
                    grads, params, layers, regularization, inverse_rows, False)
        if not (np.isfinite(epoch_loss[epoch]) and all_finite(params)):
            copy_into(params, backup_params)
            copy_into(state_used, state_backup)
            rng_state[0] = backup_rng
            if extras is not None:
                restore_moving(extras)
            counters[STEPS] -= (n + capacity - 1) // capacity
            counters[STATUS] = NON_FINITE
            return epoch
        counters[EPOCHS] += 1
    return rates.shape[0]
