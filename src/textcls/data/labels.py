"""Label space and label encoding: which problem type the labels mean, their names, their ids.

Decided from the TRAIN split unless the caller fixes it (`label_names`, `problem_type`):
- strings, ints, bools -> single-label classification, `ClassLabel` whose names are the sorted
  distinct train values as strings (numbers sorted by value); an existing `ClassLabel` is kept.
- floats -> regression (`num_labels == 1`, float32), EXCEPT when every train value is a whole
  number (1.0, 2.0): those are class ids that went through a float column (pandas does that to
  int columns with gaps), so they become classes "1", "2". A float target that should be a
  regression has fractional values; one that is whole-numbered is almost always a class id.
- lists of strings or ints -> multi-label: float multi-hot vectors over the sorted distinct
  labels seen in train (an inner `ClassLabel` keeps its names). Fixed-length 0/1 float vectors
  are taken as multi-hot already (names "0".."n-1"), so a prepared dataset round-trips.
A fixed label space matches the labels of every split to its names by their string form.

Not `Dataset.class_encode_column`: it sorts names as strings ("10" before "2"), cannot take a
given name order, and fails on a value it has not seen with no word on which split or row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from ..models.sequence_classification import (
    MULTI_LABEL,
    PROBLEM_TYPES,
    REGRESSION,
    SINGLE_LABEL,
)
from .columns import arrow_column, is_list_type, missing_mask

logger = logging.getLogger(__name__)

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def label_key(value: Any) -> str:
    """Canonical string of one class label, so 1, 1.0 and "1" from different files agree."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    if names and all(_INT_RE.match(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


@dataclass
class LabelSpec:
    problem_type: str | None  # None only while fixed names wait for the data to say single or multi-label
    names: list[str] | None  # None for regression
    classlabel: bool = False  # train had a ClassLabel feature (ids are already right)
    multihot: bool = False  # train labels were 0/1 vectors already
    fixed: bool = False  # given by the caller (label_names / problem_type), not inferred from train

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names or [])}


def _inner_classlabel(feature):
    import datasets

    inner = getattr(feature, "feature", None)
    return inner if isinstance(inner, datasets.ClassLabel) else None


def infer_label_spec(ds, column: str) -> LabelSpec:
    """Decide the problem type and label names from the train split."""
    import datasets

    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return LabelSpec(SINGLE_LABEL, list(feature.names), classlabel=True)
    col = arrow_column(ds, column)
    t = col.type
    present = col.filter(pc.invert(pa.array(missing_mask(col))))
    if is_list_type(t):
        inner = _inner_classlabel(feature)
        if inner is not None:
            return LabelSpec(MULTI_LABEL, list(inner.names), classlabel=True)
        vt = t.value_type
        flat = pc.list_flatten(present)
        if pa.types.is_floating(vt):
            lengths = set(pc.list_value_length(present).to_pylist())
            values = set(pc.unique(flat).to_pylist())
            if len(lengths) == 1 and values <= {0.0, 1.0}:
                return LabelSpec(MULTI_LABEL, [str(i) for i in range(lengths.pop())], multihot=True)
            raise DataError(
                f"label column '{column}' holds lists of floats that are not 0/1 vectors of one length; "
                "multi-label needs lists of label names or ids"
            )
        if not (pa.types.is_string(vt) or pa.types.is_large_string(vt) or pa.types.is_integer(vt)
                or pa.types.is_boolean(vt) or pa.types.is_null(vt)):
            raise DataError(f"label column '{column}' holds lists of {vt}; multi-label needs lists of label names or ids")
        names = _sort_names({label_key(v) for v in pc.unique(flat).to_pylist() if v is not None})
        if not names:
            raise DataError(f"label column '{column}' has only empty label lists in train; nothing to learn")
        return LabelSpec(MULTI_LABEL, names)
    if pa.types.is_floating(t):
        values = pc.unique(present).to_pylist()
        if values and all(float(v).is_integer() for v in values):
            logger.info("textcls: float labels are all whole numbers; treating them as class ids")
            return LabelSpec(SINGLE_LABEL, _sort_names({label_key(v) for v in values}))
        return LabelSpec(REGRESSION, None)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return LabelSpec(SINGLE_LABEL, _sort_names({label_key(v) for v in pc.unique(present).to_pylist()}))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = [v for v in pc.unique(present).to_pylist()]
        numeric = [v for v in values if _NUM_RE.match(v.strip())]
        if numeric and len(numeric) < len(values):
            word = next(v for v in values if not _NUM_RE.match(v.strip()))
            raise DataError(
                f"label column '{column}' mixes numbers and words (e.g. {numeric[0]!r} and {word!r}); "
                "use one kind of label throughout"
            )
        return LabelSpec(SINGLE_LABEL, _sort_names(values))
    if pa.types.is_null(t):
        return LabelSpec(SINGLE_LABEL, [])  # all missing: reported by encode_labels
    raise DataError(
        f"label column '{column}' has unsupported type {t}; use strings, ints, floats or lists of labels"
    )


