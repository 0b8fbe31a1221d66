"""Batches of tokenized texts: padded per batch, as tensors (training, evaluation and `textcls predict`);
or, with `--padding_free`, packed end to end in one row without padding.

`tokenizer.pad` does the padding (side, pad ids, `label` -> `labels`), as in `DataCollatorWithPadding`; only the
conversion of the padded lists to tensors is ours. transformers 5's `BatchEncoding.convert_to_tensors` walks the
whole nested batch in Python (`flatten`) before `torch.tensor`: that walk was 80% of a `fasttext` epoch on
reuters-r8 (bench/notes.md, "Batch collation"). numpy builds the same rectangular arrays in one C call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import DataCollatorWithFlattening, DataCollatorWithPadding

from .errors import TextclsError

# Training column and batch key of `--chunk_weighting text` (textcls.long_text): each window's weight in the loss.
WINDOW_WEIGHT = "window_weight"


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
    padding_free: bool = False  # --padding_free: `packed_batch` instead of padding

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if self.padding_free:
            return packed_batch(features)
        return {key: as_tensor(values) for key, values in super().__call__(features).items()}


def packed_batch(features: list[dict]) -> dict[str, torch.Tensor]:
    """The texts end to end in one row, `input_ids` and `position_ids` `[1, total tokens]`, the positions
    restarting at 0 with each text (transformers' `DataCollatorWithFlattening`), and `labels` per text.

    No padding is computed. Given no attention mask, transformers' Llama keeps each token's attention
    within its own text (it finds the texts from where the positions restart), and our Llama pools each
    text from the same restarts (models/modeling_textcls_llama.py).
    """
    if any(len(feature["input_ids"]) == 0 for feature in features):
        # The flattening collator would drop it, and the labels would no longer line up with the texts.
        raise TextclsError("--padding_free cannot pack a text of no tokens: remove empty texts from the data.")
    flat = DataCollatorWithFlattening(return_position_ids=True)(
        [{"input_ids": feature["input_ids"]} for feature in features], return_tensors="pt"
    )
    batch = {"input_ids": flat["input_ids"], "position_ids": flat["position_ids"]}
    label_key = next((key for key in ("label", "labels") if key in features[0]), None)
    if label_key is None:
        return batch
    # `labels` first: the Trainer takes the first tensor's length as the batch size (texts, not 1).
    labelled = {"labels": as_tensor([feature[label_key] for feature in features]), **batch}
    if WINDOW_WEIGHT in features[0]:  # --chunk_weighting text: one loss weight per text, like its label
        labelled[WINDOW_WEIGHT] = as_tensor([feature[WINDOW_WEIGHT] for feature in features])
    return labelled
