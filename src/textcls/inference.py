"""Batched prediction for any sequence-classification checkpoint (ours or a transformers one).

Hand-written rather than `pipeline("text-classification")` for one reason: speed. Texts are
tokenized once, sorted by length and batched so that each batch pads only to its own longest
text, then put back in input order; the pipeline pads each batch of texts in input order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import expit, softmax
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from .checkpoints import check_tokenizer_files, checkpoint_errors
from .collation import PaddingCollator
from .long_text import encode_windows, long_text_settings, mean_per_document
from .models.sequence_classification import MULTI_LABEL, REGRESSION
from .thresholds import label_thresholds


def load_checkpoint(path: str, trust_remote_code: bool = False, device: str | None = None):
    """Model (eval mode) and tokenizer from a local checkpoint folder or a Hub id, with clear errors."""
    with checkpoint_errors(path):
        check_tokenizer_files(path)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=trust_remote_code)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer


def predict_logits(
    model,
    tokenizer,
    texts: Sequence[str],
    batch_size: int = 64,
    max_length: int | None = None,
    progress: bool = False,
    long_text: str | None = None,
    chunk_stride: int | None = None,
) -> np.ndarray:
    """`[len(texts), num_labels]` float32 logits, in the order of `texts`.

    Long texts are truncated to `max_length` tokens, or with `long_text="chunk"` cut into
    overlapping windows whose logits are averaged per text (textcls.long_text); by default as the
    checkpoint was trained (`config.long_text`), else truncated to what the tokenizer allows.
    """
    long_text, max_length, chunk_stride = long_text_settings(model.config, tokenizer, long_text, max_length, chunk_stride)
    if long_text == "chunk":
        windows, document = encode_windows(tokenizer, texts, max_length, chunk_stride)
        encoded = windows["input_ids"]
    else:
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    logits = encoded_logits(model, tokenizer, encoded, batch_size, progress)
    if long_text == "chunk":
        logits = mean_per_document(torch.from_numpy(logits), torch.tensor(document), len(texts)).numpy()
    return logits


@torch.inference_mode()
def encoded_logits(
    model, tokenizer, encoded: Sequence[list[int]], batch_size: int = 64, progress: bool = False
) -> np.ndarray:
    """`[len(encoded), num_labels]` float32 logits of token-id rows, in their order (windows or texts)."""
    order = np.argsort([len(ids) for ids in encoded], kind="stable")
    logits = np.zeros((len(encoded), model.config.num_labels), dtype=np.float32)
    device = next(model.parameters()).device
    collate = PaddingCollator(tokenizer)
    for start in tqdm(range(0, len(order), batch_size), disable=not progress, desc="Predicting", unit="batch"):
        rows = order[start : start + batch_size]
        batch = collate([{"input_ids": encoded[i]} for i in rows])
        batch = {key: value.to(device) for key, value in batch.items()}
        logits[rows] = model(**batch).logits.float().cpu().numpy()
    return logits


def scores_from_logits(logits: np.ndarray, problem_type: str | None) -> np.ndarray:
    """Softmax for single-label, sigmoid for multi-label, the raw value for regression."""
    if problem_type == REGRESSION or logits.shape[-1] == 1:
        return logits
    if problem_type == MULTI_LABEL:
        return expit(logits)
    return softmax(logits, axis=-1)


def label_predictions(model, logits: np.ndarray, multi_label_threshold: float | None = None) -> list[dict]:
    """One `{"label", "score"}` per text (multi-label: every label over its threshold, as a list).

    Multi-label thresholds: `multi_label_threshold` for every label, else the checkpoint's
    `config.multi_label_thresholds` (tuned on validation by the recipe), else 0.5.
    """
    problem_type = model.config.problem_type
    scores = scores_from_logits(logits, problem_type)
    id2label = model.config.id2label
    if problem_type == REGRESSION or logits.shape[-1] == 1:
        return [{"label": id2label.get(0, "score"), "score": float(row[0])} for row in scores]
    if problem_type == MULTI_LABEL:
        thresholds = label_thresholds(model.config, multi_label_threshold)
        chosen = [np.flatnonzero(row > thresholds) for row in scores]
        return [
            {"label": [id2label[int(i)] for i in ids], "score": [float(row[i]) for i in ids]}
            for ids, row in zip(chosen, scores)
        ]
    best = scores.argmax(axis=-1)
    return [{"label": id2label[int(i)], "score": float(row[i])} for i, row in zip(best, scores)]
