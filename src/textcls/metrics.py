"""Evaluation metrics that work offline, built on `evaluate`.

`evaluate.load("accuracy")` downloads a metric script from the Hugging Face Hub, so it fails
without network. The metrics used by textcls are therefore `evaluate.Metric` subclasses defined
here (no Hub involved); `load_metric` returns them by name and only falls through to
`evaluate.load` for names we do not ship.

Three metric modules, one per problem type; the `config_name` picks a single metric or the whole
group:

- `ClassificationMetrics`: "classification" (all), "accuracy", "f1", "precision", "recall",
  "matthews_correlation"
- `MultilabelMetrics`: "multilabel" (micro-F1, macro-F1, subset accuracy on multi-hot vectors)
- `RegressionMetrics`: "regression" (all), "mse", "mae", "pearsonr", "spearmanr"

Single-name configs return the same key as the Hub metric of that name (`{"f1": ...}`), so they are
drop-in replacements; the group configs return the plain keys used by `build_compute_metrics`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import evaluate
import numpy as np
from scipy import stats
from sklearn import metrics as skm

from textcls.errors import TextclsError
from textcls.models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from textcls.resources import atomic_file

__all__ = [
    "ClassificationMetrics",
    "MultilabelMetrics",
    "RegressionMetrics",
    "BUILTIN_METRICS",
    "load_metric",
    "normalize_problem_type",
    "predictions_from_logits",
    "build_compute_metrics",
    "save_confusion_matrix",
    "format_metrics_table",
]


# Accepted spellings of the three problem types; the canonical ones are transformers' own
# `config.problem_type` values.
_PROBLEM_TYPE_ALIASES = {
    SINGLE_LABEL: SINGLE_LABEL,
    "single_label": SINGLE_LABEL,
    "classification": SINGLE_LABEL,
    MULTI_LABEL: MULTI_LABEL,
    "multi_label": MULTI_LABEL,
    "multilabel": MULTI_LABEL,
    REGRESSION: REGRESSION,
}


def normalize_problem_type(problem_type: str) -> str:
    """Map a problem type spelling to transformers' name, or raise a one-line TextclsError."""
    key = str(problem_type).strip().lower().replace("-", "_")
    if key not in _PROBLEM_TYPE_ALIASES:
        raise TextclsError(
            f"unknown problem_type {problem_type!r}; use one of "
            f"{SINGLE_LABEL!r}, {MULTI_LABEL!r} or {REGRESSION!r}"
        )
    return _PROBLEM_TYPE_ALIASES[key]


# --------------------------------------------------------------------------------------------
# evaluate.Metric subclasses
# --------------------------------------------------------------------------------------------


class _LocalMetric(evaluate.Metric):
    """Base for our metrics: keeps data in memory by default.

    evaluate's on-disk mode writes `<cache>/<name>/<config>/<experiment_id>-<num_process>-<rank>.arrow`
    guarded by file locks; two runs that share an experiment_id would collide there. In memory
    nothing touches the disk, so independent instances (and every Trainer rank, which all call
    compute_metrics on already-gathered predictions) never meet. Cross-process aggregation through
    evaluate (`num_process > 1`) still works: then we default to on-disk mode, and the caller must
    pass an `experiment_id` shared by the ranks of one run and unique across runs.
    """

    CONFIGS: tuple[str, ...] = ()
    DEFAULT_CONFIG: str = ""

    def __init__(self, config_name: str | None = None, keep_in_memory: bool | None = None, **kwargs: Any):
        config_name = config_name or self.DEFAULT_CONFIG
        if config_name not in self.CONFIGS:
            raise TextclsError(
                f"{type(self).__name__} has no config {config_name!r}; use one of {list(self.CONFIGS)}"
            )
        if keep_in_memory is None:
            keep_in_memory = kwargs.get("num_process", 1) == 1
        super().__init__(config_name=config_name, keep_in_memory=keep_in_memory, **kwargs)

    def _metric_info(self, features: datasets.Features, description: str) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=description,
            citation="",
            inputs_description=(
                "\n    predictions: model predictions (class ids, multi-hot vectors or real values)"
                "\n    references: gold labels of the same shape"
            ),
            features=features,
            # Python lists reach _compute: format="numpy" would go through datasets' numpy
            # formatter, which silently downcasts float64 to float32.
            format=None,
            codebase_urls=[],
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )


