"""Evaluate a saved checkpoint (ours or any transformers sequence classifier) on a dataset split."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from transformers import AutoConfig, EvalPrediction

from .checkpoints import checkpoint_errors
from .data import MULTI_LABEL, REGRESSION, SINGLE_LABEL, load_text_classification_data
from .errors import DataError
from .inference import load_checkpoint, predict_logits
from .metrics import build_compute_metrics
from .reporting import save_confusion_matrix
from .thresholds import label_thresholds, logit_thresholds


def model_label_space(config) -> dict:
    """Loader arguments that fix the label space to the model's, so data label ids are model ids."""
    problem_type = config.problem_type
    if problem_type is None:  # transformers' convention for an unset problem_type
        problem_type = REGRESSION if config.num_labels == 1 else SINGLE_LABEL
    if problem_type == REGRESSION:
        return {"problem_type": REGRESSION}
    names = [str(config.id2label[i]) for i in range(config.num_labels)]
    return {"label_names": names, "problem_type": MULTI_LABEL if problem_type == MULTI_LABEL else SINGLE_LABEL}


def evaluate_checkpoint(
    model_name_or_path: str,
    split: str | None = None,
    output_dir: str | None = None,
    batch_size: int = 64,
    max_seq_length: int | None = None,
    trust_remote_code: bool = False,
    multi_label_threshold: float | None = None,
    long_text: str | None = None,
    chunk_stride: int | None = None,
    **data_kwargs,
) -> dict[str, float]:
    """Metrics of the checkpoint on `split`; writes `{split}_results.json` (+ a confusion matrix PNG).

    `data_kwargs` go to `load_text_classification_data` (dataset, test_file, text_columns, ...);
    the label space is the model's, so no train split is needed: `test_file=...` alone works.
    Without `split`, "test" is used when the data has one, else the data's only split.
    Multi-label predictions use `multi_label_threshold` for every label, else the checkpoint's
    `config.multi_label_thresholds`, else 0.5. Long texts: `long_text`/`chunk_stride` as in
    `inference.predict_logits` (default: as the checkpoint was trained); one metric row per text.
    """
    # The config alone fixes the label space: bad data fails before the (possibly large) weights load.
    with checkpoint_errors(model_name_or_path):
        config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code)
    data = load_text_classification_data(**data_kwargs, **model_label_space(config))
    model, tokenizer = load_checkpoint(model_name_or_path, trust_remote_code=trust_remote_code)
    splits = list(data.dataset)
    if split is None:
        split = "test" if "test" in splits or len(splits) != 1 else splits[0]
    if split not in data.dataset:
        raise DataError(f"the data has no {split!r} split; it has: {', '.join(splits)} (choose one with --split / split=)")
    rows = data.dataset[split]
    references = np.asarray(rows["label"])
    logits = predict_logits(
        model,
        tokenizer,
        rows["text"],
        batch_size=batch_size,
        max_length=max_seq_length,
        progress=True,
        long_text=long_text,
        chunk_stride=chunk_stride,
    )
    compute = build_compute_metrics(
        data.problem_type, logit_thresholds(label_thresholds(config, multi_label_threshold))
    )
    metrics = {f"{split}_{k}": v for k, v in compute(EvalPrediction(predictions=logits, label_ids=references)).items()}
    metrics[f"{split}_samples"] = len(rows)

    # Results sit next to a local checkpoint unless told otherwise (a Hub id has no folder here).
    out = Path(output_dir) if output_dir else Path(model_name_or_path) if os.path.isdir(model_name_or_path) else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{split}_results.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if data.problem_type == SINGLE_LABEL:
        save_confusion_matrix(references, logits.argmax(-1), data.label_names, out / f"{split}_confusion_matrix.png")
    return metrics
