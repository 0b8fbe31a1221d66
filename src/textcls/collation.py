"""Batches of tokenized texts: padded per batch, as tensors (training, evaluation and `textcls predict`).

`tokenizer.pad` does the padding (side, pad ids, `label` -> `labels`), as in `DataCollatorWithPadding`; only the
conversion of the padded lists to tensors is ours. transformers 5's `BatchEncoding.convert_to_tensors` walks the
whole nested batch in Python (`flatten`) before `torch.tensor`: that walk was 80% of a `fasttext` epoch on
reuters-r8 (bench/notes.md, "Batch collation"). numpy builds the same rectangular arrays in one C call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import DataCollatorWithPadding


def as_tensor(values) -> torch.Tensor:
    """A padded (rectangular) list, or a list of numbers, as a tensor with `torch.tensor`'s dtypes
    (int64 for integers, float32 for floats)."""
    array = np.asarray(values)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return torch.from_numpy(array)


@dataclass
class PaddingCollator(DataCollatorWithPadding):
    """`DataCollatorWithPadding` with a fast list-to-tensor conversion: same keys, shapes, dtypes and values."""

    return_tensors: str | None = None  # the parent pads into Python lists; __call__ makes the tensors

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        return {key: as_tensor(values) for key, values in super().__call__(features).items()}
