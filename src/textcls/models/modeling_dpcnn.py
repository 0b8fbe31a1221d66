"""DPCNN: "Deep Pyramid Convolutional Neural Networks for Text Categorization" (Johnson & Zhang, 2017).

    embedding -> region embedding (conv of width `region_size`)
    -> conv block                                  (ReLU, conv3, ReLU, conv3, + identity shortcut)
    -> [max-pool size 3 stride 2 -> conv block] x up to `num_blocks`, until the length is 1
    -> max over what remains -> dropout -> linear head

Each text halves its own length, not the batch's padded length: a text whose length has reached 1
stops changing while longer texts of the batch go on down the pyramid, and padding is kept out of
every convolution and every pool. So a text has the same logits alone or in any padded batch.
"""

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    SequenceClassifierOutput,
)

from .padding import left_align
from .sequence_classification import (
    sequence_classification_loss,
    set_auto_map,
    validate_label_config,
)
from .word_embedding import WordEmbedding, validate_embedding_mode


@strict
class DPCNNConfig(PreTrainedConfig):
    r"""
    vocab_size: size of the tokenizer's vocabulary.
    embedding_dim: word vector size.
    embedding_mode: "rand", "static", "non-static" or "multichannel" (as for TextCNN).
    num_filters: channels of every convolution (paper: 250).
    region_size: width of the region embedding convolution (odd; paper: 3).
    num_blocks: downsampling blocks at most (a block per halving; 6 gives the paper's 15 weight layers).
    dropout: on the pooled features before the head.
    """

    model_type = "dpcnn"

    vocab_size: int = 30000
    embedding_dim: int = 128
    embedding_mode: str = "rand"
    num_filters: int = 250
    region_size: int = 3
    num_blocks: int = 6
    dropout: float = 0.5
    initializer_range: float = 0.1
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        validate_embedding_mode(self.embedding_mode)
        if self.region_size < 1 or self.region_size % 2 == 0:
            raise ValueError(f"region_size must be a positive odd number, got {self.region_size}.")
        if min(self.num_filters, self.embedding_dim, self.vocab_size) < 1 or self.num_blocks < 0:
            raise ValueError("num_filters, embedding_dim and vocab_size must be >= 1 and num_blocks >= 0.")
        validate_label_config(self)
        set_auto_map(self, __name__, "DPCNNModel", "DPCNNForSequenceClassification")


def length_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """`[batch] -> [batch, 1, seq_len]`: 1.0 at the first `length` positions of each row."""
    positions = torch.arange(seq_len, device=lengths.device)
    return (positions < lengths.unsqueeze(-1)).unsqueeze(1).to(torch.float32)


class DPCNNBlock(nn.Module):
    """Two pre-activation convolutions of width 3 and an identity shortcut; padding stays zero."""

    def __init__(self, num_filters: int):
        super().__init__()
        self.conv1 = nn.Conv1d(num_filters, num_filters, 3, padding=1)
        self.conv2 = nn.Conv1d(num_filters, num_filters, 3, padding=1)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # hidden_states: [batch, num_filters, seq_len], zero where mask is 0
        residual = self.conv1(torch.relu(hidden_states)) * mask
        residual = self.conv2(torch.relu(residual)) * mask
        return hidden_states + residual


class DPCNNPreTrainedModel(PreTrainedModel):
    config_class = DPCNNConfig
    config: DPCNNConfig
    base_model_prefix = "dpcnn"
    main_input_name = "input_ids"
    # The loss is a per-batch mean (sequence_classification_loss), not a sum over `num_items_in_batch`:
    # without this the Trainer stops dividing by gradient_accumulation_steps for a forward with **kwargs.
    accepts_loss_kwargs = False

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -self.config.initializer_range, self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, (nn.Conv1d, nn.Linear)):
            # Kaiming for the ReLU stacks; the identity shortcuts keep the deep pyramid trainable.
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def load_pretrained_embeddings(self, vectors) -> None:
        """Copy pretrained word vectors `[vocab_size, embedding_dim]` into the embedding table(s)."""
        self.base_model.embeddings.load_vectors(vectors)


class DPCNNModel(DPCNNPreTrainedModel):
    """The encoder: returns the pooled features `[batch, num_filters]` and the last feature map."""
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: DPCNNConfig):
        super().__init__(config)
        self.embeddings = WordEmbedding(
            config.vocab_size, config.embedding_dim, config.embedding_mode, padding_idx=config.pad_token_id
        )
        self.region_embedding = nn.Conv1d(
            config.embedding_dim, config.num_filters, config.region_size, padding=config.region_size // 2
        )
        self.first_block = DPCNNBlock(config.num_filters)
        self.blocks = nn.ModuleList(DPCNNBlock(config.num_filters) for _ in range(config.num_blocks))
        self.post_init()

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        input_ids, attention_mask = left_align(input_ids, attention_mask)
        lengths = attention_mask.sum(-1)  # [batch]
        mask = length_mask(lengths, input_ids.shape[1])

        embeddings = self.embeddings(input_ids).transpose(1, 2)  # [batch, embedding_dim, seq_len]
        mask = mask.to(embeddings.dtype)
        hidden_states = self.region_embedding(embeddings * mask) * mask  # [batch, num_filters, seq_len]
        hidden_states = self.first_block(hidden_states, mask)

        for block in self.blocks:
            if hidden_states.shape[-1] == 1:
                break
            # Padding must never win a max: fill it with the lowest value first.
            pooled = nn.functional.max_pool1d(
                hidden_states.masked_fill(mask == 0, torch.finfo(hidden_states.dtype).min), 3, stride=2, padding=1
            )  # [batch, num_filters, ceil(seq_len / 2)]
            still_shrinking = lengths > 1
            lengths = torch.where(still_shrinking, (lengths + 1) // 2, lengths)
            mask = length_mask(lengths, pooled.shape[-1]).to(pooled.dtype)
            downsampled = block(pooled * mask, mask)
            # A text already down to one position keeps its features (it sits at position 0).
            hidden_states = torch.where(
                still_shrinking[:, None, None], downsampled, hidden_states[..., : pooled.shape[-1]]
            )

        pooled_output = hidden_states.masked_fill(mask == 0, torch.finfo(hidden_states.dtype).min).max(-1).values
        pooled_output = pooled_output.masked_fill((lengths == 0).unsqueeze(-1), 0.0)  # [batch, num_filters]
        return BaseModelOutputWithPooling(last_hidden_state=hidden_states.transpose(1, 2), pooler_output=pooled_output)


class DPCNNForSequenceClassification(DPCNNPreTrainedModel):
    def __init__(self, config: DPCNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.dpcnn = DPCNNModel(config)
        self.dropout = nn.Dropout(config.dropout)
        # Named `classifier` so that peft's SEQ_CLS task trains and saves it with the adapter.
        self.classifier = nn.Linear(config.num_filters, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.dpcnn(input_ids, attention_mask=attention_mask)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # [batch, num_labels]
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["DPCNNConfig", "DPCNNModel", "DPCNNForSequenceClassification", "DPCNNPreTrainedModel"]
