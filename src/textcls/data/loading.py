"""Turn any supported source into a clean `DatasetDict` with exactly two columns: text, label.

Sources: a builtin corpus name, a `save_to_disk` folder, a local csv / tsv / json / jsonl /
parquet file (or one file per split), a folder of data files, or a Hugging Face Hub dataset name.

Label handling (decided from the TRAIN split):
- strings, ints, bools -> single-label classification, `ClassLabel` whose names are the sorted
  distinct train values as strings (numbers sorted by value); an existing `ClassLabel` is kept.
- floats -> regression (`num_labels == 1`, float32), EXCEPT when every train value is a whole
  number (1.0, 2.0): those are class ids that went through a float column (pandas does that to
  int columns with gaps), so they become classes "1", "2". A float target that should be a
  regression has fractional values; one that is whole-numbered is almost always a class id.
- lists of strings or ints -> multi-label: float multi-hot vectors over the sorted distinct
  labels seen in train (an inner `ClassLabel` keeps its names). Fixed-length 0/1 float vectors
  are taken as multi-hot already (names "0".."n-1"), so a prepared dataset round-trips.

A fixed label space can be given instead (`label_names`, e.g. a saved model's `id2label`, or
`problem_type="regression"`): then labels of every split are matched to those names by their string
form, nothing is inferred, and no train split is needed (evaluating on one test file).

Rows whose text is missing or blank are dropped and counted (`dropped_empty`); missing labels
are an error, except a non-train split with no labels at all (common for Hub test sets), which is
dropped with a warning.
"""

from __future__ import annotations

import codecs
import csv
import logging
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from ..models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL

logger = logging.getLogger(__name__)

# extension -> datasets packaged builder
SUPPORTED_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_VALIDATION_ALIASES = ("validation", "valid", "val", "dev")
_SPLITS = ("train", "validation", "test")

__all__ = [
    "MULTI_LABEL",
    "REGRESSION",
    "SINGLE_LABEL",
    "SUPPORTED_EXTENSIONS",
    "TextClassificationData",
    "load_text_classification_data",
    "stratified_split_indices",
]


def _one_line(text: Any, limit: int = 200) -> str:
    """Squeeze an exception's text into one short line for our one-line error messages."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _root_message(exc: BaseException) -> str:
    # datasets wraps the parser's error (DatasetGenerationError from ArrowInvalid/ParserError);
    # the innermost one says what is actually wrong with the file.
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    return f"{type(seen).__name__}: {_one_line(seen)}"


# --------------------------------------------------------------------------------------------
# Seeded (stratified) splits
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Reading sources
# --------------------------------------------------------------------------------------------


def _check_utf8(path: Path, role: str) -> None:
    """Fail early, with the byte offset, on files that are not UTF-8 (the parsers' errors are cryptic)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{role} '{path}' is not UTF-8 text (bad byte at offset {offset + exc.start}); "
                    "re-save it as UTF-8"
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataError(f"{role} '{path}' is not UTF-8 text (truncated character at the end); re-save it as UTF-8") from None


def _check_csv_shape(path: Path, delimiter: str, role: str) -> None:
    """Every row must have as many fields as the header, and there must be at least one row.

    pandas does not check this: a first data row with extra fields silently turns the leading
    columns into an index and shifts the text into the wrong column.
    """
    old_limit = csv.field_size_limit(sys.maxsize)  # long documents exceed the 128 KiB default
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            width = len(header or [])
            n_rows = 0
            for row in reader:
                if not row:
                    continue
                n_rows += 1
                if len(row) != width:
                    raise DataError(
                        f"{role} '{path}' line {reader.line_num} has {len(row)} fields but the header has {width}; "
                        "quote fields that contain the delimiter"
                    )
    except csv.Error as exc:
        raise DataError(f"could not read {role} '{path}' ({_one_line(exc)}); check the quoting") from exc
    finally:
        csv.field_size_limit(old_limit)
    if n_rows == 0:
        raise DataError(f"{role} '{path}' has no data rows; add rows below the header")


def _has_content(path: Path) -> bool:
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 16):
            if chunk.strip(b" \t\r\n\xef\xbb\xbf"):  # whitespace or a lone BOM is still empty
                return True
    return False


