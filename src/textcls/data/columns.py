"""A `datasets.Dataset` column as one Arrow array, and the check that the named columns exist."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError


def arrow_column(ds, name: str) -> pa.ChunkedArray:
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


def is_list_type(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def missing_mask(col: pa.ChunkedArray) -> np.ndarray:
    """True where a value is null (or NaN in a float column)."""
    mask = col.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(col.type):
        mask |= pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
    return mask


def check_columns(ds, text_columns: Sequence[str], label_column: str | None, where: str) -> None:
    """The text columns (and the label column, when given) are in `ds`; `where` is e.g. "the train split"."""
    have = list(ds.column_names)
    wanted = [*text_columns, label_column] if label_column is not None else list(text_columns)
    missing = [c for c in wanted if c not in have]
    if missing:
        which = "label column" if missing == [label_column] else "column(s)"
        raise DataError(
            f"{which} {', '.join(repr(m) for m in missing)} not in {where}; its columns are: "
            f"{', '.join(have)} (set text_columns / label_column)"
        )
