"""Pretrained word vectors -> embedding matrix (uses the cached GloVe 6B 50d)."""

from __future__ import annotations

import numpy as np
import pytest

from textcls import resources
from textcls.embeddings import (
    PRETRAINED_EMBEDDINGS,
    build_embedding_matrix,
    load_word_vectors,
)
from textcls.errors import TextclsError


@pytest.fixture(scope="module")
def glove():
    if not resources.is_cached("glove-6b-50d"):
        pytest.skip("glove-6b-50d not cached: run `make data` (textcls download all) first")
    return load_word_vectors("glove-6b-50d")


VOCAB = {"[PAD]": 0, "[UNK]": 1, "the": 2, "Movie": 3, "zzqxvblorf": 4, "great": 5, "qqqxxyzzy": 7}


def test_load_word_vectors(glove):
    words, vectors = glove
    assert len(words) == 400_000 and vectors.shape == (400_000, 50) and vectors.dtype == np.float32
    assert words[0] == "the"
    assert not vectors.flags.writeable  # shared in-process cache must not be mutated


def test_coverage_and_known_rows(glove):
    words, vectors = glove
    emb = build_embedding_matrix(VOCAB)
    # specials [PAD]/[UNK] are not counted; the, movie (via lower case), great found; 2 nonsense tokens not
    assert (emb.found, emb.total) == (3, 5) and emb.coverage == pytest.approx(0.6)
    assert emb.weights.shape == (8, 50) and emb.weights.dtype == np.float32  # max id 7 -> 8 rows
    np.testing.assert_array_equal(emb.weights[2], vectors[words.index("the")])
    np.testing.assert_array_equal(emb.weights[3], vectors[words.index("movie")])
    np.testing.assert_array_equal(emb.weights[0], np.zeros(50, np.float32))


def test_oov_rows_seeded_and_scaled(glove):
    _, vectors = glove
    a = build_embedding_matrix(VOCAB, seed=3)
    b = build_embedding_matrix(VOCAB, seed=3)
    c = build_embedding_matrix(VOCAB, seed=4)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights[4], c.weights[4])
    np.testing.assert_array_equal(a.weights[2], c.weights[2])  # known rows do not depend on the seed
    # uniform(-s, s) with variance matched to the pretrained vectors
    scale = np.sqrt(3 * vectors.var(dtype=np.float64))
    big = build_embedding_matrix({f"nonword{i}xq": i for i in range(1, 4001)}, seed=0)
    oov = big.weights[1:]
    assert np.abs(oov).max() <= scale
    assert oov.var() == pytest.approx(vectors.var(), rel=0.03)


def test_special_tokens_and_pad_options(glove):
    emb = build_embedding_matrix({"<pad>": 0, "<unk>": 1, "the": 2}, pad_token_id=None)
    assert emb.total == 1 and emb.found == 1
    assert np.abs(emb.weights[0]).sum() > 0  # no pad row requested
    emb = build_embedding_matrix({"the": 0, "xx": 1}, pad_token_id=1, special_tokens=[])
    assert (emb.found, emb.total) == (1, 1) and not emb.weights[1].any()


def test_errors():
    with pytest.raises(TextclsError, match="unknown word vectors 'word2vec'; valid names: glove-6b-50d") as exc:
        load_word_vectors("word2vec")
    assert "\n" not in str(exc.value)
    with pytest.raises(TextclsError, match="unknown word vectors"):
        build_embedding_matrix({"a": 0}, name="fasttext")
    assert list(PRETRAINED_EMBEDDINGS) == ["glove-6b-50d"]


def test_vocab_errors(glove):
    with pytest.raises(TextclsError, match="vocabulary is empty"):
        build_embedding_matrix({})
    with pytest.raises(TextclsError, match="pad_token_id 9 is outside the vocabulary ids 0..1"):
        build_embedding_matrix({"a": 0, "b": 1}, pad_token_id=9)
    with pytest.raises(TextclsError, match="negative token ids"):
        build_embedding_matrix({"a": -1})