def _load_file(path: str | os.PathLike, role: str):
    """Load one local data file as a `datasets.Dataset`, with clear errors for bad files."""
    import datasets

    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{role} '{p}' not found; check the path")
    if p.is_dir():
        raise DataError(f"{role} '{p}' is a folder; pass a data file ({', '.join(SUPPORTED_EXTENSIONS)})")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"{role} '{p}' has unsupported extension '{ext or '(none)'}'; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if p.stat().st_size == 0 or (ext != ".parquet" and not _has_content(p)):
        raise DataError(f"{role} '{p}' is empty; it needs a header row and data rows")
    kwargs: dict[str, Any] = {}
    if ext in (".csv", ".tsv"):
        _check_utf8(p, role)
        kwargs["encoding"] = "utf-8-sig"  # Excel writes a BOM that would otherwise rename column 1
        if ext == ".tsv":
            kwargs["delimiter"] = "\t"
        # only empty cells are missing: "NA", "null" or "None" are real texts or label names here
        kwargs["keep_default_na"] = False
        kwargs["na_values"] = [""]
        _check_csv_shape(p, kwargs.get("delimiter", ","), role)
    elif ext in (".json", ".jsonl"):
        _check_utf8(p, role)
    builder = SUPPORTED_EXTENSIONS[ext]
    try:
        ds = datasets.load_dataset(builder, data_files={"train": str(p)}, split="train", **kwargs)
    except Exception as exc:  # the parsers raise many types; all mean "this file is malformed"
        if "corresponds to no data" in str(exc):  # e.g. a JSON file holding []
            raise DataError(f"{role} '{p}' has no data rows; add records") from exc
        raise DataError(
            f"could not read {role} '{p}' as {ext[1:]} ({_root_message(exc)}); check that every row is well formed"
        ) from exc
    if len(ds) == 0:
        raise DataError(f"{role} '{p}' has no data rows; add rows below the header")
    return ds


def _looks_like_path(name: str) -> bool:
    # Hub names look like "imdb" or "user/data"; these can only be meant as local paths
    return name.startswith(("/", "./", "../", "~")) or Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def _as_split_dict(obj, source: str, require_train: bool = True) -> dict[str, Any]:
    """DatasetDict / Dataset -> {"train", "validation"?, "test"?}; other splits are ignored.

    Without `require_train` (a fixed label space) any of the three is enough.
    """
    import datasets

    if isinstance(obj, datasets.Dataset):
        return {"train": obj}
    if not isinstance(obj, (datasets.DatasetDict, dict)):
        raise DataError(f"{source} is a {type(obj).__name__}, not a Dataset or DatasetDict; save it with save_to_disk")
    out: dict[str, Any] = {}
    names = list(obj.keys())
    if "train" in obj:
        out["train"] = obj["train"]
    elif require_train:
        raise DataError(f"{source} has no 'train' split (splits: {', '.join(names) or 'none'}); rename one to train")
    for alias in _VALIDATION_ALIASES:
        if alias in obj:
            out["validation"] = obj[alias]
            break
    if "test" in obj:
        out["test"] = obj["test"]
    if not out:
        raise DataError(
            f"{source} has no train, validation or test split (splits: {', '.join(names) or 'none'}); "
            "rename one of them"
        )
    ignored = [n for n in names if n not in ("train", "test", *_VALIDATION_ALIASES)]
    if ignored:
        logger.warning("textcls: ignoring split(s) %s of %s (only train/validation/test are used)", ignored, source)
    return out


