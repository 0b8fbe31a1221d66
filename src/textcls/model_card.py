"""Write a Hugging Face Hub model card (README.md) for a trained textcls checkpoint.

The YAML metadata is produced by `huggingface_hub.ModelCardData` (with `EvalResult` entries for the
`model-index`), so it has the exact shape the Hub parses; the text is the Jinja template
`templates/model_card.md`, rendered by `ModelCard.from_template`. Nothing here touches the network.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
)

from textcls.atomic import atomic_file
from textcls.errors import TextclsError
from textcls.families import FAMILIES
from textcls.metrics import normalize_problem_type
from textcls.models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from textcls.resources import RESOURCES

__all__ = ["write_model_card"]

# Trainer keys that are bookkeeping, not model quality.
_SKIP_SUFFIXES = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")
_SPLITS = {"eval_": "validation", "validation_": "validation", "test_": "test"}

# Our metric key -> (Hub metric type, display name, metric args)
_HUB_METRICS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "accuracy": ("accuracy", "Accuracy", None),
    "f1_macro": ("f1", "F1 (macro)", {"average": "macro"}),
    "f1_micro": ("f1", "F1 (micro)", {"average": "micro"}),
    "precision_macro": ("precision", "Precision (macro)", {"average": "macro"}),
    "recall_macro": ("recall", "Recall (macro)", {"average": "macro"}),
    "mcc": ("matthews_correlation", "Matthews correlation", None),
    "subset_accuracy": ("accuracy", "Subset accuracy", {"subset": True}),
    "mse": ("mse", "MSE", None),
    "mae": ("mae", "MAE", None),
    "pearson": ("pearsonr", "Pearson r", None),
    "spearman": ("spearmanr", "Spearman rho", None),
}

_PROBLEM_TEXT = {
    SINGLE_LABEL: "single-label classification (softmax over the labels)",
    MULTI_LABEL: "multi-label classification (an independent sigmoid per label)",
    REGRESSION: "regression (one real-valued output)",
}

_TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"

# A Hub repo id: "name" or "owner/name" (the Hub rejects local paths in `base_model`).
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _family_text(model_type: str) -> tuple[str, str, bool]:
    """(title, description, whether the checkpoint carries textcls code) for a family name or a config model_type."""
    family = next(
        (f for f in FAMILIES.values() if f.config_class is not None and model_type in (f.name, f.model_type)), None
    )
    if family is None:  # not one of ours (the `auto` family): a transformers class, loadable without remote code
        architecture = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.get(model_type, model_type)
        description = (
            f"Built on transformers' own `{architecture}` class (model type `{model_type}`): the pretrained "
            "checkpoint with a sequence-classification head for these labels."
        )
        return architecture, description, False
    return family.title, family.description, True


def _is_hub_id(name: str | None) -> bool:
    # Builtin corpora/models and local paths are not Hub repos: the Hub would show broken links.
    return bool(name) and _REPO_ID.match(name) is not None and name not in RESOURCES and not Path(name).exists()


def _split_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """{"eval_accuracy": .9, "test_accuracy": .8} -> {"accuracy": {"validation": .9, "test": .8}}."""
    table: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        for prefix, split in _SPLITS.items():
            if key.startswith(prefix):
                name = key[len(prefix):]
                break
        else:
            continue  # train_loss, epoch, ...: not a held-out score
        if not name or name.endswith(_SKIP_SUFFIXES) or isinstance(value, bool):
            continue
        try:
            table.setdefault(name, {})[split] = float(value)
        except (TypeError, ValueError):
            raise TextclsError(
                f"metric {key!r} has the non-numeric value {value!r}; pass numbers in `metrics`"
            ) from None
    # Known quality metrics first, in a fixed order; loss and custom keys after them.
    order = list(_HUB_METRICS)
    return dict(sorted(table.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in params.items():
        if isinstance(value, Mapping):
            items.extend(_flatten(value, f"{prefix}{key}."))
        elif value is not None:
            items.append((f"{prefix}{key}", value))
    return items


def write_model_card(
    output_dir: str | os.PathLike,
    *,
    model_type: str,
    base_model: str | None,
    dataset_name: str | None,
    problem_type: str,
    label_names: Sequence[str] | None,
    metrics: Mapping[str, float],
    training_args: Mapping[str, Any],
    repo_id: str | None = None,
) -> Path:
    """Write `README.md` (Hub metadata + description, labels, results, hyperparameters, usage).

    `metrics` uses Trainer keys: `eval_*` fills the validation column, `test_*` the test column;
    runtime/throughput keys and other prefixes are left out. Returns the README path.
    """
    out = Path(output_dir)
    if not out.is_dir():
        raise TextclsError(f"model card folder {str(out)!r} does not exist; save the model there first")
    if not model_type:
        raise TextclsError("write_model_card needs model_type (the config's model_type)")

    problem_type = normalize_problem_type(problem_type)
    hub_dataset = dataset_name if _is_hub_id(dataset_name) else None
    table = _split_metrics(metrics or {})
    model_ref = repo_id or str(out)
    model_name = (repo_id or out.resolve().name).split("/")[-1]

    eval_results = []
    for name, splits in table.items():
        if name not in _HUB_METRICS:
            continue  # loss and custom keys: shown in the table, not claimed as Hub results
        hub_type, display, args = _HUB_METRICS[name]
        for split in ("validation", "test"):
            value = splits.get(split)
            if value is None or math.isnan(value):
                continue
            eval_results.append(
                EvalResult(
                    task_type="text-classification",
                    task_name="Text Classification",
                    dataset_type=hub_dataset or "custom",
                    dataset_name=dataset_name or "custom dataset",
                    dataset_split=split,
                    metric_type=hub_type,
                    metric_value=round(value, 6),
                    metric_name=display,
                    metric_args=args,
                )
            )

    card_data = ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["textcls", "text-classification", model_type],
        datasets=[hub_dataset] if hub_dataset else None,
        base_model=base_model if _is_hub_id(base_model) else None,
        eval_results=eval_results or None,
    )

    title, description, remote_code = _family_text(model_type)
    card = ModelCard.from_template(
        card_data,
        template_path=str(_TEMPLATE),
        model_name=model_name,
        family_title=title,
        description=description,
        remote_code=remote_code,
        problem_text=_PROBLEM_TEXT[problem_type],
        base_model=base_model,
        model_type=model_type,
        dataset_name=dataset_name,
        label_names=list(label_names or []),
        regression=problem_type == REGRESSION,
        multi_label=problem_type == MULTI_LABEL,
        results=[(name, _fmt(splits.get("validation")), _fmt(splits.get("test"))) for name, splits in table.items()],
        hyperparameters=_flatten(training_args or {}),
        model_ref=model_ref,
        trust=", trust_remote_code=True" if remote_code else "",
    )
    content = str(card)
    ModelCard(content)  # parse it back: fails here, not on the Hub, if the metadata is malformed
    path = out / "README.md"
    with atomic_file(path) as tmp:  # a reader never sees a half-written card
        tmp.write_text(content, encoding="utf-8")
    return path
