"""Evaluation metrics that work offline, built on `evaluate` and computed with scikit-learn.

`evaluate.load("accuracy")` downloads a metric script from the Hugging Face Hub, so it fails
without network. The metrics used by textcls are therefore `evaluate.Metric` subclasses defined
here (no Hub involved), one per problem type:

- `ClassificationMetrics`: accuracy, f1_macro, precision_macro, recall_macro, mcc
- `MultilabelMetrics`: f1_micro, f1_macro, subset_accuracy (on multi-hot vectors)
- `RegressionMetrics`: mse, mae, pearson, spearman

`build_compute_metrics(problem_type)` wraps the right one as the Trainer's `compute_metrics`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import datasets
import evaluate
import numpy as np
from scipy import stats
from sklearn import metrics as skm

from textcls.errors import TextclsError
from textcls.models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL

__all__ = [
    "ClassificationMetrics",
    "MultilabelMetrics",
    "RegressionMetrics",
    "normalize_problem_type",
    "predictions_from_logits",
    "build_compute_metrics",
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
    compute_metrics on already-gathered predictions) never meet.
    """

    def __init__(self, keep_in_memory: bool = True, **kwargs: Any):
        super().__init__(keep_in_memory=keep_in_memory, **kwargs)

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
    """Single-label classification on class ids: accuracy, macro F1/precision/recall, Matthews correlation.

    Classes never predicted count as precision 0 (scikit-learn's zero_division=0), not NaN.
    """

    def _info(self) -> evaluate.MetricInfo:
        features = datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")})
        return self._metric_info(features, "Single-label classification metrics computed with scikit-learn.")

    def _compute(self, predictions, references):
        y_pred, y_true = np.asarray(predictions), np.asarray(references)
        _check_same_length(y_pred, y_true)
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average="macro", zero_division=0
        )
        return {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1),
            "precision_macro": float(precision),
            "recall_macro": float(recall),
            "mcc": float(skm.matthews_corrcoef(y_true, y_pred)),
        }


class MultilabelMetrics(_LocalMetric):
    """Multi-label classification on multi-hot 0/1 vectors: micro-F1, macro-F1, subset accuracy."""

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

    def _info(self) -> evaluate.MetricInfo:
        features = datasets.Features(
            {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
        )
        return self._metric_info(features, "Regression metrics computed with scikit-learn and scipy.")

    def _compute(self, predictions, references):
        y_pred = np.asarray(predictions, dtype=np.float64)
        y_true = np.asarray(references, dtype=np.float64)
        _check_same_length(y_pred, y_true)
        return {
            "mse": float(skm.mean_squared_error(y_true, y_pred)),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "pearson": _correlation(stats.pearsonr, y_pred, y_true),
            "spearman": _correlation(stats.spearmanr, y_pred, y_true),
        }


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
