"""What the three model families share: the label/problem-type fields of a config and the loss.

The problem type is inferred the way `transformers` infers it, so a checkpoint behaves the same
here as in any Hugging Face model:
  - `num_labels == 1`                        -> "regression"                 (MSE)
  - integer labels and `num_labels > 1`      -> "single_label_classification" (cross-entropy, ignore -100)
  - anything else (float multi-hot targets)  -> "multi_label_classification"  (BCE with logits)

`config.class_weights` (optional, one float per label, in label order) weights the loss: the
`weight` of the cross-entropy for single-label, the `pos_weight` of the BCE for multi-label. It is
part of the saved config, so a reloaded checkpoint (also with `trust_remote_code`) computes the
same loss.

This module is copied next to the model code when a checkpoint is saved (it is a relative import
of every modeling file), so it must import nothing but torch and transformers.
"""

import torch
from torch import nn

# The problem types, named once for the whole package (transformers' `config.problem_type` values).
REGRESSION = "regression"
SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
PROBLEM_TYPES = (REGRESSION, SINGLE_LABEL, MULTI_LABEL)


def validate_label_config(config) -> None:
    """Fail early and clearly on a head that cannot exist."""
    if config.num_labels is None or config.num_labels < 1:
        raise ValueError(f"num_labels must be >= 1 (1 means regression), got {config.num_labels}.")
    if config.problem_type is not None and config.problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type must be one of {PROBLEM_TYPES} or None, got {config.problem_type!r}.")


def infer_problem_type(config, labels: torch.Tensor) -> str:
    """Return `config.problem_type`, setting it from `num_labels` and the label dtype when unset."""
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = REGRESSION
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = SINGLE_LABEL
        else:
            config.problem_type = MULTI_LABEL
    return config.problem_type


def sequence_classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    config,
    sample_weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Loss of pooled logits `[batch, num_labels]` against `labels` for `config.problem_type`.

    `sample_weight` `[batch]` (optional) scales each row's loss; the sum is divided by what the unweighted
    mean divides by (the rows, or with class weights their targets' weights), so weights of mean 1 keep
    the loss's scale. `label_smoothing` is cross-entropy's (single-label only).
    """
    labels = labels.to(logits.device)
    problem_type = infer_problem_type(config, labels)
    reduction = "mean" if sample_weight is None else "none"
    if problem_type == REGRESSION:
        if config.num_labels == 1:  # one value per row; `squeeze` would make a batch of one a 0-d tensor
            logits, labels = logits.reshape(-1), labels.reshape(-1)
        # Compute in fp32: under bf16 autocast MSE on low-precision logits is needlessly coarse.
        loss = nn.functional.mse_loss(logits.float(), labels.float(), reduction=reduction)
        if sample_weight is None:
            return loss
        return _weighted_mean(loss.reshape(len(labels), -1).mean(-1), sample_weight)
    class_weights = getattr(config, "class_weights", None)
    if class_weights is not None:
        class_weights = torch.tensor(class_weights, dtype=torch.float32, device=logits.device)
    if problem_type == SINGLE_LABEL:
        labels = labels.view(-1).long()
        # Weighted: the mean is over the targets' weights (torch's definition), not over the rows.
        loss = nn.functional.cross_entropy(
            logits.view(-1, config.num_labels).float(),
            labels,
            weight=class_weights,
            ignore_index=-100,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
        if sample_weight is None:
            return loss
        counted = (labels != -100).float()
        target_weights = counted if class_weights is None else class_weights[labels.clamp(min=0)] * counted
        return _weighted_mean(loss, sample_weight, target_weights.sum())
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits.float(), labels.float(), pos_weight=class_weights, reduction=reduction
    )
    return loss if sample_weight is None else _weighted_mean(loss.mean(-1), sample_weight)


def _weighted_mean(row_losses: torch.Tensor, sample_weight: torch.Tensor, divisor=None) -> torch.Tensor:
    """Sum of `row_losses` x `sample_weight`, over `divisor` (default: the number of rows)."""
    total = (row_losses * sample_weight.to(row_losses.device, torch.float32)).sum()
    return total / (len(row_losses) if divisor is None else divisor)


def set_auto_map(config, module_name: str, base_model_class: str, classifier_class: str) -> None:
    """Point `auto_map` at this family's classes, so a saved checkpoint loads with `trust_remote_code`.

    `save_pretrained` only records the auto class of the object being saved; the base model's
    `AutoModel` entry is added here. Entries already in the config (e.g. read from a checkpoint) win.
    """
    module = module_name.rsplit(".", 1)[-1]
    config.auto_map = {
        "AutoConfig": f"{module}.{type(config).__name__}",
        "AutoModel": f"{module}.{base_model_class}",
        "AutoModelForSequenceClassification": f"{module}.{classifier_class}",
        **(getattr(config, "auto_map", None) or {}),
    }
