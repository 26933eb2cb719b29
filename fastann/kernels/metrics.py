"""Metrics accumulated batch by batch inside the training loop, by integer code.

Most metrics add their sum over a batch's rows to their total; at the end of a phase
``finish_metrics`` turns the totals into the reported values (the mean over the rows,
and for the root mean squared error the root of that mean, as Keras' running metric).

The confusion-count metrics (AUC, precision, recall) cannot be a mean of rows: they
keep counts over the whole phase in ``state``, the model's preallocated metric state,
and compute their value from those counts at the end, as Keras' ``result()`` does.
``state`` is None for a model without them (pruned at compile time, as ``extras`` in
train.py), else ``(settings, thresholds, counts)``:

- settings (n_metrics, N_SETTINGS) int64: per metric its offset in ``counts``, its
  size (AUC's threshold count, top-k's k, precision's and recall's top_k or 0), AUC's
  curve, summation method and from_logits, precision's and recall's class_id (or -1);
- thresholds (n_metrics,): the decision threshold of precision and recall;
- counts (n_counts,): the counts, zeroed at the start of every phase.
"""
import math

import numpy as np

from ._jit import kernel, like, view_1d

BINARY_ACCURACY, CATEGORICAL_ACCURACY, MEAN_ABSOLUTE_ERROR, MEAN_SQUARED_ERROR = range(4)
ROOT_MEAN_SQUARED_ERROR = 4
AUC, PRECISION, RECALL, TOP_K_CATEGORICAL_ACCURACY = range(5, 9)
COUNTED = frozenset({AUC, PRECISION, RECALL})  # valued from counts, not a mean of rows
NEEDS_STATE = COUNTED | {TOP_K_CATEGORICAL_ACCURACY}

OFFSET, SIZE, CURVE, SUMMATION, FROM_LOGITS, CLASS_ID = range(6)  # columns of ``settings``
N_SETTINGS = 6
ROC, PR = range(2)
INTERPOLATION, MINORING, MAJORING = range(3)
TRUE_POSITIVES, FALSE_POSITIVES, FALSE_NEGATIVES = range(3)  # precision's, recall's counts
N_CONFUSION = 3


@kernel
def auc_counts(n_thresholds):
    """Length of an AUC's counts: the positives' and negatives' buckets and their totals."""
    return 2 * n_thresholds + 2


@kernel
def reset_metrics(totals, state):
    """Zero the totals (n_metrics,) and the counts of ``state``: the start of a phase."""
    for m in range(totals.shape[0]):
        totals[m] = like(0, totals)
    if state is not None:
        counts = state[2]
        for i in range(counts.shape[0]):
            counts[i] = like(0, counts)


@kernel
def finish_metrics(totals, codes, state, inverse_rows):
    """totals (n_metrics,) of sums over the rows -> the epoch's values, in place; the
    confusion-count metrics' values come from their counts in ``state``."""
    for m in range(totals.shape[0]):
        code = codes[m]
        if state is not None:  # decided at compile time
            if code == AUC or code == PRECISION or code == RECALL:
                totals[m] = counted_result(state[2], state[0][m], code)
                continue
        totals[m] *= inverse_rows
        if code == ROOT_MEAN_SQUARED_ERROR:
            totals[m] = np.sqrt(totals[m])