def _load_dataset_arg(dataset: str | os.PathLike, config_name: str | None, require_train: bool = True) -> dict[str, Any]:
    import datasets

    from .builtin import BUILTIN_DATASETS, load_builtin_dataset

    name = os.fspath(dataset)
    if name in BUILTIN_DATASETS:
        # The builtin split is fixed (seed 42) whatever the training seed: results stay comparable.
        return _as_split_dict(load_builtin_dataset(name), f"builtin dataset '{name}'", require_train)
    p = Path(name).expanduser()
    if p.is_dir():
        if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
            try:
                obj = datasets.load_from_disk(str(p))
            except Exception as exc:
                raise DataError(f"could not load saved dataset '{p}' ({_root_message(exc)}); save it again with save_to_disk") from exc
            return _as_split_dict(obj, f"saved dataset '{p}'", require_train)
        try:  # a folder of data files (train.csv, test.csv, ...): datasets infers the splits
            obj = datasets.load_dataset(str(p), config_name)
        except Exception as exc:
            raise DataError(
                f"folder '{p}' is neither a save_to_disk dataset nor a folder of data files datasets can read "
                f"({_root_message(exc)}); pass train_file/validation_file/test_file instead"
            ) from exc
        return _as_split_dict(obj, f"folder '{p}'", require_train)
    if p.is_file():
        return {"train": _load_file(p, "dataset file")}
    if _looks_like_path(name):
        raise DataError(f"dataset '{name}' not found: no such file or folder; check the path")
    try:
        obj = datasets.load_dataset(name, config_name)
    except Exception as exc:  # offline, unknown name, gated, bad config...: say all that in one line
        raise DataError(
            f"dataset '{name}' is neither a builtin name ({', '.join(BUILTIN_DATASETS)}), nor a local file or folder, "
            f"nor loadable from the Hugging Face Hub ({_root_message(exc)}); check the name, pass a local path, "
            "or connect to the Hub"
        ) from exc
    return _as_split_dict(obj, f"Hub dataset '{name}'", require_train)


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _key(value: Any) -> str:
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
class _LabelSpec:
    problem_type: str
    names: list[str] | None  # None for regression
    classlabel: bool = False  # train had a ClassLabel feature (ids are already right)
    multihot: bool = False  # train labels were 0/1 vectors already
    fixed: bool = False  # given by the caller (label_names / problem_type), not inferred from train

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names or [])}


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _column(ds, name: str) -> pa.ChunkedArray:
    col = ds.with_format("arrow")[name]  # respects an indices mapping, unlike ds.data
    col = col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])
    if isinstance(col.type, pa.BaseExtensionType):
        # datasets keeps JSON fields of mixed types as a Json extension; decode and retype them
        values = list(ds[name])
        try:
            col = pa.chunked_array([pa.array(values)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise DataError(
                f"column '{name}' mixes value types ({', '.join(kinds)}); use one type throughout the column"
            ) from None
    return col


def _missing_mask(col: pa.ChunkedArray) -> np.ndarray:
    mask = col.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(col.type):
        mask |= pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
    return mask


def _inner_classlabel(feature):
    import datasets

    inner = getattr(feature, "feature", None)
    return inner if isinstance(inner, datasets.ClassLabel) else None


def _infer_label_spec(ds, column: str) -> _LabelSpec:
    """Decide the problem type and label names from the train split."""
    import datasets

    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return _LabelSpec(SINGLE_LABEL, list(feature.names), classlabel=True)
    col = _column(ds, column)
    t = col.type
    present = col.filter(pc.invert(pa.array(_missing_mask(col))))
    if _is_list(t):
        inner = _inner_classlabel(feature)
        if inner is not None:
            return _LabelSpec(MULTI_LABEL, list(inner.names), classlabel=True)
        vt = t.value_type
        flat = pc.list_flatten(present)
        if pa.types.is_floating(vt):
            lengths = set(pc.list_value_length(present).to_pylist())
            values = set(pc.unique(flat).to_pylist())
            if len(lengths) == 1 and values <= {0.0, 1.0}:
                return _LabelSpec(MULTI_LABEL, [str(i) for i in range(lengths.pop())], multihot=True)
            raise DataError(
                f"label column '{column}' holds lists of floats that are not 0/1 vectors of one length; "
                "multi-label needs lists of label names or ids"
            )
        if not (pa.types.is_string(vt) or pa.types.is_large_string(vt) or pa.types.is_integer(vt)
                or pa.types.is_boolean(vt) or pa.types.is_null(vt)):
            raise DataError(f"label column '{column}' holds lists of {vt}; multi-label needs lists of label names or ids")
        names = _sort_names({_key(v) for v in pc.unique(flat).to_pylist() if v is not None})
        if not names:
            raise DataError(f"label column '{column}' has only empty label lists in train; nothing to learn")
        return _LabelSpec(MULTI_LABEL, names)
    if pa.types.is_floating(t):
        values = pc.unique(present).to_pylist()
        if values and all(float(v).is_integer() for v in values):
            logger.info("textcls: float labels are all whole numbers; treating them as class ids")
            return _LabelSpec(SINGLE_LABEL, _sort_names({_key(v) for v in values}))
        return _LabelSpec(REGRESSION, None)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return _LabelSpec(SINGLE_LABEL, _sort_names({_key(v) for v in pc.unique(present).to_pylist()}))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = [v for v in pc.unique(present).to_pylist()]
        numeric = [v for v in values if _NUM_RE.match(v.strip())]
        if numeric and len(numeric) < len(values):
            word = next(v for v in values if not _NUM_RE.match(v.strip()))
            raise DataError(
                f"label column '{column}' mixes numbers and words (e.g. {numeric[0]!r} and {word!r}); "
                "use one kind of label throughout"
            )
        return _LabelSpec(SINGLE_LABEL, _sort_names(values))
    if pa.types.is_null(t):
        return _LabelSpec(SINGLE_LABEL, [])  # all missing: reported by _encode_labels
    raise DataError(
        f"label column '{column}' has unsupported type {t}; use strings, ints, floats or lists of labels"
    )


def _fixed_label_spec(label_names: Sequence[str] | None, problem_type: str | None) -> _LabelSpec:
    """The caller's label space: regression, or classes named `label_names` in that order.

    Names without a problem_type leave `problem_type` None: the data decides single vs multi-label.
    """
    if problem_type is not None and problem_type not in (SINGLE_LABEL, MULTI_LABEL, REGRESSION):
        raise DataError(
            f"unknown problem_type {problem_type!r}; use {SINGLE_LABEL!r}, {MULTI_LABEL!r}, {REGRESSION!r} or None"
        )
    if problem_type == REGRESSION:
        if label_names is not None:
            raise DataError("label_names were given with problem_type 'regression'; regression has no classes, drop one")
        return _LabelSpec(REGRESSION, None, fixed=True)
    if label_names is None:
        raise DataError(f"problem_type {problem_type!r} needs label_names (the classes in id order); pass them")
    if isinstance(label_names, str):
        raise DataError(f"label_names must be a list of class names, got the string {label_names!r}; pass a list")
    names = [_key(n) for n in label_names]
    if not names:
        raise DataError("label_names is empty; pass the class names in id order")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"label_names has duplicates ({', '.join(repr(d) for d in dupes[:5])}); each class needs one name")
    return _LabelSpec(problem_type, names, fixed=True)


def _report_unseen(unseen: list[str], split: str, column: str, spec: _LabelSpec) -> None:
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


def _encode_labels(ds, column: str, spec: _LabelSpec, split: str) -> pa.Array:
    """Labels of one split in the final encoding (ids, float score or multi-hot vectors)."""
    import datasets

    feature = ds.features[column]
    col = _column(ds, column)
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
        elif _is_list(col.type):
            raise DataError(f"the {split} split has label lists in '{column}' but {basis} single labels; use one label kind")
        else:
            values = col.to_pylist()
        keys = [_key(v) for v in values]
        unseen = sorted({k for k in keys if k not in index})
        if unseen:
            _report_unseen(unseen, split, column, spec)
        return pa.array([index[k] for k in keys], pa.int64())

    # multi-label
    n = len(index)
    out = np.zeros((len(ds), n), dtype=np.float32)
    if not _is_list(col.type):
        raise DataError(f"the {split} split has single labels in '{column}' but {basis} label lists; use lists everywhere")
    rows = col.to_pylist()
    # with given names, float vectors are multi-hot in that order (a prepared dataset saved to disk)
    if spec.multihot or (spec.fixed and pa.types.is_floating(col.type.value_type)):
        for i, row in enumerate(rows):
            if len(row) != n or any(v not in (0, 1) for v in row):
                raise DataError(
                    f"row {i} of the {split} split has a label vector that is not 0/1 of length {n}; fix it"
                )
            out[i] = row
        return pa.FixedSizeListArray.from_arrays(pa.array(out.reshape(-1)), n)
    inner = _inner_classlabel(feature)
    unseen: set[str] = set()
    for i, row in enumerate(rows):
        for v in row:
            if v is None:
                raise DataError(f"row {i} of the {split} split has a missing label inside its label list; fix it")
            k = inner.names[v] if inner is not None else _key(v)
            j = index.get(k)
            if j is None:
                unseen.add(k)
            else:
                out[i, j] = 1.0
    if unseen:
        _report_unseen(_sort_names(unseen), split, column, spec)
    return pa.FixedSizeListArray.from_arrays(pa.array(out.reshape(-1)), n)


def _label_missing(ds, column: str) -> np.ndarray:
    import datasets

    col = _column(ds, column)
    mask = _missing_mask(col)
    if isinstance(ds.features[column], datasets.ClassLabel):
        mask |= col.to_numpy(zero_copy_only=False) < 0  # -1 is datasets' "no label"
    return mask


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _text_column(ds, name: str, split: str) -> pa.ChunkedArray:
    col = _column(ds, name)
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.cast(col, pa.large_string())
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(col), pa.large_string())])
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return pc.cast(col, pa.large_string())
    raise DataError(f"text column '{name}' in the {split} split holds {t}, not text; pick a column of strings")


