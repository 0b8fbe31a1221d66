"""Find and read a data source: a builtin corpus name, a `save_to_disk` folder, a local csv / tsv /
json / jsonl / parquet file, a folder of data files, or a Hugging Face Hub dataset name.

Every local data file, for every command (train, evaluate, predict), goes through
`load_data_file`: the checks below turn what the parsers would say about a bad file into one line.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa

from ..errors import DataError
from .builtin import BUILTIN_DATASETS, load_builtin_dataset
from .columns import is_list_type

logger = logging.getLogger(__name__)

# extension -> datasets packaged builder
SUPPORTED_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_VALIDATION_ALIASES = ("validation", "valid", "val", "dev")


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
# One local file
# --------------------------------------------------------------------------------------------


def check_utf8(path: Path, role: str) -> None:
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


@contextlib.contextmanager
def _parser_log_muted():
    """datasets' json builder logs the parser's error before raising it; the one line below says it."""
    json_logger = logging.getLogger("datasets.packaged_modules.json.json")
    was_disabled = json_logger.disabled
    json_logger.disabled = True
    try:
        yield
    finally:
        json_logger.disabled = was_disabled


def check_data_path(path: str | os.PathLike, role: str, extensions: Sequence[str] = tuple(SUPPORTED_EXTENSIONS)) -> Path:
    """The path names an existing file with one of `extensions`; -> the path, `~` expanded."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{role} '{p}' not found; check the path")
    if p.is_dir():
        raise DataError(f"{role} '{p}' is a folder; pass a data file ({', '.join(extensions)})")
    ext = p.suffix.lower()
    if ext not in extensions:
        raise DataError(f"{role} '{p}' has unsupported extension '{ext or '(none)'}'; supported: {', '.join(extensions)}")
    return p


def _is_column_oriented(ds) -> bool:
    """One row whose every field is an object or a list: a JSON object of columns (pandas' default
    `to_json()`), which datasets reads as a single record."""
    return len(ds) == 1 and all(pa.types.is_struct(f.type) or is_list_type(f.type) for f in ds.data.schema)


def load_data_file(path: str | os.PathLike, role: str, extensions: Sequence[str] = tuple(SUPPORTED_EXTENSIONS)):
    """Load one local data file as a `datasets.Dataset`, with one-line errors for bad files.

    `role` names the file in messages (train_file, input, ...); `extensions` are what the caller
    accepts in all, for the message on an unsupported one (predict reads .txt files itself, so
    they never reach here).
    """
    import datasets

    p = check_data_path(path, role, extensions)
    ext = p.suffix.lower()
    if p.stat().st_size == 0 or (ext != ".parquet" and not _has_content(p)):
        raise DataError(f"{role} '{p}' is empty; it needs a header row and data rows")
    kwargs: dict[str, Any] = {}
    if ext in (".csv", ".tsv"):
        check_utf8(p, role)
        kwargs["encoding"] = "utf-8-sig"  # Excel writes a BOM that would otherwise rename column 1
        if ext == ".tsv":
            kwargs["delimiter"] = "\t"
        # only empty cells are missing: "NA", "null" or "None" are real texts or label names here
        kwargs["keep_default_na"] = False
        kwargs["na_values"] = [""]
        _check_csv_shape(p, kwargs.get("delimiter", ","), role)
    elif ext in (".json", ".jsonl"):
        check_utf8(p, role)
    try:
        with _parser_log_muted():
            ds = datasets.load_dataset(SUPPORTED_EXTENSIONS[ext], data_files={"train": str(p)}, split="train", **kwargs)
    except Exception as exc:  # the parsers raise many types; all mean "this file is malformed"
        if "corresponds to no data" in str(exc):  # e.g. a JSON file holding []
            raise DataError(f"{role} '{p}' has no data rows; add records") from exc
        raise DataError(
            f"could not read {role} '{p}' as {ext[1:]} ({_root_message(exc)}); check that every row is well formed"
        ) from exc
    if len(ds) == 0:
        raise DataError(f"{role} '{p}' has no data rows; add rows below the header")
    if ext in (".json", ".jsonl") and _is_column_oriented(ds):
        raise DataError(
            f"{role} '{p}' holds one JSON object of columns; textcls reads a list of records "
            '([{"text": ..., "label": ...}, ...]) or JSON lines (pandas: to_json(orient="records"))'
        )
    return ds


# --------------------------------------------------------------------------------------------
# The `dataset` argument: builtin name, folder, file or Hub name
# --------------------------------------------------------------------------------------------


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


def load_dataset_source(dataset: str | os.PathLike, config_name: str | None, require_train: bool = True) -> dict[str, Any]:
    """The `dataset` argument -> {"train"?, "validation"?, "test"?} raw `datasets.Dataset`s."""
    import datasets

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
        return {"train": load_data_file(p, "dataset file")}
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
