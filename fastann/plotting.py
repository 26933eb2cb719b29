"""Pictures of training: ``plot_history`` draws a ``History`` (or its ``.history`` dict).

matplotlib is optional (``pip install matplotlib``); it is imported when a plot is made.
Figures are made without pyplot, so no display or GUI backend is needed: save them with
``path=`` or ``figure.savefig``; a notebook shows the returned Figure.
"""
import os

import numpy as np


def _figure_class():
    """matplotlib's Figure. A Figure made directly (not through pyplot) needs no GUI
    backend and is not kept alive by pyplot's figure registry."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plotting needs matplotlib, which is not installed: "
                          "pip install matplotlib (or pip install 'fastann[plot]')") from error
    return Figure


def _series(history):
    """(epochs, {name: values}) from a History or a ``{name: [value per epoch]}`` dict."""
    if hasattr(history, "history") and isinstance(history.history, dict):
        logs, epochs = history.history, list(getattr(history, "epoch", []))
    elif isinstance(history, dict):
        logs, epochs = history, []
    else:
        raise TypeError(f"history must be a fastann History or a dict of per-epoch lists; "
                        f"got {type(history).__name__}")
    clean = {}
    for name, values in logs.items():
        if not isinstance(name, str):
            raise TypeError(f"history keys must be names (str); got {name!r}")
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"history[{name!r}] must be a list of numbers, one per epoch; "
                             f"got shape {array.shape}")
        clean[name] = array
    lengths = {len(v) for v in clean.values()}
    if not clean or lengths == {0}:
        raise ValueError("history holds no epochs to plot (fit for at least one epoch)")
    if len(lengths) > 1:
        raise ValueError(f"history lists have different lengths {sorted(lengths)}; each "
                         "needs one value per epoch")
    n = lengths.pop()
    # epochs counted from 1 on the x-axis, as Keras' progress lines count them
    x = np.asarray(epochs, np.float64) + 1 if len(epochs) == n else np.arange(1.0, n + 1)
    return x, clean


def plot_history(history, path=None, log_y=False, metrics=None, title=None, figsize=None,
                 dpi=100):
    """Loss and each metric per epoch: one panel each, training and validation on the
    same axes.

    Parameters
    ----------
    history : History or dict
        ``model.fit``'s return value, or ``history.history``: {name: [value per epoch]},
        validation values under ``val_`` names.
    path : str or path-like, optional
        Also save the figure there (PNG, or the format the suffix names).
    log_y : bool
        Logarithmic y-axis (for the loss, whose values span decades).
    metrics : list of str, optional
        The names to draw ("loss", "accuracy", ...; each with its ``val_`` partner).
        Default: every name in the history.
    title : str, optional
        The figure's title.
    figsize : (width, height) in inches, optional
        Default: 5 inches wide per panel, 3.6 high.
    dpi : int
        Resolution of the saved file.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per name; its lines carry the epochs (x) and the logged values (y),
        labelled ``train`` and ``validation``.
    """
    x, logs = _series(history)
    names = [name for name in logs if not name.startswith("val_")]
    names += [name[4:] for name in logs if name.startswith("val_") and name[4:] not in logs]
    if metrics is not None:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"metrics {unknown} are not in the history; it holds "
                             f"{names}")
        names = list(metrics)
    if not isinstance(log_y, bool):
        raise TypeError(f"log_y must be True or False; got {log_y!r}")
    Figure = _figure_class()
    width, height = figsize or (5.0 * len(names), 3.6)
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-"), ("val_" + name, "validation", "--")):
            if key in logs:
                ax.plot(x, logs[key], style, label=label, marker="o" if len(x) < 30 else None)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(os.fspath(path), dpi=dpi)
    return figure