def _build_text(ds, columns: Sequence[str], split: str) -> pa.Array:
    """Join the text columns with one space; blank parts are skipped, blank results are null."""
    parts = []
    for name in columns:
        col = _text_column(ds, name, split)
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0)
        parts.append(pc.if_else(pc.fill_null(blank, True), pa.scalar(None, pa.large_string()), col))
    if len(parts) == 1:
        text = parts[0]
    else:
        text = pc.binary_join_element_wise(*parts, pa.scalar(" ", pa.large_string()), null_handling="skip")
        # all parts null -> "" after skip: make it null again so it is counted as empty
        text = pc.if_else(pc.equal(pc.utf8_length(text), 0), pa.scalar(None, pa.large_string()), text)
    return pc.cast(text, pa.string()).combine_chunks()


# --------------------------------------------------------------------------------------------
# Normalizing one split
# --------------------------------------------------------------------------------------------


def _check_columns(ds, text_columns: Sequence[str], label_column: str, split: str) -> None:
    have = list(ds.column_names)
    missing = [c for c in (*text_columns, label_column) if c not in have]
    if missing:
        which = "label column" if missing == [label_column] else "column(s)"
        raise DataError(
            f"{which} {', '.join(repr(m) for m in missing)} not in the {split} split; its columns are: "
            f"{', '.join(have)} (set text_columns / label_column)"
        )


