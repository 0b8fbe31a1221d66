"""fastText and TextRNN beyond the shared family tests: their options, the n-gram hash, char-level tokens.

The parametrised tests of test_models.py, test_losses.py, test_save_load.py (Auto classes, remote code
without textcls, pipeline) and test_peft.py cover both families through conftest's FAMILIES.
"""

import pytest
import torch
from conftest import left_pad, right_padded_batch, tiny_config, tiny_model
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import textcls
from textcls.models.modeling_fasttext import HASH_MODULUS, HASH_MULTIPLIER, hash_ngrams

FASTTEXT_VARIANTS = [
    {"ngram": 1, "hidden_size": 0},
    {"ngram": 2, "hidden_size": 0},
    {"ngram": 3, "hidden_size": 5, "embedding_mode": "multichannel"},
]
TEXTRNN_VARIANTS = [
    {"cell": cell, "pooling": pooling, "num_layers": num_layers}
    for cell, num_layers in (("lstm", 2), ("gru", 1))
    for pooling in ("last", "max", "attention")
]


def assert_padding_invariant(model, lengths):
    input_ids, attention_mask = right_padded_batch(lengths)
    extra = torch.nn.functional.pad(input_ids, (0, 7)), torch.nn.functional.pad(attention_mask, (0, 7))
    with torch.no_grad():
        right = model(input_ids=extra[0], attention_mask=extra[1]).logits
        left = model(*left_pad(*extra)).logits
        for row, length in enumerate(lengths):
            alone = model(input_ids=input_ids[row : row + 1, :length]).logits[0]  # batch size 1, no mask
            torch.testing.assert_close(right[row], alone, atol=1e-5, rtol=0)
            torch.testing.assert_close(left[row], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("overrides", FASTTEXT_VARIANTS)
def test_fasttext_padding_invariance(overrides):
    assert_padding_invariant(tiny_model("fasttext", num_labels=3, **overrides), [1, 2, 3, 8, 13])


@pytest.mark.parametrize("overrides", TEXTRNN_VARIANTS)
def test_textrnn_padding_invariance(overrides):
    assert_padding_invariant(tiny_model("textrnn", num_labels=3, **overrides), [1, 2, 3, 8, 13])


def python_ngram_bucket(token_ids, num_buckets):
    """The hash written out in plain Python integers: the reference for the torch version."""
    value = token_ids[0]
    for token_id in token_ids[1:]:
        value = (value * HASH_MULTIPLIER + token_id) % HASH_MODULUS
    return value % num_buckets


def test_ngram_hash_matches_a_reference_and_stays_in_range():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 2**31 - 1, (3, 9), generator=generator)  # large ids: no int64 overflow
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    attention_mask[2, :4] = 0
    for n in (2, 3):
        bucket_ids, valid = hash_ngrams(input_ids, attention_mask, n, num_buckets=1000)
        assert bucket_ids.shape == valid.shape == (3, 9 - n + 1)
        assert bucket_ids.min() >= 0 and bucket_ids.max() < 1000
        expected = [[python_ngram_bucket(row[i : i + n], 1000) for i in range(9 - n + 1)] for row in input_ids.tolist()]
        assert bucket_ids.tolist() == expected
        # Only n-grams made of real tokens count.
        assert valid[0].all() and valid[1].tolist() == [start + n <= 6 for start in range(9 - n + 1)]
        assert valid[2].tolist() == [start >= 4 for start in range(9 - n + 1)]
        again, _ = hash_ngrams(input_ids.clone(), attention_mask, n, num_buckets=1000)
        assert torch.equal(again, bucket_ids)


def test_fasttext_is_the_mean_of_word_and_ngram_vectors():
    model = tiny_model("fasttext", num_labels=2, ngram=2, num_buckets=17, hidden_size=0)
    text = [5, 9, 12]
    words = model.fasttext.embeddings.embed_tokens.weight[text]
    buckets = [python_ngram_bucket(text[i : i + 2], 17) for i in range(2)]
    ngrams = model.fasttext.ngram_embeddings.weight[buckets]
    expected_vector = torch.cat([words, ngrams]).mean(0)
    with torch.no_grad():
        output = model.fasttext(torch.tensor([text]))
        torch.testing.assert_close(output.pooler_output[0], expected_vector)
        torch.testing.assert_close(model(torch.tensor([text])).logits[0], model.classifier(expected_vector))


