"""TextRNN: a bidirectional LSTM or GRU over word embeddings, pooled over the real tokens.

    embedding -> bidirectional LSTM/GRU (`num_layers`, `hidden_size` per direction)
    -> pooling: "last"      the final states of both directions (forward after the last real token,
                            backward after the first)
                "max"       max over the real positions
                "attention" TextRNN_Att (Zhou et al., 2016, "Attention-Based Bidirectional Long Short-Term
                            Memory Networks for Relation Classification"): alpha = softmax(w . tanh(H)),
                            r = tanh(sum alpha H)
    -> dropout -> linear head

Texts enter the recurrence as packed sequences (`pack_padded_sequence`), real tokens only, so padding
never changes a state: a text has the same logits alone or in any padded batch, left or right padding.
"""

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    SequenceClassifierOutput,
)

from .padding import real_tokens_first
from .sequence_classification import (
    sequence_classification_loss,
    set_auto_map,
    validate_label_config,
)
from .word_embedding import WordEmbedding, validate_embedding_mode

RNN_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "max", "attention")


@strict
class TextRNNConfig(PreTrainedConfig):
    r"""
    vocab_size: size of the tokenizer's vocabulary.
    embedding_dim: word vector size.
    embedding_mode: "rand", "static", "non-static" or "multichannel" (as for TextCNN).
    cell: "lstm" or "gru".
    num_layers: stacked bidirectional layers.
    hidden_size: state size of each direction (the text vector is twice this).
    pooling: "last", "max" or "attention" (see the module docstring).
    dropout: between stacked layers and on the text vector before the head.
    """

    model_type = "textrnn"

    vocab_size: int = 30000
    embedding_dim: int = 128
    embedding_mode: str = "rand"
    cell: str = "lstm"
    num_layers: int = 1
    hidden_size: int = 128
    pooling: str = "last"
    dropout: float = 0.5
    initializer_range: float = 0.1
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        validate_embedding_mode(self.embedding_mode)
        if self.cell not in RNN_CELLS:
            raise ValueError(f"Unknown cell {self.cell!r}; choose one of {', '.join(RNN_CELLS)}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}.")
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}.")
        if self.hidden_size < 1:
            raise ValueError(f"hidden_size must be >= 1, got {self.hidden_size}.")
        if self.embedding_dim < 1 or self.vocab_size < 1:
            raise ValueError("embedding_dim and vocab_size must both be >= 1.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        validate_label_config(self)
        set_auto_map(self, __name__, "TextRNNModel", "TextRNNForSequenceClassification")


class TextRNNPreTrainedModel(PreTrainedModel):
    config_class = TextRNNConfig
    config: TextRNNConfig
    base_model_prefix = "textrnn"
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
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.RNNBase):
            module.reset_parameters()  # PyTorch's uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size))

    def load_pretrained_embeddings(self, vectors) -> None:
        """Copy pretrained word vectors `[vocab_size, embedding_dim]` into the embedding table(s)."""
        self.base_model.embeddings.load_vectors(vectors)


class TextRNNModel(TextRNNPreTrainedModel):
    """The encoder: returns the text vector `[batch, 2 * hidden_size]` and the states at every input position."""
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: TextRNNConfig):
        super().__init__(config)
        self.embeddings = WordEmbedding(
            config.vocab_size, config.embedding_dim, config.embedding_mode, padding_idx=config.pad_token_id
        )
        self.rnn = RNN_CELLS[config.cell](
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        # The attention query w of TextRNN_Att, as a bias-free linear map so that peft can adapt it.
        self.attention = nn.Linear(2 * config.hidden_size, 1, bias=False) if config.pooling == "attention" else None
        self.post_init()

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        batch_size, seq_len = input_ids.shape
        # Packing wants each text's tokens at the front: left padding becomes right padding here, and the
        # states go back to the input positions at the end.
        order = real_tokens_first(attention_mask)
        input_ids, attention_mask = input_ids.gather(1, order), attention_mask.gather(1, order)
        lengths = attention_mask.sum(-1)  # [batch]
        embeddings = self.embeddings(input_ids)  # [batch, seq_len, embedding_dim]

        # A text with no real token is run as one (ignored) step: packing refuses empty sequences.
        packed = pack_padded_sequence(embeddings, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        packed_states, final_states = self.rnn(packed)
        states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=seq_len)
        mask = attention_mask.unsqueeze(-1).bool()  # [batch, seq_len, 1]
        states = states.masked_fill(~mask, 0.0)  # [batch, seq_len, 2 * hidden_size]

        if self.config.pooling == "last":
            final_hidden = final_states[0] if isinstance(final_states, tuple) else final_states  # LSTM: (h, c)
            # [num_layers * 2, batch, hidden_size]: the top layer's forward and backward states.
            pooled = torch.cat([final_hidden[-2], final_hidden[-1]], dim=-1)
        elif self.config.pooling == "max":
            pooled = states.masked_fill(~mask, torch.finfo(states.dtype).min).max(1).values
        else:
            scores = self.attention(torch.tanh(states)).masked_fill(~mask, torch.finfo(states.dtype).min)
            weights = torch.softmax(scores, dim=1)  # [batch, seq_len, 1]
            pooled = torch.tanh((weights * states).sum(1))
        pooled = pooled.masked_fill((lengths == 0).unsqueeze(-1), 0.0)  # [batch, 2 * hidden_size]

        states = torch.zeros_like(states).scatter(1, order.unsqueeze(-1).expand_as(states), states)
        return BaseModelOutputWithPooling(last_hidden_state=states, pooler_output=pooled)


class TextRNNForSequenceClassification(TextRNNPreTrainedModel):
    def __init__(self, config: TextRNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.textrnn = TextRNNModel(config)
        self.dropout = nn.Dropout(config.dropout)
        # Named `classifier` so that peft's SEQ_CLS task trains and saves it with the adapter.
        self.classifier = nn.Linear(2 * config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.textrnn(input_ids, attention_mask=attention_mask)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # [batch, num_labels]
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["TextRNNConfig", "TextRNNModel", "TextRNNForSequenceClassification", "TextRNNPreTrainedModel"]
