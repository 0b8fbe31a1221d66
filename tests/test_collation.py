"""PaddingCollator gives exactly what DataCollatorWithPadding gives (keys, shapes, dtypes, values)."""

import pytest
import torch
from transformers import DataCollatorWithPadding

from textcls.collation import PaddingCollator
from textcls.tokenization import train_word_tokenizer

TEXTS = ["a b c d e f", "b c", "a", "c d e a b b b a"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_word_tokenizer(TEXTS)


def features(tokenizer, labels):
    encoded = tokenizer(TEXTS)
    return [
        {"input_ids": ids, "attention_mask": mask, "label": label, "length": len(ids)}
        for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], labels)
    ]


@pytest.mark.parametrize(
    "labels",
    [[0, 1, 1, 0], [0.5, -1.25, 3.0, 0.0], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]],
    ids=["single-label", "regression", "multi-label"],
)
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_same_batch_as_transformers_collator(tokenizer, labels, padding_side):
    tokenizer.padding_side = padding_side
    batch = features(tokenizer, labels)
    expected = DataCollatorWithPadding(tokenizer)(batch)
    got = PaddingCollator(tokenizer)(batch)
    assert sorted(got) == sorted(expected) and "labels" in got
    for key in expected:
        assert got[key].dtype == expected[key].dtype, key
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)
    pad_column = 0 if padding_side == "left" else -1
    assert got["attention_mask"][2, pad_column] == 0  # the one-word text is padded on the chosen side
