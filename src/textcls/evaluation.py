"""Evaluate a saved checkpoint (ours or any transformers sequence classifier) on a dataset split."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from transformers import EvalPrediction

from .data import load_text_classification_data
from .errors import DataError
from .inference import load_checkpoint, predict_logits
from .metrics import build_compute_metrics, save_confusion_matrix


def model_label_ids(model, label_names: list[str] | None) -> np.ndarray | None:
    """Map the data's label ids to the model's by name; labels the model does not know are an error."""
    if label_names is None:
        return None
    label2id = {str(name): int(i) for name, i in model.config.label2id.items()}
    unknown = [name for name in label_names if name not in label2id]
    if unknown:
        raise DataError(
            f"labels {', '.join(unknown[:5])} are not among the model's labels ({', '.join(label2id)}): "
            "evaluate on data labelled with the model's label names."
        )
    return np.array([label2id[name] for name in label_names])


def evaluate_checkpoint(
    model_name_or_path: str,
    split: str = "test",
    output_dir: str | None = None,
    batch_size: int = 64,
    max_seq_length: int | None = None,
    trust_remote_code: bool = False,
    **data_kwargs,
) -> dict[str, float]:
    """Metrics of the checkpoint on `split`; writes `{split}_results.json` (+ a confusion matrix PNG)."""
    model, tokenizer = load_checkpoint(model_name_or_path, trust_remote_code=trust_remote_code)
    data = load_text_classification_data(**data_kwargs)
    if split not in data.dataset:
        raise DataError(f"the data has no {split!r} split; choose one of {', '.join(data.dataset)}.")
    if data.num_labels != model.config.num_labels:
        raise DataError(
            f"the model predicts {model.config.num_labels} labels but the data has {data.num_labels}: "
            "evaluate on data with the model's label set."
        )
    rows = data.dataset[split]
    references = np.asarray(rows["label"])
    to_model_ids = model_label_ids(model, data.label_names if data.problem_type != "regression" else None)
    if to_model_ids is not None and data.problem_type == "single_label_classification":
        references = to_model_ids[references]
    elif to_model_ids is not None:  # multi-hot columns: data order -> model order
        references = references[:, np.argsort(to_model_ids)]
    logits = predict_logits(model, tokenizer, rows["text"], batch_size=batch_size, max_length=max_seq_length, progress=True)
    compute = build_compute_metrics(data.problem_type)
    metrics = {f"{split}_{k}": v for k, v in compute(EvalPrediction(predictions=logits, label_ids=references)).items()}
    metrics[f"{split}_samples"] = len(rows)

    # Results sit next to a local checkpoint unless told otherwise (a Hub id has no folder here).
    out = Path(output_dir) if output_dir else Path(model_name_or_path) if os.path.isdir(model_name_or_path) else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{split}_results.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if data.problem_type == "single_label_classification":
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        save_confusion_matrix(references, logits.argmax(-1), names, out / f"{split}_confusion_matrix.png")
    return metrics