def test_fasttext_word_order_matters_only_through_ngrams():
    text, reordered = torch.tensor([[5, 9, 12, 7]]), torch.tensor([[12, 7, 5, 9]])
    with torch.no_grad():
        bag = tiny_model("fasttext", num_labels=2, ngram=1)
        torch.testing.assert_close(bag(text).logits, bag(reordered).logits)
        bigrams = tiny_model("fasttext", num_labels=2, ngram=2)
        assert not torch.allclose(bigrams(text).logits, bigrams(reordered).logits)
    assert bag.fasttext.ngram_embeddings is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_textrnn_last_pooling_is_the_final_state_of_each_direction(cell):
    model = tiny_model("textrnn", num_labels=2, cell=cell, pooling="last", num_layers=1)
    text = torch.tensor([[4, 8, 15, 16, 23]])
    with torch.no_grad():
        embeddings = model.textrnn.embeddings(text)
        states, _ = model.textrnn.rnn(embeddings)  # [1, 5, 2 * hidden_size], no padding at all
        hidden_size = model.config.hidden_size
        expected = torch.cat([states[0, -1, :hidden_size], states[0, 0, hidden_size:]])
        # In a batch, right-padded behind a longer text, the states must stop at the last real token.
        batch = torch.tensor([[4, 8, 15, 16, 23, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
        mask = (batch != 0).long()
        mask[1] = 1
        output = model.textrnn(batch, attention_mask=mask)
    torch.testing.assert_close(output.pooler_output[0], expected, atol=1e-6, rtol=0)
    # Token states come back at the input positions, zero on padding.
    torch.testing.assert_close(output.last_hidden_state[0, :5], states[0], atol=1e-6, rtol=0)
    assert output.last_hidden_state[0, 5:].abs().sum() == 0


def test_textrnn_states_follow_left_padding():
    model = tiny_model("textrnn", num_labels=2)
    input_ids, attention_mask = right_padded_batch([2, 6])
    with torch.no_grad():
        right = model.textrnn(input_ids, attention_mask=attention_mask).last_hidden_state
        left = model.textrnn(*left_pad(input_ids, attention_mask)).last_hidden_state
    torch.testing.assert_close(left[0, -2:], right[0, :2], atol=1e-6, rtol=0)
    assert left[0, :-2].abs().sum() == 0


@pytest.mark.parametrize("family_name", ["fasttext", "textrnn"])
def test_padding_only_row_gives_zero_features(family_name):
    model = tiny_model(family_name, num_labels=2)
    batch = torch.tensor([[5, 6, 7], [0, 0, 0]])
    with torch.no_grad():
        output = model.base_model(batch, attention_mask=(batch != 0).long())
    assert output.pooler_output[1].abs().sum() == 0 and torch.isfinite(output.pooler_output).all()


@pytest.mark.parametrize(
    "family_name, overrides",
    [("fasttext", {"ngram": 1, "hidden_size": 0}), ("textrnn", {"cell": "gru", "pooling": "max", "num_layers": 1})],
)
def test_variants_round_trip_through_save_pretrained(family_name, overrides, tmp_path):
    model = tiny_model(family_name, num_labels=3, **overrides)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    input_ids, attention_mask = right_padded_batch([2, 5, 9])
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
        torch.testing.assert_close(reloaded(input_ids=input_ids, attention_mask=attention_mask).logits, expected)
    assert all(getattr(reloaded.config, key) == value for key, value in overrides.items())


def test_peft_cannot_adapt_the_recurrence():
    # peft 0.21 has LoRA layers for Linear, Embedding and Conv, not for nn.LSTM/nn.GRU: TextRNN adapts its
    # embeddings and attention query (test_peft.py), and its recurrence stays frozen.
    with pytest.raises(ValueError, match="is not supported"):
        get_peft_model(tiny_model("textrnn", num_labels=2), LoraConfig(task_type="SEQ_CLS", r=2, target_modules=["rnn"]))


@pytest.mark.parametrize(
    "family_name, overrides, message",
    [
        ("fasttext", {"ngram": 0}, r"^ngram must be >= 1"),
        ("fasttext", {"num_buckets": 0}, r"^num_buckets must be >= 1"),
        ("fasttext", {"hidden_size": -1}, r"^hidden_size must be >= 0"),
        ("fasttext", {"dropout": 1.0}, r"^dropout must be in \[0, 1\)"),
        ("fasttext", {"embedding_mode": "glove"}, r"^Unknown embedding_mode 'glove'"),
        ("textrnn", {"cell": "rnn"}, r"^Unknown cell 'rnn'; choose one of lstm, gru"),
        ("textrnn", {"pooling": "mean"}, r"^Unknown pooling 'mean'; choose one of last, max, attention"),
        ("textrnn", {"num_layers": 0}, r"^num_layers must be >= 1"),
        ("textrnn", {"hidden_size": 0}, r"^hidden_size must be >= 1"),
        ("textrnn", {"dropout": -0.1}, r"^dropout must be in \[0, 1\)"),
        ("textrnn", {"num_labels": 0}, r"^num_labels must be >= 1"),
    ],
)
def test_bad_config_values_are_one_line_errors(family_name, overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        tiny_config(family_name, **overrides)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


CJK_TEXTS = ["我喜欢这部电影", "这部电影太长了", "A fine  film!"]


def test_char_tokenizer_round_trips_through_auto_tokenizer(tmp_path):
    tokenizer = textcls.train_word_tokenizer(CJK_TEXTS, level="char")
    vocab = tokenizer.get_vocab()
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1
    assert {"我", "电", "影", "a", "f", " ", "!"} <= set(vocab) and "film" not in vocab
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("电影  Fine\t我 爱")["input_ids"])
    assert tokens == ["电", "影", " ", "f", "i", "n", "e", " ", "我", " ", "[UNK]"]

    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(CJK_TEXTS)["input_ids"] == tokenizer(CJK_TEXTS)["input_ids"]
    assert reloaded.pad_token_id == 0 and reloaded.model_input_names == ["input_ids", "attention_mask"]
    # A char-level batch feeds the word-embedding families like a word-level one.
    model = tiny_model("fasttext", num_labels=2, vocab_size=len(reloaded))
    assert model(**reloaded(CJK_TEXTS, padding=True, return_tensors="pt")).logits.shape == (3, 2)


def test_char_tokenizer_vocabulary_cap_and_frequency():
    vocab = textcls.train_word_tokenizer(["aaab bc"], level="char", max_vocab_size=4).get_vocab()
    assert set(vocab) == {"[PAD]", "[UNK]", "a", "b"}
    assert "c" not in textcls.train_word_tokenizer(["aaab bc"], level="char", min_frequency=2).get_vocab()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"texts": ["a"], "level": "byte"}, r"^level must be one of word, char; got 'byte'"),
        ({"texts": ["  ", ""], "level": "char"}, r"^The tokenizer learned no characters"),
    ],
)
def test_char_tokenizer_bad_input(kwargs, message):
    with pytest.raises(textcls.TextclsError, match=message):
        textcls.train_word_tokenizer(**kwargs)
