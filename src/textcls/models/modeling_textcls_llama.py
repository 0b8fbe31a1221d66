"""A Llama backbone with a sequence-classification head on the last real token (or the mean of all).

Differs from `transformers.LlamaForSequenceClassification` in how the last token is found: from the
`attention_mask` (the rightmost position it marks as real), not from "the rightmost token that is
not `pad_token_id`". That keeps it right when the pad token is the eos token and a text ends in
eos, with left padding, and when `config.pad_token_id` is unset (tests/test_llama.py compares
the two). The `score` head runs on the pooled states only, not on every position.

Padding-free batches (`--padding_free`, textcls.collation.packed_batch) hold several texts end to end in
one row with no attention mask, each text's `position_ids` starting again at 0: each text is pooled on its
own, found from those restarts as transformers' attention masks find it.

`pooling="mean"` averages the states of every real token instead (bench/notes.md, "Llama family": frozen
SmolLM2 states fed to a linear probe reach 0.78 on 20newsgroups mean-pooled, 0.49 at the last token).
"""

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import LlamaConfig
from transformers.masking_utils import find_packed_sequence_indices
from transformers.modeling_outputs import SequenceClassifierOutputWithPast
from transformers.models.llama.modeling_llama import LlamaModel, LlamaPreTrainedModel

from .sequence_classification import (
    sequence_classification_loss,
    set_auto_map,
    validate_label_config,
)


POOLINGS = ("last", "mean")


@strict
class TextclsLlamaConfig(LlamaConfig):
    """`LlamaConfig` under its own `model_type` (`llama` belongs to transformers)."""

    model_type = "textcls_llama"
    # "last": the last real token's state, as transformers' class pools; "mean": the mean over real tokens.
    pooling: str = "last"
    # Checkpoints whose backbone this config can describe: any plain Llama, and our own.
    backbone_model_types = ("llama", "textcls_llama")

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs):
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        model_type = config_dict.get("model_type")
        if model_type not in cls.backbone_model_types:
            raise ValueError(
                f"{pretrained_model_name_or_path} is a {model_type!r} checkpoint, not a Llama-architecture one: "
                "pass a Llama checkpoint (model_type 'llama'), or use a model family that fits it."
            )
        # A Llama checkpoint becomes ours, so that what we save says `textcls_llama`, not `llama`. Not
        # yet for a GGUF file: transformers' GGUF reader names its tensors after `model_type`, and
        # `LlamaForSequenceClassification.from_pretrained` restores ours once the weights are in.
        if kwargs.get("gguf_file") is None:
            config_dict["model_type"] = cls.model_type
        return config_dict, kwargs

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        validate_label_config(self)
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}.")
        set_auto_map(self, __name__, "TextclsLlamaModel", "LlamaForSequenceClassification")


def real_token_mask(
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None,
    input_ids: torch.Tensor | None,
    pad_token_id: int | None,
) -> torch.Tensor:
    """`[batch, seq_len]`, True at the real (non-padding) tokens: the attention mask where there is one."""
    batch_size, seq_len = hidden_states.shape[:2]
    if attention_mask is not None:
        return attention_mask.to(hidden_states.device) != 0
    if input_ids is not None and pad_token_id is not None:
        return input_ids.to(hidden_states.device) != pad_token_id
    if batch_size == 1:
        return torch.ones(1, seq_len, dtype=torch.bool, device=hidden_states.device)
    raise ValueError(
        "Cannot find the real tokens of a batch of several texts without an attention_mask "
        "(and config.pad_token_id is not set): pass the attention_mask the tokenizer returns."
    )


def pool_states(hidden_states: torch.Tensor, real: torch.Tensor, pooling: str) -> torch.Tensor:
    """`[batch, seq_len, hidden] -> [batch, hidden]`: each row's last real token's state, or the mean of its real ones."""
    if pooling == "mean":
        weights = real.to(hidden_states.dtype).unsqueeze(-1)  # [batch, seq_len, 1]
        return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1)
    positions = torch.arange(hidden_states.shape[1], device=hidden_states.device)
    last = (positions * real).argmax(-1)  # the largest real position: right, left or no padding
    return hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), last]


