"""Metrics accumulated batch by batch inside the training loop, by integer code.

Each metric adds its sum over a batch's rows to its total; at the end of a phase
``finish_metrics`` turns the totals into the reported values (the mean over the rows,
and for the root mean squared error the root of that mean, as Keras' running metric).
"""
import numpy as np

from ._jit import kernel, like

BINARY_ACCURACY, CATEGORICAL_ACCURACY, MEAN_ABSOLUTE_ERROR, MEAN_SQUARED_ERROR = range(4)
ROOT_MEAN_SQUARED_ERROR = 4


@kernel
def finish_metrics(totals, codes, inverse_rows):
    """totals (n_metrics,) of sums over the rows -> the epoch's values, in place."""
    for m in range(totals.shape[0]):
        totals[m] *= inverse_rows
        if codes[m] == ROOT_MEAN_SQUARED_ERROR:
            totals[m] = np.sqrt(totals[m])


@kernel
def accumulate_metrics(totals, A, Y, codes):
    """Add each metric's sum over the rows of A, Y (rows, n_out) to ``totals`` (n_metrics,).

    A row's value is the mean over its outputs, except categorical accuracy (one value
    per row: does the arg-max of A match that of Y?). Divide by the row count for means.
    """
    rows, n_out = A.shape
    zero = like(0, A)
    one = like(1, A)
    half = like(0.5, A)
    per_output = one / like(n_out, A)
    for m in range(codes.shape[0]):
        code = codes[m]
        total = zero
        if code == BINARY_ACCURACY:
            for r in range(rows):
                hits = zero
                for j in range(n_out):
                    predicted = one if A[r, j] > half else zero
                    if predicted == Y[r, j]:
                        hits += one
                total += hits * per_output
        elif code == CATEGORICAL_ACCURACY:
            for r in range(rows):
                best_a = 0
                best_y = 0
                for j in range(1, n_out):
                    if A[r, j] > A[r, best_a]:
                        best_a = j
                    if Y[r, j] > Y[r, best_y]:
                        best_y = j
                if best_a == best_y:
                    total += one
        elif code == MEAN_ABSOLUTE_ERROR:
            for r in range(rows):
                row = zero
                for j in range(n_out):
                    row += abs(A[r, j] - Y[r, j])
                total += row * per_output
        elif code == MEAN_SQUARED_ERROR or code == ROOT_MEAN_SQUARED_ERROR:
            for r in range(rows):
                row = zero
                for j in range(n_out):
                    error = A[r, j] - Y[r, j]
                    row += error * error
                total += row * per_output
        totals[m] += total