@kernel
def accumulate_metrics(totals, A, Y, codes, state):
    """Add each metric's sum over the rows of A, Y (rows, n_out) to ``totals`` (n_metrics,),
    or its counts to ``state``.

    A row's value is the mean over its outputs, except categorical and top-k accuracy
    (one value per row). Divide by the row count for means.
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
        if state is not None:  # decided at compile time: None without these metrics
            settings = state[0][m]
            if code == TOP_K_CATEGORICAL_ACCURACY:
                total += top_k_hits(A, Y, settings[SIZE])
            elif code == AUC:
                accumulate_auc(view_1d(state[2], settings[OFFSET], auc_counts(settings[SIZE])),
                               A, Y, settings[SIZE], settings[FROM_LOGITS] != 0)
            elif code == PRECISION or code == RECALL:
                accumulate_confusion(view_1d(state[2], settings[OFFSET], N_CONFUSION), A, Y,
                                     state[1][m], settings[SIZE], settings[CLASS_ID])
        totals[m] += total


@kernel
def top_k_hits(A, Y, k):
    """Rows of A (rows, n_out) whose label (the arg-max of Y's row, the first of ties)
    ranks in the top k: fewer than k outputs strictly above it (Keras' ``in_top_k``,
    where ties count as hits and a NaN at the label ranks last)."""
    hits = like(0, A)
    for r in range(A.shape[0]):
        label = 0
        for j in range(1, A.shape[1]):
            if Y[r, j] > Y[r, label]:
                label = j
        target = A[r, label]
        if np.isnan(target):
            target = like(-np.inf, A)
        above = 0
        for j in range(A.shape[1]):
            if A[r, j] > target:
                above += 1
        if above < k:
            hits += like(1, A)
    return hits


@kernel
def accumulate_confusion(counts, A, Y, threshold, top_k, class_id):
    """Add the true positives, false positives and false negatives of the outputs of
    A, Y (rows, n_out) to counts (3,): predicted positive when A > threshold (and, when
    top_k > 0, among the row's top_k), actually positive when Y != 0 (Keras' precision
    and recall). Every output, or only output ``class_id`` when it is >= 0."""
    one = like(1, counts)
    first, stop = (class_id, class_id + 1) if class_id >= 0 else (0, A.shape[1])
    for r in range(A.shape[0]):
        for j in range(first, stop):
            predicted = A[r, j] > threshold
            if predicted and top_k > 0:
                predicted = in_top_k(A, r, j, top_k)
            actual = Y[r, j] != like(0, Y)
            if predicted and actual:
                counts[TRUE_POSITIVES] += one
            elif predicted:
                counts[FALSE_POSITIVES] += one
            elif actual:
                counts[FALSE_NEGATIVES] += one


@kernel
def in_top_k(A, r, j, k):
    """Is A[r, j] among the k largest of row r? Ties go to the lower index (Keras' top_k
    filter keeps exactly k outputs, as ``ops.top_k`` orders them)."""
    ahead = 0
    for i in range(A.shape[1]):
        if A[r, i] > A[r, j] or (A[r, i] == A[r, j] and i < j):
            ahead += 1
    return ahead < k


@kernel
def accumulate_auc(counts, A, Y, n_thresholds, from_logits):
    """Bucket every output of A, Y (rows, n_out) as Keras' AUC does with evenly spaced
    thresholds: the prediction, clipped to [0, 1], goes to bucket max(ceil(p * (n - 1))
    - 1, 0). counts (2n + 2,): the positives' buckets, the negatives' buckets, then the
    positives' and negatives' totals. A label counts as positive when it is not 0."""
    zero = like(0, A)
    one = like(1, A)
    scale = like(n_thresholds - 1, A)
    for r in range(A.shape[0]):
        for j in range(A.shape[1]):
            p = A[r, j]
            if from_logits:
                p = one / (one + np.exp(-p))
            p = min(max(p, zero), one)
            bucket = max(math.ceil(p * scale) - 1, 0)
            if Y[r, j] != like(0, Y):
                counts[bucket] += one
                counts[2 * n_thresholds] += one
            else:
                counts[n_thresholds + bucket] += one
                counts[2 * n_thresholds + 1] += one


@kernel
def divide_no_nan(numerator, denominator):
    """numerator / denominator, or 0 where the denominator is 0 (Keras' divide_no_nan)."""
    if denominator == like(0, denominator):
        return like(0, denominator)
    return numerator / denominator


@kernel
def counted_result(counts, settings, code):
    """The value of a confusion-count metric from its counts (see ``accumulate_*``)."""
    mine = counts[settings[OFFSET]:]
    if code == AUC:
        return auc_result(mine, settings[SIZE], settings[CURVE], settings[SUMMATION])
    true_positives = mine[TRUE_POSITIVES]
    if code == PRECISION:
        return divide_no_nan(true_positives, true_positives + mine[FALSE_POSITIVES])
    return divide_no_nan(true_positives, true_positives + mine[FALSE_NEGATIVES])


@kernel
def auc_result(counts, n, curve, summation):
    """Keras' AUC from the buckets: the true and false positives at threshold i are the
    bucket sums from i up; the area is the sum over the n - 1 intervals of Keras' term."""
    positives = counts[2 * n]
    negatives = counts[2 * n + 1]
    next_tp = counts[n - 1]
    next_fp = counts[2 * n - 1]
    area = like(0, counts)
    for i in range(n - 2, -1, -1):
        tp = next_tp + counts[i]
        fp = next_fp + counts[n + i]
        area += auc_term(tp, fp, next_tp, next_fp, positives, negatives, curve, summation)
        next_tp, next_fp = tp, fp
    return area


@kernel
def auc_term(tp, fp, next_tp, next_fp, positives, negatives, curve, summation):
    """The area between thresholds i and i + 1 (counts at each), by Keras' formulas:
    Davis and Goadrich's interpolation for PR, else the Riemann term of the curve."""
    zero = like(0, tp)
    fn = positives - tp
    next_fn = positives - next_tp
    if curve == PR and summation == INTERPOLATION:
        dtp = tp - next_tp
        p = tp + fp
        next_p = next_tp + next_fp
        slope = divide_no_nan(dtp, max(p - next_p, zero))
        intercept = next_tp - slope * next_p
        ratio = like(1, tp)
        if p > zero and next_p > zero:
            ratio = divide_no_nan(p, max(next_p, zero))
        return divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                             max(next_tp + next_fn, zero))
    recall = divide_no_nan(tp, tp + fn)
    next_recall = divide_no_nan(next_tp, next_tp + next_fn)
    if curve == ROC:
        x = divide_no_nan(fp, fp + (negatives - fp))
        next_x = divide_no_nan(next_fp, next_fp + (negatives - next_fp))
        y, next_y = recall, next_recall
    else:
        x, next_x = recall, next_recall
        y = divide_no_nan(tp, tp + fp)
        next_y = divide_no_nan(next_tp, next_tp + next_fp)
    if summation == INTERPOLATION:
        height = (y + next_y) / like(2, tp)
    elif summation == MINORING:
        height = min(y, next_y)
    else:
        height = max(y, next_y)
    return (x - next_x) * height
