"""Seeded splits: the fixed split of the builtin corpora, the validation split held out of train,
and `max_*_samples`.

Hand-written rather than `Dataset.train_test_split(stratify_by_column=...)` (scikit-learn's
`StratifiedShuffleSplit` underneath): that one rounds the class shares differently and draws other
rows, and the builtin splits and every held-out validation split must stay row for row what they
have been, so that the benchmark results in bench/ and the tests that count rows stay valid. Here
part sizes are exact and every class gives its largest-remainder share.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from .columns import arrow_column

logger = logging.getLogger(__name__)


def _holdout(labels: np.ndarray | None, pool: np.ndarray, n_hold: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Split the row ids in `pool` into (rest, holdout) with exactly `n_hold` held out.

    With labels, each class gives its share (largest-remainder rounding so the total is exact).
    """
    if labels is None:
        perm = rng.permutation(pool)
        return perm[n_hold:], perm[:n_hold]
    pool_labels = labels[pool]
    classes, counts = np.unique(pool_labels, return_counts=True)
    quota = counts * (n_hold / len(pool))
    take = np.floor(quota).astype(int)
    short = n_hold - int(take.sum())
    if short > 0:
        # random tie-break, then the largest fractional parts first
        order = rng.permutation(len(classes))
        order = order[np.argsort(-(quota - take)[order], kind="stable")]
        take[order[:short]] += 1
    rest, hold = [], []
    for cls, k in zip(classes, take):
        members = rng.permutation(pool[pool_labels == cls])
        hold.append(members[:k])
        rest.append(members[k:])
    return rng.permutation(np.concatenate(rest)), rng.permutation(np.concatenate(hold))


def stratified_split_indices(
    labels: Sequence[int] | np.ndarray | None, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Seeded split of `len(labels)` rows into parts of the given fractions (summing to 1).

    Part sizes are exact (`round(n * fraction)` for every part but the first, which takes the
    rest); every part keeps the class proportions of `labels` (largest-remainder rounding). Each
    part comes back in a seeded random order. `plain_split_indices` is the unstratified twin.
    """
    labels = np.asarray(labels)
    return _split(labels, len(labels), fractions, seed)


def plain_split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Seeded, unstratified split of `n` rows; same sizes as `stratified_split_indices`."""
    return _split(None, n, fractions, seed)


def _split(labels: np.ndarray | None, n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split fractions must sum to 1, got {list(fractions)}")
    rng = np.random.default_rng(seed)
    sizes = [int(round(n * f)) for f in fractions[1:]]
    pool = np.arange(n)
    parts = []
    for size in sizes:
        pool, hold = _holdout(labels, pool, size, rng)
        parts.append(hold)
    return [pool, *parts]


def check_validation_percentage(percentage: Any) -> None:
    try:
        ok = 0 < float(percentage) < 100
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"validation_split_percentage must be between 0 and 100 (exclusive), got {percentage!r}")


def holdout_validation(train, percentage: float, seed: int, stratify: bool):
    """(train, validation) with `percentage`% of the rows (at least one) held out, seeded.

    `stratify` (single-label data) keeps the class shares, unless a class has a single row.
    """
    n = len(train)
    n_val = max(1, int(round(n * float(percentage) / 100.0)))
    if n - n_val < 1:
        raise DataError(
            f"train has only {n} rows: too few to hold out a validation split; add rows or pass validation_file"
        )
    labels = arrow_column(train, "label").to_numpy() if stratify else None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() < 2:
            logger.warning("textcls: a class has a single train example; validation split is not stratified")
            labels = None
    # exact size n_val even when rounding the fraction would give 0
    fractions = [1 - n_val / n, n_val / n]
    parts = stratified_split_indices(labels, fractions, seed) if labels is not None else plain_split_indices(n, fractions, seed)
    return train.select(parts[0]), train.select(parts[1])


SAMPLE_LIMITS = {"train": "max_train_samples", "validation": "max_eval_samples", "test": "max_test_samples"}


def check_sample_limit(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
        raise DataError(f"{name} must be a positive whole number or None, got {value!r}")


def keep_first_rows(splits: dict[str, Any], limits: dict[str, int | None]) -> dict[str, Any]:
    """`max_*_samples`: the first N rows of each split (after the validation split; HF example-script semantics)."""
    return {
        split: ds.select(range(limits[split])) if limits.get(split) is not None and limits[split] < len(ds) else ds
        for split, ds in splits.items()
    }
