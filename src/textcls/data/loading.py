"""Turn any supported source into a clean `DatasetDict` with exactly two columns: text, label.

Top to bottom: check the arguments, read the raw splits (`sources`), check their columns, drop
splits with no labels at all, settle the label space (`labels`), join the text columns and encode
the labels of every split, hold validation out of train when there is none (`splits`), and keep
the first `max_*_samples` rows.

Rows whose text is missing or blank are dropped and counted (`dropped_empty`); missing labels
are an error, except a non-train split with no labels at all (common for Hub test sets), which is
dropped with a warning.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from ..models.sequence_classification import REGRESSION, SINGLE_LABEL
from .columns import check_columns
from .labels import (
    LabelSpec,
    encode_labels,
    fixed_label_spec,
    infer_label_spec,
    label_feature,
    label_missing,
    settle_problem_type,
)
from .sources import (
    SUPPORTED_EXTENSIONS,
    check_data_path,
    check_utf8,
    load_data_file,
    load_dataset_source,
)
from .splits import (
    SAMPLE_LIMITS,
    check_sample_limit,
    check_validation_percentage,
    holdout_validation,
    keep_first_rows,
)
from .text_columns import joined_text, no_text_error, parse_text_columns

logger = logging.getLogger(__name__)

_SPLITS = ("train", "validation", "test")
# what `textcls predict` reads: the data tables, and plain text with one text per line
INPUT_EXTENSIONS = (*SUPPORTED_EXTENSIONS, ".txt")


@dataclass
class TextClassificationData:
    """A prepared dataset: splits with columns exactly `text` and `label`, plus label facts."""

    dataset: Any  # datasets.DatasetDict
    problem_type: str
    label_names: list[str] | None
    num_labels: int
    dropped_empty: dict[str, int] = field(default_factory=dict)

    @property
    def id2label(self) -> dict[int, str]:
        """For model configs; regression gets {0: "score"}."""
        if self.label_names is None:
            return {0: "score"}
        return dict(enumerate(self.label_names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in self.id2label.items()}


def load_text_classification_data(
    dataset: str | os.PathLike | None = None,
    dataset_config_name: str | None = None,
    train_file: str | os.PathLike | None = None,
    validation_file: str | os.PathLike | None = None,
    test_file: str | os.PathLike | None = None,
    text_columns: Sequence[str] | str = ("text",),
    label_column: str = "label",
    validation_split_percentage: float = 10,
    seed: int = 42,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    max_test_samples: int | None = None,
    label_names: Sequence[str] | None = None,
    problem_type: str | None = None,
) -> TextClassificationData:
    """Load and clean a text classification dataset into splits with columns `text` and `label`.

    `dataset` is a builtin name (see `BUILTIN_DATASETS`; their split is fixed and ignores
    `seed`), a `save_to_disk` folder, a local data file, a folder of data files, or a Hub name
    (loaded with `datasets.load_dataset(dataset, dataset_config_name)`). Or pass `train_file`
    (and optionally `validation_file`, `test_file`): csv, tsv, json, jsonl or parquet, mixed freely.

    `text_columns` (a list, or a comma-separated string) are joined with one space. Without a
    validation split, `validation_split_percentage`% of train is held out, stratified by label for
    single-label data, seeded by `seed`. `max_*_samples` keep the first N rows of a split (after
    the split; HF example-script semantics). See `textcls.data.labels` for the label rules.

    `label_names` fixes the label space (ids follow its order; every split's labels must be among
    them, matched by string form); `problem_type="regression"` fixes float labels. Either one
    makes a train split optional: `test_file` alone loads just a test split (evaluation), and
    validation is held out of train only when there is a train split.
    """
    text_columns = parse_text_columns(text_columns, label_column)
    check_validation_percentage(validation_split_percentage)
    limits = {"train": max_train_samples, "validation": max_eval_samples, "test": max_test_samples}
    for split, value in limits.items():
        check_sample_limit(SAMPLE_LIMITS[split], value)
    # a fixed label space needs no train split to infer it from
    fixed = label_names is not None or problem_type is not None
    fixed_spec = fixed_label_spec(label_names, problem_type) if fixed else None

    raw = _read_raw_splits(dataset, dataset_config_name, train_file, validation_file, test_file, fixed)
    for split, ds in raw.items():
        check_columns(ds, text_columns, label_column, f"the {split} split")
    _drop_unlabelled_splits(raw, label_column)

    if fixed_spec is not None:
        spec = fixed_spec
        settle_problem_type(spec, next(iter(raw.values())), label_column)
    else:
        spec = _infer_from_rows_with_text(raw["train"], text_columns, label_column)

    out: dict[str, Any] = {}
    dropped: dict[str, int] = {}
    for split in _SPLITS:
        if split in raw:
            out[split], dropped[split] = _normalize(raw[split], split, spec, text_columns, label_column)
            if dropped[split]:
                logger.warning("textcls: dropped %d rows with empty text from the %s split", dropped[split], split)

    if "validation" not in out and "train" in out:
        stratify = spec.problem_type == SINGLE_LABEL
        out["train"], out["validation"] = holdout_validation(out["train"], validation_split_percentage, seed, stratify)
        dropped["validation"] = 0
    out = keep_first_rows(out, limits)

    import datasets

    ordered = {s: out[s] for s in _SPLITS if s in out}
    return TextClassificationData(
        dataset=datasets.DatasetDict(ordered),
        problem_type=spec.problem_type,
        label_names=spec.names,
        num_labels=1 if spec.problem_type == REGRESSION else len(spec.names),
        dropped_empty={s: dropped.get(s, 0) for s in ordered},
    )


def _read_raw_splits(dataset, config_name, train_file, validation_file, test_file, fixed: bool) -> dict[str, Any]:
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    if dataset is not None and any(f is not None for f in files.values()):
        raise DataError("pass either dataset or train_file/validation_file/test_file, not both")
    if dataset is not None:
        return load_dataset_source(dataset, config_name, require_train=not fixed)
    if all(f is None for f in files.values()):
        raise DataError("no data given; pass dataset (a builtin name, local path or Hub name) or train_file")
    if train_file is None and not fixed:
        raise DataError(
            "validation_file/test_file given without train_file; pass train_file too "
            "(or label_names / problem_type to load them alone)"
        )
    return {split: load_data_file(path, f"{split}_file") for split, path in files.items() if path is not None}


def _drop_unlabelled_splits(raw: dict[str, Any], label_column: str) -> None:
    """Non-train splits without a single label (Hub test sets often use -1 / None) are unusable
    for evaluation: drop them instead of failing the whole load."""
    unlabeled = [s for s in raw if s != "train" and len(raw[s]) and label_missing(raw[s], label_column).all()]
    for split in unlabeled:
        logger.warning("textcls: the %s split has no labels at all; dropping it", split)
        del raw[split]
    if not raw:  # only possible without a train split
        raise DataError(
            f"no split has labels in column '{label_column}' (unlabelled: {', '.join(unlabeled)}); "
            "evaluation needs labelled rows (fill them in or set label_column)"
        )


def _infer_from_rows_with_text(train, text_columns: Sequence[str], label_column: str) -> LabelSpec:
    """Empty texts come out before the label type is decided: their labels do not count."""
    text_ok = joined_text(train, text_columns, "the train split").is_valid()
    if not pc.all(text_ok).as_py():
        train = train.select(np.flatnonzero(text_ok.to_numpy(zero_copy_only=False)))
    return infer_label_spec(train, label_column)


def _normalize(ds, split: str, spec: LabelSpec, text_columns, label_column) -> tuple[Any, int]:
    """-> (dataset with text/label, number of rows dropped for empty text)."""
    import datasets
    from datasets.table import InMemoryTable

    text = joined_text(ds, text_columns, f"the {split} split")
    keep = text.is_valid()
    n_empty = len(ds) - pc.sum(keep).as_py() if len(ds) else 0
    if n_empty:
        ds = ds.select(np.flatnonzero(keep.to_numpy(zero_copy_only=False)))
        text = text.filter(keep)
    if len(ds) == 0:
        raise no_text_error(f"the {split} split", n_empty, text_columns)
    missing = label_missing(ds, label_column)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} of {len(ds)} rows in the {split} split have no label (column '{label_column}'); "
            "fill in or remove those rows"
        )
    labels = encode_labels(ds, label_column, spec, split)
    features = datasets.Features({"text": datasets.Value("string"), "label": label_feature(spec)})
    table = pa.table({"text": text, "label": labels}).cast(features.arrow_schema)
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features), split=split), int(n_empty)


def load_texts(source: str | os.PathLike, text_column: str = "text") -> list[str]:
    """The texts to classify for `textcls predict`: a table read and checked as train/evaluate read
    theirs (column `text_column`), or a .txt file with one text per line (blank lines skipped).

    A table needs a text on every row (one prediction per input row): blank texts are an error
    here, not dropped as in training data.
    """
    role = "input file"
    where = f"the {role}"
    path = check_data_path(source, role, INPUT_EXTENSIONS)
    if path.suffix.lower() == ".txt":
        check_utf8(path, role)
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ds = load_data_file(path, role, INPUT_EXTENSIONS)
    check_columns(ds, [text_column], None, where)
    text = joined_text(ds, [text_column], where)
    if text.null_count == len(text):
        raise no_text_error(where, text.null_count, [text_column])
    if text.null_count:
        first = int(np.flatnonzero(~text.is_valid().to_numpy(zero_copy_only=False))[0]) + 1
        raise DataError(
            f"{where} has {text.null_count} row(s) with no text in column '{text_column}' (first at row {first}); "
            "every row needs a text to classify"
        )
    return text.to_pylist()