def _features(spec: _LabelSpec):
    import datasets

    if spec.problem_type == REGRESSION:
        label = datasets.Value("float32")
    elif spec.problem_type == SINGLE_LABEL:
        label = datasets.ClassLabel(names=spec.names)
    else:
        list_type = getattr(datasets, "List", None) or datasets.Sequence  # List is datasets >= 4
        label = list_type(datasets.Value("float32"), length=len(spec.names))
    return datasets.Features({"text": datasets.Value("string"), "label": label})


def _dataset_from_arrays(text: pa.Array, labels: pa.Array, spec: _LabelSpec, split: str):
    import datasets
    from datasets.table import InMemoryTable

    features = _features(spec)
    table = pa.table({"text": text, "label": labels}).cast(features.arrow_schema)
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features), split=split)


def _normalize(ds, split: str, spec: _LabelSpec, text_columns, label_column) -> tuple[Any, int]:
    """-> (dataset with text/label, number of rows dropped for empty text)."""
    text = _build_text(ds, text_columns, split)
    keep = text.is_valid()
    n_empty = len(ds) - pc.sum(keep).as_py() if len(ds) else 0
    if n_empty:
        ds = ds.select(np.flatnonzero(keep.to_numpy(zero_copy_only=False)))
        text = text.filter(keep)
    if len(ds) == 0:
        raise DataError(
            f"the {split} split has no rows with text ({n_empty} empty or missing dropped) in column(s) "
            f"{', '.join(text_columns)}; check text_columns"
        )
    missing = _label_missing(ds, label_column)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} of {len(ds)} rows in the {split} split have no label (column '{label_column}'); "
            "fill in or remove those rows"
        )
    labels = _encode_labels(ds, label_column, spec, split)
    return _dataset_from_arrays(text, labels, spec, split), int(n_empty)


