"""Checkpoints are real Hugging Face checkpoints: Auto classes, remote code, pipeline, tokenizer."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import tiny_model
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    pipeline,
)

import textcls

TEXTS = ["a wonderful , moving film", "dull and far too long", "我喜欢这部电影", "ok"]
ID2LABEL = {0: "negative", 1: "positive"}


@pytest.fixture(scope="module")
def tokenizer():
    return textcls.train_word_tokenizer(TEXTS * 2 + ["the plot is thin but the cast is great"])


def save_checkpoint(family, tokenizer, path):
    model = tiny_model(
        family, vocab_size=len(tokenizer), num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()}
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


def logits_of(model, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_auto_classes_round_trip(family, tokenizer, tmp_path):
    model = save_checkpoint(family, tokenizer, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForSequenceClassification"}
    module = config["auto_map"]["AutoModelForSequenceClassification"].split(".")[0]
    assert (tmp_path / f"{module}.py").exists() and (tmp_path / "sequence_classification.py").exists()
    assert not list(tmp_path.glob("*.bin")) and (tmp_path / "model.safetensors").exists()  # no pickle

    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded) is type(model) and reloaded.config.id2label == ID2LABEL
    torch.testing.assert_close(logits_of(reloaded, tokenizer), logits_of(model, tokenizer), atol=0, rtol=0)
    assert type(AutoConfig.from_pretrained(tmp_path)) is type(model.config)
    base = AutoModel.from_pretrained(tmp_path)
    assert type(base) is type(model.base_model)
    torch.testing.assert_close(base.get_input_embeddings().weight, model.get_input_embeddings().weight)


REMOTE_CODE_SCRIPT = """
import sys, torch
sys.modules["textcls"] = None  # textcls cannot be imported in this process
from transformers import AutoModelForSequenceClassification, AutoTokenizer
path, texts = sys.argv[1], sys.argv[2:]
try:
    AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=False)
    sys.exit("loaded custom code without trust_remote_code")
except ValueError as error:
    assert "trust_remote_code=True" in str(error), error
model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
tokenizer = AutoTokenizer.from_pretrained(path)
with torch.no_grad():
    logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
torch.save(logits, path + "/remote_logits.pt")
"""


def test_trust_remote_code_without_textcls_gives_the_same_logits(family, tokenizer, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    model = save_checkpoint(family, tokenizer, checkpoint)
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(checkpoint), *TEXTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote_logits = torch.load(checkpoint / "remote_logits.pt")
    torch.testing.assert_close(remote_logits, logits_of(model, tokenizer), atol=1e-6, rtol=0)


def test_pipeline_returns_label_names_with_scores(family, tokenizer, tmp_path):
    model = save_checkpoint(family, tokenizer, tmp_path)
    classifier = pipeline("text-classification", model=str(tmp_path))
    results = classifier(TEXTS, top_k=None)
    probabilities = torch.softmax(logits_of(model, tokenizer), dim=-1)
    for result, row in zip(results, probabilities):
        assert {item["label"] for item in result} == {"negative", "positive"}
        by_name = {item["label"]: item["score"] for item in result}
        assert by_name["positive"] == pytest.approx(row[1].item(), abs=1e-5)


def test_tokenizer_round_trips_without_textcls_code(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(TEXTS)["input_ids"] == tokenizer(TEXTS)["input_ids"]
    assert reloaded.pad_token_id == 0 and reloaded.convert_ids_to_tokens(1) == "[UNK]"
    assert reloaded.model_input_names == ["input_ids", "attention_mask"]


def test_tokenizer_splits_punctuation_case_and_cjk():
    tokenizer = textcls.train_word_tokenizer(["Hello, World!", "我喜欢电影"], lowercase=True)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("HELLO, world! 我喜欢 unseen")["input_ids"])
    assert tokens == ["hello", ",", "world", "!", "我", "喜", "欢", "[UNK]"]
    cased = textcls.train_word_tokenizer(["Hello hello"], lowercase=False)
    assert {"Hello", "hello"} <= set(cased.get_vocab())


def test_tokenizer_vocabulary_limits():
    texts = ["a a a b b c"]
    assert "c" not in textcls.train_word_tokenizer(texts, min_frequency=2).get_vocab()
    vocab = textcls.train_word_tokenizer(texts, max_vocab_size=3).get_vocab()
    assert set(vocab) == {"[PAD]", "[UNK]", "a"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"texts": ["", "  "]}, "learned no words"),
        ({"texts": ["a"], "min_frequency": 0}, "min_frequency must be >= 1"),
        ({"texts": ["a"], "max_vocab_size": 2}, "max_vocab_size must leave room"),
    ],
)
def test_tokenizer_bad_input(kwargs, message):
    with pytest.raises(textcls.TextclsError, match=message):
        textcls.train_word_tokenizer(**kwargs)
