"""Multi-label decision thresholds: one probability per label, tuned on validation or fixed by hand.

A multi-label model predicts label j when sigmoid(logit_j) > threshold_j. The recipe tunes each
threshold on the validation split to maximise that label's F1 (or takes `--multi_label_threshold`
for all), and saves them as `config.multi_label_thresholds`; `textcls evaluate` and
`textcls predict` read them from there (0.5 for a checkpoint without them).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.metrics import precision_recall_curve

from .errors import TextclsError

DEFAULT_THRESHOLD = 0.5


def check_threshold(value: float | None, flag: str = "--multi_label_threshold") -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise TextclsError(f"{flag} must be a probability strictly between 0 and 1 (e.g. 0.3), got {value}.")


def tune_thresholds(logits: np.ndarray, labels: np.ndarray) -> list[float]:
    """Per label, the probability threshold that maximises F1 of `sigmoid(logits) > threshold` on these rows.

    A threshold falls midway (in logit space) between the lowest score predicted positive and the
    next lower score, so a strict `>` reproduces the chosen cut. A label with no positive row keeps 0.5.
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels) >= 0.5
    thresholds = []
    for scores, truth in zip(logits.T, labels.T):
        if not truth.any():
            thresholds.append(DEFAULT_THRESHOLD)
            continue
        # Candidate cuts: "score >= cut" for every distinct score (scikit-learn enumerates them).
        precision, recall, cuts = precision_recall_curve(truth, scores)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        cut = cuts[int(np.argmax(f1))]
        below = scores[scores < cut]
        thresholds.append(float(expit((cut + below.max()) / 2 if below.size else cut - 1.0)))
    return thresholds


def label_thresholds(config, override: float | None = None) -> np.ndarray:
    """The probability threshold of each label: `override` for all, else the config's, else 0.5."""
    if override is not None:
        return np.full(config.num_labels, override)
    saved = getattr(config, "multi_label_thresholds", None)
    return np.asarray(saved if saved is not None else [DEFAULT_THRESHOLD] * config.num_labels, dtype=np.float64)


def logit_thresholds(probabilities) -> np.ndarray:
    """Probability thresholds -> the logit thresholds that `metrics.predictions_from_logits` compares with."""
    return logit(np.asarray(probabilities, dtype=np.float64))


def thresholds_for_run(trainer, validation, fixed: float | None, num_labels: int) -> list[float]:
    """The thresholds a training run saves: `fixed` for every label, or tuned on the validation split."""
    if fixed is not None:
        return [fixed] * num_labels
    output = trainer.predict(validation, metric_key_prefix="threshold_tuning")
    return tune_thresholds(output.predictions, output.label_ids)
