"""`--long_text chunk`: classify a text longer than `--max_seq_length` by overlapping windows.

The tokenizer cuts each text into windows of at most `max_length` tokens, consecutive windows
sharing `stride` tokens (a fast tokenizer's `return_overflowing_tokens` / `stride`; every family's
tokenizer is a fast one). Training uses every window as an example with its text's label;
evaluation and prediction average the windows' logits per text, so there is one prediction (and
one metric row) per text. The default, `truncate`, keeps the first `max_length` tokens.

`--chunk_weighting` says what a training window weighs in the loss: `window`, one example each, so a
long text counts as many times as it has windows (and labels whose texts run long weigh more than
their share of texts); `text`, its text's weight shared among its windows, as in evaluation, where
each text counts once. The `text` weights are scaled to a mean of 1 over the training windows, so the
loss keeps its scale (the shared loss, models/sequence_classification.py, reads them per row).

The recipe records the setting in the config (`long_text`, `chunk_max_length`, `chunk_stride`), so
`textcls evaluate` and `textcls predict` classify long texts the way the model was trained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import datasets
import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from .collation import WINDOW_WEIGHT, PaddingCollator
from .errors import TextclsError
from .models.sequence_classification import sequence_classification_loss

LONG_TEXT_MODES = ("truncate", "chunk")
CHUNK_WEIGHTINGS = ("window", "text")
# Batch key that maps each window of an evaluation batch to its text's row in the batch.
WINDOW_DOCUMENT = "window_document"


def check_long_text(mode: str, stride: int | None, weighting: str = "window") -> None:
    """Flag values that are wrong whatever the tokenizer; a one-line error."""
    if mode not in LONG_TEXT_MODES:
        raise TextclsError(f"Unknown --long_text {mode!r}; choose one of {', '.join(LONG_TEXT_MODES)}.")
    if weighting not in CHUNK_WEIGHTINGS:
        raise TextclsError(f"Unknown --chunk_weighting {weighting!r}; choose one of {', '.join(CHUNK_WEIGHTINGS)}.")
    if stride is not None and stride < 0:
        raise TextclsError(f"--chunk_stride must be a number of tokens >= 0 (the overlap of two windows), got {stride}.")


def window_stride(tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int | None) -> int:
    """The overlap to use: `stride`, or a quarter of a window; it must leave room for new tokens."""
    if not tokenizer.is_fast:
        raise TextclsError(
            f"--long_text chunk needs a fast tokenizer; {type(tokenizer).__name__} is a slow one: "
            "save the checkpoint with its fast (tokenizer.json) tokenizer."
        )
    room = max_length - tokenizer.num_special_tokens_to_add()
    stride = room // 4 if stride is None else stride
    if not 0 <= stride < room:
        raise TextclsError(
            f"--chunk_stride {stride} must be below the {room} text tokens of a window "
            f"(--max_seq_length {max_length}): lower --chunk_stride or raise --max_seq_length."
        )
    return stride


def encode_windows(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int, stride: int
) -> tuple[dict[str, list], list[int]]:
    """Token windows of every text (one or more each, in text order) and, per window, its text's index."""
    encoded = tokenizer(
        list(texts), truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True
    )
    document = encoded.pop("overflow_to_sample_mapping")
    return dict(encoded), list(document)


def tokenize_chunked_splits(
    dataset: datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    stride: int,
    weighting: str = "window",
) -> datasets.DatasetDict:
    """`train`: one row per window with its text's label (and `length` for length-grouped batches; with
    `weighting="text"`, `WINDOW_WEIGHT`); other splits: one row per text whose token columns hold the
    list of its windows."""

    def windows(batch):
        encoded, document = encode_windows(tokenizer, batch["text"], max_length, stride)
        encoded["label"] = [batch["label"][i] for i in document]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        if weighting == "text":  # a text's windows all come from the same batch: its share is 1 / their count
            counts = Counter(document)
            encoded[WINDOW_WEIGHT] = [1 / counts[i] for i in document]
        return encoded

    def documents(batch):
        encoded, document = encode_windows(tokenizer, batch["text"], max_length, stride)
        rows = {key: [[] for _ in batch["text"]] for key in encoded}
        for window, row in enumerate(document):
            for key, values in encoded.items():
                rows[key][row].append(values[window])
        return {**rows, "label": batch["label"]}

    splits = datasets.DatasetDict(
        {
            name: split.map(
                windows if name == "train" else documents,
                batched=True,
                remove_columns=split.column_names if name == "train" else ["text"],
                desc=f"Cutting {name} into windows",
            )
            for name, split in dataset.items()
        }
    )
    if weighting == "text" and "train" in splits and len(splits["train"]):
        train = splits["train"]
        shares = np.asarray(train[WINDOW_WEIGHT], dtype=np.float64)
        splits["train"] = train.remove_columns(WINDOW_WEIGHT).add_column(WINDOW_WEIGHT, shares / shares.mean())
    return splits