def _check_same_length(predictions: np.ndarray, references: np.ndarray) -> None:
    if len(predictions) == 0:
        raise TextclsError("no predictions to score; evaluate on a non-empty dataset")
    if len(predictions) != len(references):
        raise TextclsError(
            f"got {len(predictions)} predictions but {len(references)} references; pass one per example"
        )


class ClassificationMetrics(_LocalMetric):
    """Single-label classification: accuracy, macro F1/precision/recall, Matthews correlation.

    `compute(predictions=class_ids, references=class_ids, average="macro", labels=None)`;
    `average` and `labels` are passed to scikit-learn for f1/precision/recall (zero_division=0).
    Unlike the Hub's `f1`, the default average is "macro", which suits multi-class data.
    """

    CONFIGS = ("classification", "accuracy", "f1", "precision", "recall", "matthews_correlation")
    DEFAULT_CONFIG = "classification"

    def _info(self) -> evaluate.MetricInfo:
        features = datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")})
        return self._metric_info(features, "Single-label classification metrics computed with scikit-learn.")

    def _compute(self, predictions, references, average: str = "macro", labels=None):
        y_pred, y_true = np.asarray(predictions), np.asarray(references)
        _check_same_length(y_pred, y_true)
        prf = {"average": average, "labels": labels, "zero_division": 0}
        name = self.config_name
        if name == "accuracy":
            return {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
        if name == "f1":
            return {"f1": float(skm.f1_score(y_true, y_pred, **prf))}
        if name == "precision":
            return {"precision": float(skm.precision_score(y_true, y_pred, **prf))}
        if name == "recall":
            return {"recall": float(skm.recall_score(y_true, y_pred, **prf))}
        if name == "matthews_correlation":
            return {"matthews_correlation": float(skm.matthews_corrcoef(y_true, y_pred))}
        precision, recall, f1, _ = skm.precision_recall_fscore_support(y_true, y_pred, **prf)
        return {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1),
            "precision_macro": float(precision),
            "recall_macro": float(recall),
            "mcc": float(skm.matthews_corrcoef(y_true, y_pred)),
        }


class MultilabelMetrics(_LocalMetric):
    """Multi-label classification on multi-hot 0/1 vectors: micro-F1, macro-F1, subset accuracy."""

    CONFIGS = ("multilabel",)
    DEFAULT_CONFIG = "multilabel"

    def _info(self) -> evaluate.MetricInfo:
        features = datasets.Features(
            {
                "predictions": datasets.Sequence(datasets.Value("int64")),
                "references": datasets.Sequence(datasets.Value("int64")),
            }
        )
        return self._metric_info(features, "Multi-label classification metrics computed with scikit-learn.")

    def _compute(self, predictions, references):
        # Rows arrive as Python lists; ragged rows (different label counts) are an input error.
        _check_same_length(predictions, references)
        try:
            y_pred = np.asarray(predictions, dtype=np.int64)
            y_true = np.asarray(references, dtype=np.int64)
        except ValueError:
            y_pred = y_true = None
        if y_pred is None or y_pred.ndim != 2 or y_pred.shape != y_true.shape:
            raise TextclsError(
                "multi-label predictions and references must be equal-shape multi-hot "
                "(num_examples, num_labels) 0/1 arrays; give every example one entry per label"
            )
        return {
            "f1_micro": float(skm.f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "subset_accuracy": float(skm.accuracy_score(y_true, y_pred)),
        }


def _correlation(fn: Callable, x: np.ndarray, y: np.ndarray) -> float:
    # Undefined for fewer than 2 points or a constant input: report NaN rather than raise, so an
    # early, collapsed regression model does not crash evaluation (and does not spam warnings).
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(x, y)[0])


