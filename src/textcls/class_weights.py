"""`--class_weight`: per-label loss weights for imbalanced data.

The weights end up in `config.class_weights`, which the one shared loss reads
(models/sequence_classification.py): cross-entropy `weight` for single-label data, BCE `pos_weight`
for multi-label data. Modes:

- `none`: no weights (the default);
- `balanced`: scikit-learn's `compute_class_weight("balanced")`, n / (classes x count): every class
  weighs as much in the loss as any other; for multi-label data, negatives / positives per label
  (the usual `pos_weight`);
- `sqrt_balanced`: the square root of `balanced`, a softer push towards rare classes that costs
  less accuracy on the common ones (bench/RESULTS.md, "class-weights": TextCNN on reuters-r8);
- a list of positive numbers, one per label in label order.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from .errors import TextclsError
from .models.sequence_classification import MULTI_LABEL, REGRESSION

CLASS_WEIGHT_MODES = ("none", "balanced", "sqrt_balanced")


def parse_class_weight(values: list[str] | str | None) -> str | list[float]:
    """The `--class_weight` value(s) -> a mode name or a list of weights; a one-line error otherwise."""
    if values is None:
        return "none"
    values = [values] if isinstance(values, str) else list(values)
    if len(values) == 1 and values[0] in CLASS_WEIGHT_MODES:
        return values[0]
    try:
        weights = [float(value) for value in values]
    except ValueError:
        weights = None
    if not weights or not all(np.isfinite(w) and w > 0 for w in weights):
        raise TextclsError(
            f"Invalid --class_weight {' '.join(values)!r}: use one of {', '.join(CLASS_WEIGHT_MODES)}, "
            "or one positive number per label in label order (e.g. --class_weight 1 5 2)."
        )
    return weights


def compute_class_weights(spec: str | list[float], labels, problem_type: str, num_labels: int) -> list[float] | None:
    """The weights for `spec` (a `parse_class_weight` result) on the training labels, or None for `none`."""
    if spec == "none":
        return None
    if problem_type == REGRESSION:
        raise TextclsError("--class_weight needs classification data; this data is regression (one numeric label).")
    if isinstance(spec, list):
        if len(spec) != num_labels:
            raise TextclsError(
                f"--class_weight has {len(spec)} weight(s) but the data has {num_labels} labels: give one per label."
            )
        return [float(w) for w in spec]
    labels = np.asarray(labels)
    if problem_type == MULTI_LABEL:
        positives = (labels >= 0.5).sum(axis=0)
        # A label never (or always) seen in training gets weight 1: no evidence to reweigh it.
        seen = (positives > 0) & (positives < len(labels))
        weights = np.where(seen, (len(labels) - positives) / np.maximum(positives, 1), 1.0)
    else:
        present = np.unique(labels)
        weights = np.ones(num_labels)
        # compute_class_weight refuses classes absent from `labels`; those get weight 1 (they are never a target).
        weights[present] = compute_class_weight("balanced", classes=present, y=labels) * len(present) / num_labels
    if spec == "sqrt_balanced":
        weights = np.sqrt(weights)
    return [float(w) for w in weights]
