"""fastText: "Bag of Tricks for Efficient Text Classification" (Joulin et al., 2017).

    word embeddings + hashed word n-gram embeddings (orders 2..`ngram`)
    -> mean over the real tokens and the n-grams made only of real tokens
    -> optional hidden layer (ReLU) -> dropout -> linear head

The n-gram ids are hashed inside the model from the token ids (`hash_ngrams`), so any word-level
`PreTrainedTokenizerFast` feeds it and a `trust_remote_code` checkpoint needs nothing else. An
n-gram counts only when all its tokens are real; the real tokens of a text are contiguous under
left or right padding, so a text has the same logits alone or in any padded batch.
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

# The n-gram hash: h <- (h * MULTIPLIER + next token id) mod MODULUS, then h mod num_buckets. The multiplier is
# fastText's own; the Mersenne-prime modulus keeps every product below 2**62, so int64 never overflows and the
# ids are the same on every device.
HASH_MULTIPLIER = 116049371
HASH_MODULUS = 2**31 - 1


def hash_ngrams(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, n: int, num_buckets: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket ids of the n-grams starting at each position, and whether each n-gram is made only of real tokens.

    `[batch, seq_len]` -> two `[batch, seq_len - n + 1]` tensors: ids in `[0, num_buckets)` and a 0/1 mask.
    """
    windows = input_ids.shape[1] - n + 1
    hashes = input_ids[:, :windows].long()
    valid = attention_mask[:, :windows].bool()
    for offset in range(1, n):
        hashes = (hashes * HASH_MULTIPLIER + input_ids[:, offset : offset + windows]) % HASH_MODULUS
        valid = valid & attention_mask[:, offset : offset + windows].bool()
    return hashes % num_buckets, valid


@strict
class FastTextConfig(PreTrainedConfig):
    r"""
    vocab_size: size of the tokenizer's vocabulary.
    embedding_dim: word and n-gram vector size (paper: 10; fastText's default 100).
    embedding_mode: "rand", "static", "non-static" or "multichannel" for the word vectors (as for TextCNN).
    ngram: longest word n-gram (paper: 2, bigrams); 1 means words only.
    num_buckets: size of the hashed n-gram table (fastText: 2,000,000); unused when ngram is 1. Dense
        optimizers (AdamW) update the whole table every step, so its size sets the training speed.
    hidden_size: width of an optional ReLU hidden layer after the mean; 0 for none (the paper's model).
    dropout: on the text vector before the head (fastText itself has none).
    """

    model_type = "fasttext"

    vocab_size: int = 30000
    embedding_dim: int = 100
    embedding_mode: str = "rand"
    ngram: int = 2
    num_buckets: int = 2**16  # fastText: 2,000,000; smaller trains faster under AdamW (bench/notes.md)
    hidden_size: int = 0
    dropout: float = 0.0
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        validate_embedding_mode(self.embedding_mode)
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1 (1: words only, 2: words and bigrams), got {self.ngram}.")
        if self.num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1 (the size of the hashed n-gram table), got {self.num_buckets}.")
        if self.hidden_size < 0:
            raise ValueError(f"hidden_size must be >= 0 (0: no hidden layer), got {self.hidden_size}.")
        if self.embedding_dim < 1 or self.vocab_size < 1:
            raise ValueError("embedding_dim and vocab_size must both be >= 1.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        validate_label_config(self)
        set_auto_map(self, __name__, "FastTextModel", "FastTextForSequenceClassification")


class FastTextPreTrainedModel(PreTrainedModel):
    config_class = FastTextConfig
    config: FastTextConfig
    base_model_prefix = "fasttext"
    main_input_name = "input_ids"
    # The loss is a per-batch mean (sequence_classification_loss), not a sum over `num_items_in_batch`:
    # without this the Trainer stops dividing by gradient_accumulation_steps for a forward with **kwargs.
    accepts_loss_kwargs = False

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            # fastText's own initialisation of its input vectors.
            bound = 1.0 / self.config.embedding_dim
            nn.init.uniform_(module.weight, -bound, bound)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def load_pretrained_embeddings(self, vectors) -> None:
        """Copy pretrained word vectors `[vocab_size, embedding_dim]` into the word table(s)."""
        self.base_model.embeddings.load_vectors(vectors)


class FastTextModel(FastTextPreTrainedModel):
    """The encoder: returns the text vector `[batch, hidden_size or embedding_dim]`."""
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: FastTextConfig):
        super().__init__(config)
        self.embeddings = WordEmbedding(
            config.vocab_size, config.embedding_dim, config.embedding_mode, padding_idx=config.pad_token_id
        )
        # One table for every n-gram order, as in fastText; no table when there are no n-grams.
        self.ngram_embeddings = nn.Embedding(config.num_buckets, config.embedding_dim) if config.ngram > 1 else None
        self.hidden = nn.Linear(config.embedding_dim, config.hidden_size) if config.hidden_size > 0 else None
        self.post_init()

    def forward(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        batch_size = input_ids.shape[0]
        rows = torch.arange(batch_size, device=input_ids.device).unsqueeze(-1).expand_as(input_ids)
        # Only the real tokens and the real n-grams are looked up, as flat lists, and summed per text: no
        # work on padding (3x faster than a masked mean over the padded batch on 20newsgroups-like lengths).
        real = attention_mask.bool()
        word_vectors = self.embeddings(input_ids[real])  # [real tokens in the batch, embedding_dim]
        total = word_vectors.new_zeros(batch_size, word_vectors.shape[-1]).index_add(0, rows[real], word_vectors)
        count = real.sum(-1)  # [batch]
        for n in range(2, min(self.config.ngram, input_ids.shape[1]) + 1):
            bucket_ids, valid = hash_ngrams(input_ids, attention_mask, n, self.config.num_buckets)
            ngram_vectors = self.ngram_embeddings(bucket_ids[valid])  # [real n-grams in the batch, embedding_dim]
            total = total.index_add(0, rows[:, : valid.shape[1]][valid], ngram_vectors)
            count = count + valid.sum(-1)
        # A row with no real token averages nothing: it gets the zero vector.
        text_vector = total / count.clamp(min=1).unsqueeze(-1).to(total.dtype)  # [batch, embedding_dim]
        if self.hidden is not None:
            text_vector = torch.relu(self.hidden(text_vector))
        # Words and n-grams are pooled together, so there is no per-token hidden state to return.
        return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=text_vector)


class FastTextForSequenceClassification(FastTextPreTrainedModel):
    def __init__(self, config: FastTextConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.fasttext = FastTextModel(config)
        self.dropout = nn.Dropout(config.dropout)
        # Named `classifier` so that peft's SEQ_CLS task trains and saves it with the adapter.
        self.classifier = nn.Linear(config.hidden_size or config.embedding_dim, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.fasttext(input_ids, attention_mask=attention_mask)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # [batch, num_labels]
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["FastTextConfig", "FastTextModel", "FastTextForSequenceClassification", "FastTextPreTrainedModel"]