def fixed_label_spec(label_names: Sequence[str] | None, problem_type: str | None) -> LabelSpec:
    """The caller's label space: regression, or classes named `label_names` in that order.

    Names without a problem_type leave `problem_type` None: the data decides single vs multi-label
    (`settle_problem_type`).
    """
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise DataError(
            f"unknown problem_type {problem_type!r}; use {SINGLE_LABEL!r}, {MULTI_LABEL!r}, {REGRESSION!r} or None"
        )
    if problem_type == REGRESSION:
        if label_names is not None:
            raise DataError("label_names were given with problem_type 'regression'; regression has no classes, drop one")
        return LabelSpec(REGRESSION, None, fixed=True)
    if label_names is None:
        raise DataError(f"problem_type {problem_type!r} needs label_names (the classes in id order); pass them")
    if isinstance(label_names, str):
        raise DataError(f"label_names must be a list of class names, got the string {label_names!r}; pass a list")
    names = [label_key(n) for n in label_names]
    if not names:
        raise DataError("label_names is empty; pass the class names in id order")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"label_names has duplicates ({', '.join(repr(d) for d in dupes[:5])}); each class needs one name")
    return LabelSpec(problem_type, names, fixed=True)


def settle_problem_type(spec: LabelSpec, ds, column: str) -> None:
    """Fixed names alone: lists of labels in the data mean multi-label, single values single-label."""
    if spec.problem_type is None:
        spec.problem_type = MULTI_LABEL if is_list_type(arrow_column(ds, column).type) else SINGLE_LABEL


def label_missing(ds, column: str) -> np.ndarray:
    """True for rows without a label (null, NaN, or datasets' -1 "no label" in a ClassLabel)."""
    import datasets

    col = arrow_column(ds, column)
    mask = missing_mask(col)
    if isinstance(ds.features[column], datasets.ClassLabel):
        mask |= col.to_numpy(zero_copy_only=False) < 0
    return mask


def _report_unseen(unseen: list[str], split: str, column: str, spec: LabelSpec) -> None:
    shown = ", ".join(repr(u) for u in unseen[:5])
    more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
    if spec.fixed:
        names = spec.names or []
        allowed = ", ".join(names[:20]) + (f" ... ({len(names)} in all)" if len(names) > 20 else "")
        raise DataError(
            f"the {split} split has label(s) not in label_names: {shown}{more} (column '{column}'); "
            f"allowed: {allowed}; relabel or remove those rows"
        )
    raise DataError(
        f"the {split} split has label(s) never seen in train: {shown}{more} (column '{column}'); "
        "add them to train or remove those rows"
    )


def encode_labels(ds, column: str, spec: LabelSpec, split: str) -> pa.Array:
    """Labels of one split in the final encoding (ids, float score or multi-hot vectors)."""
    import datasets

    feature = ds.features[column]
    col = arrow_column(ds, column)
    # what the split is measured against, for the error messages
    basis = "the given label space has" if spec.fixed else "train has"
    if spec.problem_type == REGRESSION:
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            target = "problem_type is regression" if spec.fixed else "train labels are numbers (regression)"
            raise DataError(
                f"the {split} split has {col.type} labels in '{column}' but {target}; use numbers in every split"
            )
        return pc.cast(col, pa.float32()).combine_chunks()

    index = spec.index
    if spec.problem_type == SINGLE_LABEL:
        if isinstance(feature, datasets.ClassLabel):
            ids = col.to_numpy(zero_copy_only=False).astype(np.int64)
            if spec.classlabel and list(feature.names) == spec.names:
                return pa.array(ids, pa.int64())
            values = [feature.names[i] if i >= 0 else None for i in ids]  # remap by name
        elif is_list_type(col.type):
            raise DataError(f"the {split} split has label lists in '{column}' but {basis} single labels; use one label kind")
        else:
            values = col.to_pylist()
        keys = [label_key(v) for v in values]
        unseen = sorted({k for k in keys if k not in index})
        if unseen:
            _report_unseen(unseen, split, column, spec)
        return pa.array([index[k] for k in keys], pa.int64())

    # multi-label
    if not is_list_type(col.type):
        raise DataError(f"the {split} split has single labels in '{column}' but {basis} label lists; use lists everywhere")
    n = len(index)
    rows = col.to_pylist()
    # with given names, float vectors are multi-hot in that order (a prepared dataset saved to disk)
    if spec.multihot or (spec.fixed and pa.types.is_floating(col.type.value_type)):
        for i, row in enumerate(rows):
            if len(row) != n or any(v not in (0, 1) for v in row):
                raise DataError(
                    f"row {i} of the {split} split has a label vector that is not 0/1 of length {n}; fix it"
                )
        return _multi_hot_array(np.asarray(rows, dtype=np.float32).reshape(len(rows), n), n)
    inner = _inner_classlabel(feature)
    names_per_row = []
    for i, row in enumerate(rows):
        if any(v is None for v in row):
            raise DataError(f"row {i} of the {split} split has a missing label inside its label list; fix it")
        names_per_row.append([inner.names[v] if inner is not None else label_key(v) for v in row])
    unseen = {k for row in names_per_row for k in row} - set(index)
    if unseen:
        _report_unseen(_sort_names(unseen), split, column, spec)
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer(classes=spec.names).fit([])  # the given classes, in their order
    return _multi_hot_array(binarizer.transform(names_per_row).astype(np.float32), n)


def _multi_hot_array(matrix: np.ndarray, n: int) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), n)


def label_feature(spec: LabelSpec):
    """The `datasets` feature of the encoded label column."""
    import datasets

    if spec.problem_type == REGRESSION:
        return datasets.Value("float32")
    if spec.problem_type == SINGLE_LABEL:
        return datasets.ClassLabel(names=spec.names)
    list_type = getattr(datasets, "List", None) or datasets.Sequence  # List is datasets >= 4
    return list_type(datasets.Value("float32"), length=len(spec.names))