def pool_packed_states(hidden_states: torch.Tensor, text_index: torch.Tensor, pooling: str) -> torch.Tensor:
    """`[1, total, hidden] -> [texts, hidden]` for one packed row; `text_index` `[1, total]` numbers each
    token's text 0, 1, ... in order (`find_packed_sequence_indices`)."""
    states, text_index = hidden_states[0], text_index[0]
    lengths = torch.bincount(text_index)  # [texts]
    if pooling == "mean":
        sums = torch.zeros(len(lengths), states.shape[-1], dtype=states.dtype, device=states.device)
        return sums.index_add(0, text_index, states) / lengths.unsqueeze(-1).to(states.dtype)
    return states[lengths.cumsum(0) - 1]  # each text's last token


class TextclsLlamaModel(LlamaModel):
    """The Llama backbone, registered for our config so `AutoModel` loads it."""

    config_class = TextclsLlamaConfig
    config: TextclsLlamaConfig
    # Loading a classifier checkpoint as a bare backbone drops its head quietly, as transformers does.
    _keys_to_ignore_on_load_unexpected = [r"^score\."]


class LlamaForSequenceClassification(LlamaPreTrainedModel):
    config_class = TextclsLlamaConfig
    # The loss is a per-batch mean (sequence_classification_loss), not a sum over `num_items_in_batch`:
    # without this the Trainer stops dividing by gradient_accumulation_steps for a forward with **kwargs.
    accepts_loss_kwargs = False
    config: TextclsLlamaConfig
    base_model_prefix = "model"
    # A causal-LM checkpoint loads into the backbone; its language-model head is not used.
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]

    def __init__(self, config: TextclsLlamaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = TextclsLlamaModel(config)
        # Bias-free and named `score`, like transformers, so peft's SEQ_CLS task saves it.
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        model = super().from_pretrained(*args, **kwargs)
        if kwargs.get("gguf_file") is not None:
            vars(model.config).pop("model_type", None)  # back to the class's `textcls_llama` (see get_config_dict)
            # The GGUF weights were dequantized to full precision while loading; nothing quantized is left,
            # so drop the markers that would make `save_pretrained` and the Trainer refuse this model.
            vars(model.config).pop("quantization_config", None)
            for marker in ("hf_quantizer", "is_quantized", "quantization_method"):
                vars(model).pop(marker, None)
        return model

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutputWithPast:
        # No key/value cache: a classifier reads each text once. (Its argument is named differently across
        # transformers 5 releases, past_key_values then cache; one given here passes on through kwargs.)
        kwargs.setdefault("use_cache", False)
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        if attention_mask is None and position_ids is not None and hidden_states.shape[0] == 1:
            # A padding-free row, of one text or several. Even with one, no token is padding: one equal to
            # pad_token_id (eos, for SmolLM2) is text, so real_token_mask must not be asked.
            text_index = find_packed_sequence_indices(position_ids)  # None: a single text
            if text_index is None:
                text_index = torch.zeros_like(position_ids)
            pooled = pool_packed_states(hidden_states, text_index.to(hidden_states.device), self.config.pooling)
        else:
            real = real_token_mask(hidden_states, attention_mask, input_ids, self.config.pad_token_id)
            pooled = pool_states(hidden_states, real, self.config.pooling)
        # The head may be float32 over a bfloat16 backbone (textcls.precision): it computes in its own dtype.
        head_dtype = self.score.weight.dtype
        logits = self.score(pooled.to(head_dtype) if head_dtype.is_floating_point else pooled)  # [batch, num_labels]
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutputWithPast(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


__all__ = ["TextclsLlamaConfig", "TextclsLlamaModel", "LlamaForSequenceClassification"]
