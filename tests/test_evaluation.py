"""Evaluating a saved checkpoint on one file or split, in the model's own label space."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer

import textcls
from textcls.cli import main
from textcls.errors import CheckpointError, DataError
from textcls.evaluation import evaluate_checkpoint

TEXTS = [
    "a wonderful warm film",
    "dull and far too long",
    "the cast is great and the story moves",
    "i loved every minute of it",
    "a bright funny script",
]
# 4 of 5 are "pos": accuracy k/5 can never equal 1 - k/5, so a swapped label mapping would show
LABELS = ["pos", "neg", "pos", "pos", "pos"]


def make_checkpoint(folder: Path, id2label: dict[int, str], problem_type: str | None = None, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    tokenizer = textcls.train_word_tokenizer(TEXTS)
    config = textcls.TextCNNConfig(
        vocab_size=len(tokenizer),
        embedding_dim=8,
        num_filters=4,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={name: i for i, name in id2label.items()},
        problem_type=problem_type,
    )
    textcls.TextCNNForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_csv(path: Path, texts: list[str], labels: list) -> Path:
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


def logits_by_hand(folder: Path, texts: list[str]) -> np.ndarray:
    model = textcls.TextCNNForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()


# the brief's order, and one that differs from the sorted names too
@pytest.mark.parametrize("id2label", [{0: "neg", 1: "pos"}, {0: "pos", 1: "neg"}])
def test_accuracy_uses_the_models_label_ids(tmp_path, id2label):
    ckpt = make_checkpoint(tmp_path / "ckpt", id2label)
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)  # first row "pos": first-seen order is not the model's
    out = tmp_path / "out"
    metrics = evaluate_checkpoint(str(ckpt), split="test", test_file=csv, output_dir=str(out))

    label2id = {name: i for i, name in id2label.items()}
    truth = np.array([label2id[name] for name in LABELS])
    predicted = logits_by_hand(ckpt, TEXTS).argmax(-1)
    assert metrics["test_accuracy"] == pytest.approx(float((predicted == truth).mean()))
    assert metrics["test_samples"] == len(TEXTS)
    assert json.loads((out / "test_results.json").read_text()) == pytest.approx(metrics)
    assert (out / "test_confusion_matrix.png").stat().st_size > 0


def test_default_split_and_results_next_to_checkpoint(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)
    assert "test_accuracy" in evaluate_checkpoint(str(ckpt), test_file=csv)  # test_file alone -> "test"
    assert (ckpt / "test_results.json").is_file()
    # the only split is the default when there is no test split
    assert "validation_accuracy" in evaluate_checkpoint(str(ckpt), validation_file=csv, output_dir=str(tmp_path / "o"))


def test_missing_split_lists_the_existing_ones(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)
    with pytest.raises(DataError, match=r"the data has no 'validation' split; it has: test") as exc:
        evaluate_checkpoint(str(ckpt), split="validation", test_file=csv, output_dir=str(tmp_path / "o"))
    assert "\n" not in str(exc.value)


def test_unknown_label_is_a_data_error(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    csv = write_csv(tmp_path / "new.csv", TEXTS, ["pos", "neg", "meh", "pos", "pos"])
    with pytest.raises(DataError, match=r"the test split has label\(s\) not in label_names: 'meh'.*allowed: neg, pos") as exc:
        evaluate_checkpoint(str(ckpt), test_file=csv, output_dir=str(tmp_path / "o"))
    assert "\n" not in str(exc.value)


def test_folder_without_config_is_a_checkpoint_error(tmp_path):
    (tmp_path / "half").mkdir()
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)
    with pytest.raises(CheckpointError, match="has no config.json"):
        evaluate_checkpoint(str(tmp_path / "half"), test_file=csv)


def test_regression_checkpoint(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "score"}, problem_type="regression")
    scores = [1.0, 2.0, 3.0, 4.0, 5.0]  # whole numbers: would be classes if inferred from the data
    csv = write_csv(tmp_path / "new.csv", TEXTS, scores)
    metrics = evaluate_checkpoint(str(ckpt), test_file=csv, output_dir=str(tmp_path / "o"))
    predicted = logits_by_hand(ckpt, TEXTS)[:, 0]
    assert metrics["test_mse"] == pytest.approx(float(((predicted - np.array(scores)) ** 2).mean()), rel=1e-4)
    assert not (tmp_path / "o" / "test_confusion_matrix.png").exists()


def test_multi_label_checkpoint(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "plot", 1: "cast", 2: "music"}, problem_type="multi_label_classification")
    test = tmp_path / "new.jsonl"
    test.write_text("".join(json.dumps({"text": t, "label": labels}) + "\n"
                            for t, labels in zip(TEXTS, [["cast"], [], ["plot", "cast"], ["music"], ["plot"]])))
    metrics = evaluate_checkpoint(str(ckpt), test_file=test, output_dir=str(tmp_path / "o"))
    truth = np.array([[0, 1, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]])
    predicted = (logits_by_hand(ckpt, TEXTS) > 0).astype(int)
    assert metrics["test_subset_accuracy"] == pytest.approx(float((predicted == truth).all(-1).mean()))
    # micro F1 changes if label columns were permuted (a random model may predict the same set everywhere)
    tp = int((predicted & truth).sum())
    assert metrics["test_f1_micro"] == pytest.approx(2 * tp / (predicted.sum() + truth.sum()))


def test_cli_evaluate(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)
    out = tmp_path / "out"
    assert main(["evaluate", "--model", str(ckpt), "--test_file", str(csv), "--output_dir", str(out)]) == 0
    results = json.loads((out / "test_results.json").read_text())
    assert results["test_samples"] == len(TEXTS) and 0.0 <= results["test_accuracy"] <= 1.0
    capsys.readouterr()

    code = main(["evaluate", "--model", str(ckpt), "--test_file", str(tmp_path / "nope.csv"), "--output_dir", str(out)])
    assert code == 2
    # transformers may draw a weight-loading progress bar first; the error itself is one line
    err_lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err_lines) == 1
    assert err_lines[0].startswith("textcls: error: test_file") and err_lines[0].endswith("nope.csv' not found; check the path")