# --------------------------------------------------------------------------------------------
# The public entry point
# --------------------------------------------------------------------------------------------


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
        raise DataError(f"{name} must be a positive whole number or None, got {value!r}")


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
    the split; HF example-script semantics). See the module docstring for the label rules.

    `label_names` fixes the label space (ids follow its order; every split's labels must be among
    them, matched by string form); `problem_type="regression"` fixes float labels. Either one
    makes a train split optional: `test_file` alone loads just a test split (evaluation), and
    validation is held out of train only when there is a train split.
    """
    if isinstance(text_columns, str):
        text_columns = [c.strip() for c in text_columns.split(",") if c.strip()]
    text_columns = list(text_columns)
    if not text_columns:
        raise DataError("text_columns is empty; name at least one column that holds the text")
    if label_column in text_columns:
        raise DataError(f"column '{label_column}' is both a text column and the label column; pick different columns")
    try:
        pct_ok = 0 < float(validation_split_percentage) < 100
    except (TypeError, ValueError):
        pct_ok = False
    if not pct_ok:
        raise DataError(f"validation_split_percentage must be between 0 and 100 (exclusive), got {validation_split_percentage!r}")
    for name, value in (("max_train_samples", max_train_samples), ("max_eval_samples", max_eval_samples),
                        ("max_test_samples", max_test_samples)):
        _check_count(name, value)

    # a fixed label space needs no train split to infer it from
    fixed = label_names is not None or problem_type is not None
    fixed_spec = _fixed_label_spec(label_names, problem_type) if fixed else None
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    if dataset is not None and any(f is not None for f in files.values()):
        raise DataError("pass either dataset or train_file/validation_file/test_file, not both")
    if dataset is None:
        if all(f is None for f in files.values()):
            raise DataError("no data given; pass dataset (a builtin name, local path or Hub name) or train_file")
        if train_file is None and not fixed:
            raise DataError(
                "validation_file/test_file given without train_file; pass train_file too "
                "(or label_names / problem_type to load them alone)"
            )
        raw = {split: _load_file(path, f"{split}_file") for split, path in files.items() if path is not None}
    else:
        raw = _load_dataset_arg(dataset, dataset_config_name, require_train=not fixed)

    for split, ds in raw.items():
        _check_columns(ds, text_columns, label_column, split)

    # Non-train splits without a single label (Hub test sets often use -1 / None) are unusable
    # for evaluation: drop them instead of failing the whole load.
    unlabeled = [s for s in raw if s != "train" and len(raw[s]) and _label_missing(raw[s], label_column).all()]
    for split in unlabeled:
        logger.warning("textcls: the %s split has no labels at all; dropping it", split)
        del raw[split]
    if not raw:  # only possible without a train split
        raise DataError(
            f"no split has labels in column '{label_column}' (unlabelled: {', '.join(unlabeled)}); "
            "evaluation needs labelled rows (fill them in or set label_column)"
        )

    if fixed_spec is not None:
        spec = fixed_spec
        if spec.problem_type is None:  # names alone: lists of labels in the data mean multi-label
            first = next(iter(raw.values()))
            spec.problem_type = MULTI_LABEL if _is_list(_column(first, label_column).type) else SINGLE_LABEL
    else:
        # Empty texts come out before the label type is decided: their labels do not count.
        train_text_ok = _build_text(raw["train"], text_columns, "train").is_valid()
        train_for_spec = raw["train"]
        if not pc.all(train_text_ok).as_py():
            train_for_spec = train_for_spec.select(np.flatnonzero(train_text_ok.to_numpy(zero_copy_only=False)))
        spec = _infer_label_spec(train_for_spec, label_column)

    out: dict[str, Any] = {}
    dropped: dict[str, int] = {}
    for split in _SPLITS:
        if split in raw:
            out[split], dropped[split] = _normalize(raw[split], split, spec, text_columns, label_column)
            if dropped[split]:
                logger.warning("textcls: dropped %d rows with empty text from the %s split", dropped[split], split)

    if "validation" not in out and "train" in out:
        out["train"], out["validation"] = _holdout_validation(out["train"], spec, validation_split_percentage, seed)
        dropped["validation"] = 0

    for split, limit in (("train", max_train_samples), ("validation", max_eval_samples), ("test", max_test_samples)):
        if limit is not None and split in out and limit < len(out[split]):
            out[split] = out[split].select(range(limit))

    import datasets

    ordered = {s: out[s] for s in _SPLITS if s in out}
    return TextClassificationData(
        dataset=datasets.DatasetDict(ordered),
        problem_type=spec.problem_type,
        label_names=spec.names,
        num_labels=1 if spec.problem_type == REGRESSION else len(spec.names),
        dropped_empty={s: dropped.get(s, 0) for s in ordered},
    )


def _holdout_validation(train, spec: _LabelSpec, percentage: float, seed: int):
    n = len(train)
    frac = float(percentage) / 100.0
    n_val = max(1, int(round(n * frac)))
    if n - n_val < 1:
        raise DataError(
            f"train has only {n} rows: too few to hold out a validation split; add rows or pass validation_file"
        )
    labels = _column(train, "label").to_numpy() if spec.problem_type == SINGLE_LABEL else None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() < 2:
            logger.warning("textcls: a class has a single train example; validation split is not stratified")
            labels = None
    # exact size n_val even when rounding the fraction would give 0
    fractions = [1 - n_val / n, n_val / n]
    parts = stratified_split_indices(labels, fractions, seed) if labels is not None else plain_split_indices(n, fractions, seed)
    return train.select(parts[0]), train.select(parts[1])
