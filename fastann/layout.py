"""Where everything lives in the flat buffers, computed once per architecture.

Parameters are laid out layer by layer, ``W`` (n_in, n_out) then ``b`` (n_out,), in one
contiguous array; gradients and optimizer state share that layout. Activations of a
batch are laid out the same way: layer ``l``'s block of ``capacity * n_out`` values
starts at ``capacity * unit_offset[l]`` in the Z and A buffers.
"""
from dataclasses import dataclass

import numpy as np

from .kernels import network
from .kernels.optimizers import N_SLOTS


@dataclass(frozen=True)
class Layout:
    """Offsets of every layer's parameters and activations.

    ``table`` is the int64 (n_layers, network.N_COLUMNS) array the kernels read.
    """

    sizes: tuple  # (n_features, units_1, ..., units_L)
    table: np.ndarray
    n_params: int
    total_units: int
    max_units: int

    @classmethod
    def build(cls, sizes, activation_codes):
        n_layers = len(sizes) - 1
        table = np.zeros((n_layers, network.N_COLUMNS), dtype=np.int64)
        param_offset = unit_offset = 0
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            table[l, network.N_IN] = n_in
            table[l, network.N_OUT] = n_out
            table[l, network.W_OFFSET] = param_offset
            table[l, network.B_OFFSET] = param_offset + n_in * n_out
            table[l, network.UNIT_OFFSET] = unit_offset
            table[l, network.ACTIVATION] = activation_codes[l]
            param_offset += (n_in + 1) * n_out
            unit_offset += n_out
        table.setflags(write=False)
        return cls(tuple(sizes), table, param_offset, unit_offset, max(sizes[1:]))

    def views(self, flat):
        """[W1, b1, W2, b2, ...] as views into a flat parameter-shaped array."""
        out = []
        for n_in, n_out, w, b in self.table[:, :network.UNIT_OFFSET]:
            out += [flat[w:w + n_in * n_out].reshape(n_in, n_out), flat[b:b + n_out]]
        return out


class Workspace:
    """Every scratch buffer that training or inference on batches of up to ``capacity``
    rows needs, allocated once and reused by every kernel call."""

    def __init__(self, layout, capacity, dtype):
        self.capacity = capacity
        n_features, n_out = layout.sizes[0], layout.sizes[-1]
        self.Z = np.zeros(capacity * layout.total_units, dtype)
        self.A = np.zeros(capacity * layout.total_units, dtype)
        self.delta = np.zeros(2 * capacity * layout.max_units, dtype)
        self.grads = np.zeros(layout.n_params, dtype)
        self.backup_params = np.zeros(layout.n_params, dtype)
        self.backup_state = np.zeros(N_SLOTS * layout.n_params, dtype)
        self.batch_X = np.zeros((capacity, n_features), dtype)
        self.batch_Y = np.zeros((capacity, n_out), dtype)
        self.batch_weight = np.zeros(capacity, dtype)
        self.order = np.zeros(0, np.int64)

    def order_for(self, n_samples):
        """The permutation buffer for a data set of ``n_samples`` rows."""
        if self.order.shape[0] != n_samples:
            self.order = np.zeros(n_samples, np.int64)
        return self.order