class WindowCollator(PaddingCollator):
    """Pads windows like `PaddingCollator`; a batch of texts made of windows (evaluation
    rows) becomes a batch of all their windows, `labels` per text and `WINDOW_DOCUMENT` per window."""

    def __call__(self, features: list[dict]) -> dict:
        if not features or not isinstance(features[0]["input_ids"][0], list):
            return super().__call__(features)
        keys = [key for key in features[0] if key not in ("label", "labels")]
        windows, document = [], []
        for row, feature in enumerate(features):
            for window in range(len(feature["input_ids"])):
                windows.append({key: feature[key][window] for key in keys})
                document.append(row)
        labels = torch.tensor([feature["label"] for feature in features])
        # `labels` first: the Trainer takes the first tensor's length as the batch size (texts, not windows)
        # when it averages the evaluation loss over the batches.
        return {"labels": labels, **super().__call__(windows), WINDOW_DOCUMENT: torch.tensor(document)}


def mean_per_document(window_logits: torch.Tensor, document: torch.Tensor, num_documents: int) -> torch.Tensor:
    """`[num_documents, num_labels]`: the mean of each text's window logits."""
    document = document.to(window_logits.device)
    sums = torch.zeros(num_documents, window_logits.shape[-1], dtype=window_logits.dtype, device=window_logits.device)
    sums.index_add_(0, document, window_logits)
    counts = torch.bincount(document, minlength=num_documents).clamp(min=1).unsqueeze(-1)
    return sums / counts.to(window_logits.dtype)


@torch.no_grad()
def document_prediction_step(trainer, model, inputs: dict):
    """`Trainer.prediction_step` for a batch from `WindowCollator`: (loss, logits, labels) per text.

    The loss is the shared loss (models/sequence_classification.py) of the averaged logits, with the
    config's class weights, so it means the same for every family.
    """
    inputs = dict(trainer._prepare_inputs(inputs))
    document, labels = inputs.pop(WINDOW_DOCUMENT), inputs.pop("labels")
    with trainer.compute_loss_context_manager():
        window_logits = model(**inputs).logits.float()
    logits = mean_per_document(window_logits, document, len(labels))
    config = trainer.accelerator.unwrap_model(model).config
    loss = sequence_classification_loss(logits, labels, config)
    return loss.detach(), logits, labels


def record_long_text(config, mode: str, max_length: int, stride: int) -> None:
    """Save how texts were cut in training, for `textcls evaluate` / `predict` (see `long_text_settings`)."""
    if mode == "chunk":
        config.long_text, config.chunk_max_length, config.chunk_stride = mode, max_length, stride


def long_text_settings(
    config, tokenizer, mode: str | None = None, max_length: int | None = None, stride: int | None = None
) -> tuple[str, int, int | None]:
    """(mode, max_length, stride) for prediction: each argument given wins over the checkpoint's config.

    Truncation without `max_length` keeps what the tokenizer allows; chunking uses the window size
    and overlap the model was trained with, or `max_length` and a quarter of it.
    """
    mode = mode or getattr(config, "long_text", None) or "truncate"
    check_long_text(mode, stride)
    if mode == "truncate":
        return mode, max_length or min(tokenizer.model_max_length, 100_000), None
    if max_length is None:
        max_length = getattr(config, "chunk_max_length", None) or min(tokenizer.model_max_length, 100_000)
        stride = getattr(config, "chunk_stride", None) if stride is None else stride
    return mode, max_length, window_stride(tokenizer, max_length, stride)
