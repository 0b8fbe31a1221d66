"""The text of each row: one or more text columns joined with one space; blank texts are missing."""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from .columns import arrow_column


def parse_text_columns(text_columns: Sequence[str] | str, label_column: str) -> list[str]:
    """A list, or a comma-separated string (command lines), of distinct columns other than the label's."""
    if isinstance(text_columns, str):
        text_columns = [c.strip() for c in text_columns.split(",") if c.strip()]
    text_columns = list(text_columns)
    if not text_columns:
        raise DataError("text_columns is empty; name at least one column that holds the text")
    if label_column in text_columns:
        raise DataError(f"column '{label_column}' is both a text column and the label column; pick different columns")
    return text_columns


def _as_text(ds, name: str, where: str) -> pa.ChunkedArray:
    col = arrow_column(ds, name)
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.cast(col, pa.large_string())
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(col), pa.large_string())])
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return pc.cast(col, pa.large_string())
    kind = str(t) if len(str(t)) <= 60 else str(t)[:57] + "..."  # a struct type names every field
    raise DataError(f"text column '{name}' in {where} holds {kind}, not text; pick a column of strings")


def joined_text(ds, columns: Sequence[str], where: str) -> pa.Array:
    """Join the text columns with one space; blank parts are skipped, blank results are null."""
    parts = []
    for name in columns:
        col = _as_text(ds, name, where)
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0)
        parts.append(pc.if_else(pc.fill_null(blank, True), pa.scalar(None, pa.large_string()), col))
    if len(parts) == 1:
        text = parts[0]
    else:
        text = pc.binary_join_element_wise(*parts, pa.scalar(" ", pa.large_string()), null_handling="skip")
        # all parts null -> "" after skip: make it null again so it is counted as empty
        text = pc.if_else(pc.equal(pc.utf8_length(text), 0), pa.scalar(None, pa.large_string()), text)
    return pc.cast(text, pa.string()).combine_chunks()


def no_text_error(where: str, n_empty: int, columns: Sequence[str]) -> DataError:
    return DataError(
        f"{where} has no rows with text ({n_empty} empty or missing dropped) in column(s) "
        f"{', '.join(columns)}; check text_columns"
    )
