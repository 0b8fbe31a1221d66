"""Word embeddings with Kim's (2014) four modes, shared by the CNN families.

  rand          one table, randomly initialised, trained
  static        one table, meant to hold pretrained vectors, frozen
  non-static    one table, initialised from pretrained vectors, trained
  multichannel  two tables from the same pretrained vectors: one frozen, one trained

Copied next to the model code when a checkpoint is saved: torch only.
"""

import torch
from torch import nn

EMBEDDING_MODES = ("rand", "static", "non-static", "multichannel")


def validate_embedding_mode(embedding_mode: str) -> None:
    if embedding_mode not in EMBEDDING_MODES:
        raise ValueError(f"Unknown embedding_mode {embedding_mode!r}; choose one of {', '.join(EMBEDDING_MODES)}.")


class WordEmbedding(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, embedding_mode: str, padding_idx: int | None):
        super().__init__()
        validate_embedding_mode(embedding_mode)
        self.embedding_mode = embedding_mode
        self.embed_tokens = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        # The frozen channel is a second table only in multichannel mode; in static mode the one table is frozen.
        self.embed_tokens_static = None
        if embedding_mode == "multichannel":
            self.embed_tokens_static = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
            self.embed_tokens_static.weight.requires_grad_(False)
        elif embedding_mode == "static":
            self.embed_tokens.weight.requires_grad_(False)

    def load_vectors(self, vectors: torch.Tensor) -> None:
        """Copy a `[vocab_size, embedding_dim]` matrix into every table (both channels in multichannel)."""
        vectors = torch.as_tensor(vectors)
        expected = tuple(self.embed_tokens.weight.shape)
        if tuple(vectors.shape) != expected:
            raise ValueError(
                f"Embedding matrix has shape {tuple(vectors.shape)} but the model expects {expected} "
                "(vocab_size, embedding_dim): build it from the same tokenizer and set embedding_dim to match."
            )
        with torch.no_grad():
            for table in (self.embed_tokens, self.embed_tokens_static):
                if table is not None:
                    table.weight.copy_(vectors.to(table.weight.dtype))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # [batch, seq_len] -> [batch, seq_len, embedding_dim]
        embeddings = self.embed_tokens(input_ids)
        if self.embed_tokens_static is not None:
            # Kim applies every filter to both channels and adds the results. Convolution is linear, so that
            # equals one convolution over the sum of the two channels (the bias counted once, as in Kim).
            embeddings = embeddings + self.embed_tokens_static(input_ids)
        return embeddings