class RegressionMetrics(_LocalMetric):
    """Regression: mean squared error, mean absolute error, Pearson and Spearman correlation."""

    CONFIGS = ("regression", "mse", "mae", "pearsonr", "spearmanr")
    DEFAULT_CONFIG = "regression"

    def _info(self) -> evaluate.MetricInfo:
        features = datasets.Features(
            {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
        )
        return self._metric_info(features, "Regression metrics computed with scikit-learn and scipy.")

    def _compute(self, predictions, references):
        y_pred = np.asarray(predictions, dtype=np.float64)
        y_true = np.asarray(references, dtype=np.float64)
        _check_same_length(y_pred, y_true)
        values = {
            "mse": lambda: float(skm.mean_squared_error(y_true, y_pred)),
            "mae": lambda: float(skm.mean_absolute_error(y_true, y_pred)),
            "pearsonr": lambda: _correlation(stats.pearsonr, y_pred, y_true),
            "spearmanr": lambda: _correlation(stats.spearmanr, y_pred, y_true),
        }
        if self.config_name in values:
            return {self.config_name: values[self.config_name]()}
        return {
            "mse": values["mse"](),
            "mae": values["mae"](),
            "pearson": values["pearsonr"](),
            "spearman": values["spearmanr"](),
        }


# name -> (module class, config_name)
BUILTIN_METRICS: dict[str, tuple[type[_LocalMetric], str]] = {
    **{name: (ClassificationMetrics, name) for name in ClassificationMetrics.CONFIGS},
    "multilabel": (MultilabelMetrics, "multilabel"),
    **{name: (RegressionMetrics, name) for name in RegressionMetrics.CONFIGS},
}

_METRIC_ALIASES = {
    "mcc": "matthews_correlation",
    "pearson": "pearsonr",
    "spearman": "spearmanr",
    "multi_label": "multilabel",
    SINGLE_LABEL: "classification",
    MULTI_LABEL: "multilabel",
}


def load_metric(name: str, **kwargs: Any) -> evaluate.EvaluationModule:
    """Return an `evaluate` metric by name, offline for our builtin names.

    Builtin names (see `BUILTIN_METRICS`) give our local metric; `kwargs` go to its constructor
    (`experiment_id`, `num_process`, `process_id`, `cache_dir`, `keep_in_memory`, ...). Any other
    name is passed to `evaluate.load(name, **kwargs)`, which needs the Hub (or evaluate's cache).
    """
    key = str(name).strip().lower()
    key = _METRIC_ALIASES.get(key, key)
    if key in BUILTIN_METRICS:
        cls, config_name = BUILTIN_METRICS[key]
        return cls(config_name=config_name, **kwargs)
    try:
        return evaluate.load(name, **kwargs)
    except Exception as err:  # evaluate raises FileNotFoundError, ConnectionError, ... offline
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise TextclsError(
            f"metric {name!r} is not a textcls builtin ({', '.join(BUILTIN_METRICS)}) and evaluate.load "
            f"could not get it from the Hugging Face Hub ({type(err).__name__}: {detail}); "
            "use a builtin name, or check the name and your network"
        ) from err


# --------------------------------------------------------------------------------------------
# Trainer glue
# --------------------------------------------------------------------------------------------


def _to_numpy(array: Any) -> np.ndarray:
    # Trainer hands numpy arrays, but callers may pass tensors or a model output tuple
    # (logits first, e.g. with output_hidden_states); keep only the first element.
    while isinstance(array, tuple):
        if not array:
            raise TextclsError("got an empty tuple of model outputs; pass the logits array")
        array = array[0]
    if hasattr(array, "detach"):  # torch.Tensor, without importing torch
        array = array.detach().float().cpu().numpy()
    return np.asarray(array)


def predictions_from_logits(logits: Any, problem_type: str, multi_label_threshold: Any = 0.0) -> np.ndarray:
    """Turn model logits into predictions the metrics take.

    single-label: argmax over the last axis (class ids); multi-label: `logits > threshold`
    as a 0/1 int array (threshold 0.0 on logits is sigmoid 0.5; an array gives one per label);
    regression: logits squeezed to 1-D.
    `logits` may be a tuple whose first element is the logits.
    """
    kind = normalize_problem_type(problem_type)
    array = _to_numpy(logits)
    if kind == REGRESSION:
        if array.ndim == 2 and array.shape[1] != 1:
            raise TextclsError(
                f"regression logits have shape {array.shape}; the model must have num_labels=1"
            )
        return array.reshape(-1).astype(np.float64)
    if array.ndim != 2:
        raise TextclsError(
            f"classification logits must have shape (num_examples, num_labels), got {array.shape}"
        )
    if kind == SINGLE_LABEL:
        return array.argmax(axis=-1).astype(np.int64)
    return (array > multi_label_threshold).astype(np.int64)


def build_compute_metrics(
    problem_type: str, multi_label_threshold: Any = 0.0
) -> Callable[[Any], dict[str, float]]:
    """Return a `compute_metrics(eval_pred) -> dict[str, float]` for `transformers.Trainer`.

    Keys are plain names so the Trainer logs `eval_accuracy`, `eval_f1_macro`, ...:
    single-label: accuracy, f1_macro, precision_macro, recall_macro, mcc;
    multi-label: f1_micro, f1_macro, subset_accuracy; regression: mse, mae, pearson, spearman.
    """
    kind = normalize_problem_type(problem_type)
    metric = {
        SINGLE_LABEL: ClassificationMetrics,
        MULTI_LABEL: MultilabelMetrics,
        REGRESSION: RegressionMetrics,
    }[kind]()

    def compute_metrics(eval_pred: Any) -> dict[str, float]:
        if hasattr(eval_pred, "predictions"):
            logits, labels = eval_pred.predictions, eval_pred.label_ids
        else:
            logits, labels = eval_pred[0], eval_pred[1]
        if labels is None:
            raise TextclsError("evaluation got no labels; give the eval dataset a 'labels' column")
        predictions = predictions_from_logits(logits, kind, multi_label_threshold)
        references = _to_numpy(labels)
        if kind == REGRESSION:
            references = references.reshape(-1).astype(np.float64)
        elif kind == MULTI_LABEL:
            # BCE training needs float multi-hot labels; the metrics want 0/1 ints.
            references = (references >= 0.5).astype(np.int64)
        else:
            references = references.astype(np.int64)
        if len(predictions) != len(references):
            raise TextclsError(
                f"got {len(predictions)} predictions but {len(references)} labels; "
                "check that the eval dataset has one label per example"
            )
        return {k: float(v) for k, v in metric.compute(predictions=predictions, references=references).items()}

    return compute_metrics


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


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
    # Figure + Agg canvas directly: no display needed and pyplot's global state is left alone.
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

    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(range(n))).astype(np.float64)
    if normalize:
        row_sums = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, row_sums, out=np.zeros_like(matrix), where=row_sums > 0)

    # Grow the figure with the class count and shrink the text, so 20 classes stay legible.
    side = min(4.0 + 0.45 * n, 16.0)
    fontsize = max(5.0, 10.0 - 0.25 * n)
    fig = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(names, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center", fontsize=fontsize)
    ax.set_yticklabels(names, fontsize=fontsize)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title or ("Confusion matrix (normalized)" if normalize else "Confusion matrix"))
    if n <= 30:  # beyond that, numbers overlap and only the colours are readable
        threshold = matrix.max() / 2.0 if matrix.size else 0.0
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                        color="white" if value > threshold else "black")
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
