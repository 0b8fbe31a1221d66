"""fastText and TextRNN through the recipe (`textcls.training.run`, `textcls train`) on tiny data:
train, save, reload with the Auto classes and pipeline; character tokens; bad flag values as one line."""

import pytest
import torch
from conftest import error_line
from test_training import FAST, data_files, file_args  # noqa: F401  (data_files is a fixture)
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from textcls.training import run

FAMILY_ARGS = {
    "fasttext": ["--model_type", "fasttext", "--num_train_epochs", "8", "--learning_rate", "2e-2",
                 "--embedding_dim", "16", "--num_buckets", "1024"],
    "textrnn": ["--model_type", "textrnn", "--num_train_epochs", "8", "--learning_rate", "1e-2",
                "--embedding_dim", "16", "--hidden_size", "16"],
}
TEXTS = ["a great and lovely film", "the plot was awful and boring"]


@pytest.mark.parametrize("family", ["fasttext", "textrnn"])
def test_recipe_trains_saves_and_reloads(family, data_files, tmp_path):  # noqa: F811
    output_dir = tmp_path / "run"
    metrics = run([*FAMILY_ARGS[family], *file_args(data_files), *FAST, "--output_dir", str(output_dir)])
    assert metrics["test_accuracy"] >= 0.9, metrics  # sentiment words decide the label: an easy task

    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    assert model.config.model_type == family
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    with torch.no_grad():
        logits = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits
    labels = [model.config.id2label[i] for i in logits.argmax(-1).tolist()]
    assert labels == ["positive", "negative"]
    assert [r["label"] for r in pipeline("text-classification", model=str(output_dir))(TEXTS)] == labels


def test_char_level_tokens_through_the_recipe(data_files, tmp_path):  # noqa: F811
    output_dir = tmp_path / "char"
    metrics = run([*FAMILY_ARGS["fasttext"], "--tokenizer_level", "char", "--ngram", "4", *file_args(data_files),
                   *FAST, "--output_dir", str(output_dir)])
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    vocabulary = [token for token in tokenizer.get_vocab() if not token.startswith("[")]
    assert vocabulary and all(len(token) == 1 for token in vocabulary), vocabulary
    assert tokenizer.convert_ids_to_tokens(tokenizer("good")["input_ids"]) == list("good")
    # Character 4-grams see the sentiment words: still an easy task.
    assert metrics["test_accuracy"] >= 0.9, metrics


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model_type", "fasttext", "--ngram", "0"], "ngram must be >= 1"),
        (["--model_type", "fasttext", "--num_buckets", "0"], "num_buckets must be >= 1"),
        (["--model_type", "fasttext", "--hidden_size", "-1"], "hidden_size must be >= 0"),
        (["--model_type", "textrnn", "--hidden_size", "-1"], "hidden_size must be >= 1"),
        (["--model_type", "textrnn", "--cell", "foo"], "Unknown cell 'foo'"),
        (["--model_type", "textrnn", "--pooling", "foo"], "Unknown pooling 'foo'"),
        (["--model_type", "textrnn", "--num_layers", "0"], "num_layers must be >= 1"),
        (["--model_type", "textrnn", "--tokenizer_level", "foo"], "Unknown --tokenizer_level 'foo'"),
    ],
)
def test_bad_flag_values_are_one_line_errors(flags, message, data_files, tmp_path, capsys):  # noqa: F811
    output_dir = tmp_path / "out"
    line = error_line(["train", *flags, *file_args(data_files), "--output_dir", str(output_dir)], capsys)
    assert message in line and len("textcls: error: " + line) < 300, line
    assert not output_dir.exists() or not any(output_dir.iterdir())  # nothing trained, nothing written
