"""What a run shows a person: the metrics table on the terminal and the confusion-matrix PNG."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from textcls.atomic import atomic_file
from textcls.errors import TextclsError

__all__ = ["format_metrics_table", "save_confusion_matrix"]


def save_confusion_matrix(
    references: Sequence[int],
    predictions: Sequence[int],
    label_names: Sequence[str],
    path: str | os.PathLike,
    title: str | None = None,
    normalize: bool = False,
) -> Path:
    """Draw the confusion matrix (rows: true label, columns: predicted) to a PNG, atomically.

    `normalize=True` divides each row by its count (recall per class on the diagonal).
    """
    # Figure + Agg canvas directly: no display needed and pyplot's figure list is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [str(n) for n in label_names]
    n = len(names)
    y_true = np.asarray(references).reshape(-1)
    y_pred = np.asarray(predictions).reshape(-1)
    if n == 0:
        raise TextclsError("save_confusion_matrix needs label_names; pass one name per class")
    if len(y_true) != len(y_pred):
        raise TextclsError(
            f"got {len(y_true)} references but {len(y_pred)} predictions; pass one of each per example"
        )
    for what, arr in (("references", y_true), ("predictions", y_pred)):
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise TextclsError(
                f"{what} contain class ids outside 0..{n - 1}; pass label_names for every class id"
            )

    # normalize="true": rows divided by their count, a class absent from references gives a row of 0.
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(n)), normalize="true" if normalize else None)

    # Grow the figure with the class count and shrink the text, so 20 classes stay legible.
    side = min(4.0 + 0.45 * n, 16.0)
    fontsize = max(5.0, 10.0 - 0.25 * n)
    fig = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    display = ConfusionMatrixDisplay(matrix, display_labels=names).plot(
        ax=ax,
        cmap="Blues",
        include_values=n <= 30,  # beyond that, numbers overlap and only the colours are readable
        values_format=".2f" if normalize else "d",
        xticks_rotation=45 if n > 3 else "horizontal",
        colorbar=False,  # added below, slimmer than the default one next to a large matrix
        im_kw={"vmin": 0.0, "vmax": 1.0 if normalize else None},
        text_kw={"fontsize": fontsize},
    )
    fig.colorbar(display.im_, ax=ax, fraction=0.046, pad=0.04)
    for label in ax.get_xticklabels():
        label.set(fontsize=fontsize, ha="right" if n > 3 else "center")
    for label in ax.get_yticklabels():
        label.set(fontsize=fontsize)
    ax.set_title(title or ("Confusion matrix (normalized)" if normalize else "Confusion matrix"))
    fig.tight_layout()

    target = Path(path)
    with atomic_file(target) as tmp:  # readers never see a half-written PNG
        fig.savefig(tmp, format="png")
    return target


_SPLIT_PREFIXES = ("eval", "validation", "test", "train", "predict")


def _split_flat(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # Trainer-style flat dicts ("eval_accuracy", "test_accuracy") become one column per prefix.
    columns: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        split, sep, rest = key.partition("_")
        if sep and split in _SPLIT_PREFIXES and rest:
            columns.setdefault(split, {})[rest] = value
        else:
            columns.setdefault("value", {})[key] = value
    return columns


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{float(value):.4f}"
    return str(value)


def format_metrics_table(metrics: Mapping[str, Mapping[str, float]] | Mapping[str, float]) -> str:
    """Plain-text table for the terminal: one row per metric, one column per split, 4 decimals.

    Takes `{"eval": {"accuracy": .9}, "test": {...}}` or a flat Trainer dict
    (`{"eval_accuracy": .9, "test_accuracy": .88}`, split by prefix; other keys go to a "value"
    column). Inner keys that repeat the split prefix (`test_accuracy` under "test") are shortened.
    """
    if not metrics:
        return "(no metrics)"
    if all(isinstance(v, Mapping) for v in metrics.values()):
        columns = {}
        for split, inner in metrics.items():
            prefix = f"{split}_"
            columns[str(split)] = {
                (k[len(prefix):] if k.startswith(prefix) and len(k) > len(prefix) else k): v
                for k, v in inner.items()
            }
    elif any(isinstance(v, Mapping) for v in metrics.values()):
        raise TextclsError(
            "format_metrics_table got a mix of numbers and dicts; pass {split: {metric: value}} "
            "or a flat {metric: value} dict"
        )
    else:
        columns = _split_flat(metrics)

    rows: list[str] = []
    for inner in columns.values():
        rows.extend(k for k in inner if k not in rows)
    header = ["metric", *columns]
    body = [[row, *(_format_value(col.get(row)) for col in columns.values())] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in body)])
