"""TextCNN: "Convolutional Neural Networks for Sentence Classification" (Kim, 2014).

    embedding -> parallel 1-D convolutions of widths `kernel_sizes` -> ReLU -> max over time
    -> concatenate -> dropout -> linear head

Convolutions are "wide" (each text padded by `width - 1` zero vectors on both sides, as in Kim's
own code), so a text shorter than the widest kernel still gives every filter a window. Padding
tokens are zeroed and windows made only of padding are masked out of the max, so a text has the
same logits alone or inside a longer padded batch, with left or right padding.
"""

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    SequenceClassifierOutput,
)

from .sequence_classification import (
    sequence_classification_loss,
    set_auto_map,
    validate_label_config,
)
from .word_embedding import WordEmbedding, validate_embedding_mode


@strict
class TextCNNConfig(PreTrainedConfig):
    r"""
    vocab_size: size of the tokenizer's vocabulary.
    embedding_dim: word vector size (Kim: 300; 50 with GloVe 6B 50d).
    embedding_mode: "rand", "static", "non-static" or "multichannel" (Kim's four variants).
    kernel_sizes: widths of the parallel convolutions (Kim: 3, 4, 5).
    num_filters: feature maps per width (Kim: 100).
    dropout: on the pooled features before the head (Kim: 0.5).
    """

    model_type = "textcnn"

    vocab_size: int = 30000
    embedding_dim: int = 128
    embedding_mode: str = "rand"
    kernel_sizes: list[int] | tuple[int, ...] = (3, 4, 5)
    num_filters: int = 100
    dropout: float = 0.5
    initializer_range: float = 0.1
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        self.kernel_sizes = list(self.kernel_sizes)
        super().__post_init__(**kwargs)
        validate_embedding_mode(self.embedding_mode)
        if not self.kernel_sizes or any(width < 1 for width in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be a non-empty list of positive widths, got {self.kernel_sizes}.")
        if self.num_filters < 1 or self.embedding_dim < 1 or self.vocab_size < 1:
            raise ValueError("num_filters, embedding_dim and vocab_size must all be >= 1.")
        validate_label_config(self)
        set_auto_map(self, __name__, "TextCNNModel", "TextCNNForSequenceClassification")


class TextCNNPreTrainedModel(PreTrainedModel):
    config_class = TextCNNConfig
    config: TextCNNConfig
    base_model_prefix = "textcnn"
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
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def load_pretrained_embeddings(self, vectors) -> None:
        """Copy pretrained word vectors `[vocab_size, embedding_dim]` into the embedding table(s)."""
        self.base_model.embeddings.load_vectors(vectors)


class TextCNNModel(TextCNNPreTrainedModel):
    """The encoder: returns the pooled features `[batch, num_filters * len(kernel_sizes)]`."""
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: TextCNNConfig):
        super().__init__(config)
        self.embeddings = WordEmbedding(
            config.vocab_size, config.embedding_dim, config.embedding_mode, padding_idx=config.pad_token_id
        )
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.num_filters, width, padding=width - 1)
            for width in config.kernel_sizes
        )
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.unsqueeze(1).to(torch.float32)  # [batch, 1, seq_len]
        # [batch, seq_len, embedding_dim] -> [batch, embedding_dim, seq_len], padding zeroed so that it
        # looks exactly like the convolution's own zero padding.
        embeddings = self.embeddings(input_ids).transpose(1, 2)
        embeddings = embeddings * mask.to(embeddings.dtype)

        pooled = []
        # Widths come from the config: a LoRA-wrapped convolution no longer exposes `kernel_size`.
        for conv, width in zip(self.convs, self.config.kernel_sizes):
            feature_map = torch.relu(conv(embeddings))  # [batch, num_filters, seq_len + width - 1]
            # A window counts when it covers at least one real token.
            real_tokens_in_window = nn.functional.conv1d(mask, mask.new_ones(1, 1, width), padding=width - 1)
            feature_map = feature_map.masked_fill(real_tokens_in_window == 0, torch.finfo(feature_map.dtype).min)
            pooled.append(feature_map.max(dim=-1).values)  # [batch, num_filters]
        pooled = torch.cat(pooled, dim=-1)
        # A row with no real token at all has nothing to pool: give it zeros rather than -inf.
        pooled = pooled.masked_fill(attention_mask.sum(-1, keepdim=True) == 0, 0.0)

        # The feature maps have one length per kernel width, so there is no single last hidden state.
        return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=pooled)


class TextCNNForSequenceClassification(TextCNNPreTrainedModel):
    def __init__(self, config: TextCNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.textcnn = TextCNNModel(config)
        self.dropout = nn.Dropout(config.dropout)
        # Named `classifier` so that peft's SEQ_CLS task trains and saves it with the adapter.
        self.classifier = nn.Linear(config.num_filters * len(config.kernel_sizes), config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.textcnn(input_ids, attention_mask=attention_mask)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # [batch, num_labels]
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["TextCNNConfig", "TextCNNModel", "TextCNNForSequenceClassification", "TextCNNPreTrainedModel"]
