"""--class_weight: weighted losses against hand computations, for every family, saved with the checkpoint."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import right_padded_batch, tiny_model
from sklearn.utils.class_weight import compute_class_weight
from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

from textcls.class_weights import compute_class_weights, parse_class_weight
from textcls.cli import main as cli_main
from textcls.errors import TextclsError
from textcls.models import sequence_classification_loss
from textcls.trainer import TextclsTrainer
from textcls.training import run


class Config:
    def __init__(self, num_labels, problem_type=None, class_weights=None):
        self.num_labels, self.problem_type, self.class_weights = num_labels, problem_type, class_weights


def log_softmax(row, label):
    return row[label] - math.log(sum(math.exp(v) for v in row))


def test_weighted_cross_entropy_by_hand():
    rows = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [1.0, 3.0, 0.0], [0.0, 1.0, 2.0]]
    labels = [0, -100, 1, 1]
    weights = [0.5, 3.0, 1.0]
    loss = sequence_classification_loss(torch.tensor(rows), torch.tensor(labels), Config(3, class_weights=weights))
    kept = [(row, label) for row, label in zip(rows, labels) if label != -100]
    # torch's weighted mean: sum of w[y] * nll over the sum of w[y]
    expected = sum(-weights[y] * log_softmax(row, y) for row, y in kept) / sum(weights[y] for _, y in kept)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    unweighted = sequence_classification_loss(torch.tensor(rows), torch.tensor(labels), Config(3))
    assert unweighted.item() != pytest.approx(expected, abs=1e-3)


def test_multi_label_pos_weight_by_hand():
    logits, labels = [[0.0, 2.0], [-1.0, 0.5]], [[1.0, 0.0], [1.0, 1.0]]
    pos_weight = [4.0, 0.5]
    config = Config(2, problem_type="multi_label_classification", class_weights=pos_weight)
    loss = sequence_classification_loss(torch.tensor(logits), torch.tensor(labels), config)

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    terms = [
        -(pos_weight[j] * y * math.log(sigmoid(x)) + (1 - y) * math.log(1 - sigmoid(x)))
        for row, targets in zip(logits, labels)
        for j, (x, y) in enumerate(zip(row, targets))
    ]
    assert loss.item() == pytest.approx(sum(terms) / len(terms), abs=1e-6)


def test_row_weights_by_hand_for_every_problem_type():
    """Each row's loss times its weight, over what the unweighted mean divides by; weights of 1 change nothing."""
    rows, weights = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [1.0, 3.0, 0.0], [0.0, 1.0, 2.0]], [0.5, 2.0, 1.0, 0.25]
    labels = [0, -100, 1, 2]
    for class_weights in (None, [0.5, 3.0, 1.0]):
        config = Config(3, class_weights=class_weights)
        w = class_weights or [1.0, 1.0, 1.0]
        kept = [(row, y, s) for row, y, s in zip(rows, labels, weights) if y != -100]
        expected = sum(-s * w[y] * log_softmax(row, y) for row, y, s in kept) / sum(w[y] for _, y, _ in kept)
        loss = sequence_classification_loss(torch.tensor(rows), torch.tensor(labels), config, torch.tensor(weights))
        assert loss.item() == pytest.approx(expected, abs=1e-6)
        ones = sequence_classification_loss(torch.tensor(rows), torch.tensor(labels), config, torch.ones(4))
        assert ones.item() == pytest.approx(sequence_classification_loss(torch.tensor(rows), torch.tensor(labels),
                                                                         config).item(), abs=1e-6)

    predictions, targets = torch.tensor([[0.5], [2.0], [-1.0]]), torch.tensor([1.0, 1.0, 0.0])
    loss = sequence_classification_loss(predictions, targets, Config(1), torch.tensor([1.0, 0.5, 2.0]))
    assert loss.item() == pytest.approx((1.0 * 0.25 + 0.5 * 1.0 + 2.0 * 1.0) / 3, abs=1e-6)
    one_row = sequence_classification_loss(predictions[:1], targets[:1], Config(1), torch.tensor([2.0]))
    assert one_row.item() == pytest.approx(2.0 * 0.25, abs=1e-6)  # a batch of one row

    logits, multi_hot = torch.tensor([[0.0, 2.0], [-1.0, 0.5]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    for pos_weight in (None, [4.0, 0.5]):
        config = Config(2, problem_type="multi_label_classification", class_weights=pos_weight)
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, multi_hot, reduction="none", pos_weight=None if pos_weight is None else torch.tensor(pos_weight)
        ).mean(-1)
        loss = sequence_classification_loss(logits, multi_hot, config, torch.tensor([3.0, 1.0]))
        assert loss.item() == pytest.approx(((3.0 * per_row[0] + per_row[1]) / 2).item(), abs=1e-6)


def test_label_smoothing_with_row_weights_is_torchs():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0], [1.0, 3.0, 0.0]]), torch.tensor([0, 2])
    loss = sequence_classification_loss(logits, labels, Config(3), torch.tensor([1.0, 3.0]), label_smoothing=0.1)
    per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none", label_smoothing=0.1)
    assert loss.item() == pytest.approx(((per_row[0] + 3.0 * per_row[1]) / 2).item(), abs=1e-6)


@pytest.mark.parametrize("num_labels, labels", [(3, torch.tensor([2, 0, 1])), (3, torch.tensor([[1.0, 0.0, 1.0]] * 3))])
def test_every_family_reads_the_weights_from_its_config(family, num_labels, labels):
    model = tiny_model(family, num_labels=num_labels)
    model.config.class_weights = [0.2, 1.0, 5.0]
    input_ids, attention_mask = right_padded_batch([3, 5, 7])
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    torch.testing.assert_close(out.loss, sequence_classification_loss(out.logits, labels, model.config))
    model.config.class_weights = None
    assert not torch.allclose(out.loss, sequence_classification_loss(out.logits, labels, model.config))


def test_balanced_weights_match_scikit_learn():
    labels = np.array([0] * 8 + [1] * 3 + [2] * 1)
    balanced = compute_class_weights("balanced", labels, "single_label_classification", 3)
    np.testing.assert_allclose(balanced, compute_class_weight("balanced", classes=np.arange(3), y=labels))
    np.testing.assert_allclose(balanced, [12 / (3 * 8), 12 / (3 * 3), 12 / (3 * 1)])
    soft = compute_class_weights("sqrt_balanced", labels, "single_label_classification", 3)
    np.testing.assert_allclose(soft, np.sqrt(balanced))
    # A class absent from training is never a target: weight 1, the others keep n / (classes x count).
    np.testing.assert_allclose(
        compute_class_weights("balanced", labels, "single_label_classification", 4), [12 / 32, 12 / 12, 12 / 4, 1.0]
    )
    assert compute_class_weights("none", labels, "single_label_classification", 3) is None


def test_balanced_multi_label_weights_are_negatives_over_positives():
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 1]], dtype=np.float32)
    weights = compute_class_weights("balanced", labels, "multi_label_classification", 3)
    np.testing.assert_allclose(weights, [3 / 1, 3 / 1, 1.0])  # the last label is always on: no evidence, weight 1


@pytest.mark.parametrize(
    "value, message",
    [
        (["heavy"], "Invalid --class_weight 'heavy'"),
        (["1", "-2"], "one positive number per label"),
        (["balanced", "2"], "Invalid --class_weight"),
        (["nan"], "Invalid --class_weight"),
    ],
)
def test_bad_class_weight_values(value, message):
    with pytest.raises(TextclsError, match=message):
        parse_class_weight(value)


def test_weight_count_and_regression_are_checked():
    with pytest.raises(TextclsError, match="2 weight.* but the data has 3 labels"):
        compute_class_weights([1.0, 2.0], [0, 1, 2], "single_label_classification", 3)
    with pytest.raises(TextclsError, match="regression"):
        compute_class_weights("balanced", [0.5, 1.0], "regression", 1)


def test_trainer_applies_the_shared_loss_to_transformers_own_classifiers(tmp_path):
    """transformers' classifiers compute an unweighted loss in forward; the Trainer weights it instead."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3)
    model = BertForSequenceClassification(config).eval()
    model.config.class_weights = [0.2, 1.0, 5.0]
    trainer = TextclsTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none",
                                                                 use_cpu=True))
    input_ids, attention_mask = right_padded_batch([3, 5, 7], vocab_size=30)
    labels = torch.tensor([2, 0, 1])
    loss, outputs = trainer.compute_loss(
        model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}, return_outputs=True
    )
    rows = outputs.logits.tolist()
    w = model.config.class_weights
    expected = sum(-w[y] * log_softmax(row, y) for row, y in zip(rows, labels.tolist())) / sum(w[y] for y in labels)
    assert loss.item() == pytest.approx(expected, abs=1e-5)


REMOTE_LOSS_SCRIPT = """
import sys, torch
sys.modules["textcls"] = None  # textcls cannot be imported in this process
from transformers import AutoModelForSequenceClassification
path = sys.argv[1]
model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
batch = torch.load(path + "/batch.pt")
with torch.no_grad():
    torch.save(model(**batch).loss, path + "/remote_loss.pt")
"""


def test_weighted_loss_is_the_same_after_loading_without_textcls(tmp_path):
    model = tiny_model("textcnn", num_labels=3)
    model.config.class_weights = [0.2, 1.0, 5.0]
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["class_weights"] == [0.2, 1.0, 5.0]
    input_ids, attention_mask = right_padded_batch([3, 5, 7])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": torch.tensor([2, 0, 1])}
    torch.save(batch, tmp_path / "batch.pt")
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", REMOTE_LOSS_SCRIPT, str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with torch.no_grad():
        expected = model(**batch).loss
    torch.testing.assert_close(torch.load(tmp_path / "remote_loss.pt"), expected)


def imbalanced_files(folder):
    """Three labels, 'rare' one in twelve; the word 'x<label>' decides the label."""
    import csv

    paths = {}
    for split, n in (("train", 96), ("validation", 24), ("test", 24)):
        rows = []
        for i in range(n):
            label = "rare" if i % 12 == 0 else ("a" if i % 2 else "b")
            rows.append({"text": f"some words here x{label} and more {i % 5}", "label": label})
        paths[split] = folder / f"{split}.csv"
        with open(paths[split], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(rows)
    return ["--train_file", str(paths["train"]), "--validation_file", str(paths["validation"]),
            "--test_file", str(paths["test"])]


def test_recipe_records_balanced_weights_and_selects_on_macro_f1(tmp_path):
    output_dir = tmp_path / "run"
    metrics = run([*imbalanced_files(tmp_path), "--class_weight", "balanced", "--metric_for_best_model", "f1_macro",
                   "--num_train_epochs", "2", "--embedding_dim", "8", "--num_filters", "4", "--disable_tqdm", "true",
                   "--output_dir", str(output_dir)])
    assert "test_f1_macro" in metrics
    config = json.loads((output_dir / "config.json").read_text())
    names = [config["id2label"][str(i)] for i in range(3)]
    counts = {"a": 48, "b": 40, "rare": 8}  # odd i: a; even i: b, but every 12th: rare
    np.testing.assert_allclose(config["class_weights"], [96 / (3 * counts[name]) for name in names])
    state = json.loads(sorted(output_dir.glob("checkpoint-*/trainer_state.json"))[-1].read_text())
    assert state["best_metric"] == max(entry["eval_f1_macro"] for entry in state["log_history"] if "eval_f1_macro" in entry)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--class_weight", "heavy"], "Invalid --class_weight 'heavy'"),
        (["--class_weight", "1", "2"], "2 weight(s) but the data has 3 labels"),
        (["--class_weight", "balanced", "--label_smoothing_factor", "0.1"], "cannot be combined"),
    ],
)
def test_bad_class_weight_flags_are_one_line_errors(flags, message, tmp_path, capsys):
    code = cli_main(["train", *imbalanced_files(tmp_path), *flags, "--num_train_epochs", "1",
                     "--output_dir", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, message)


def assert_one_line_error(code, err, message):
    """Exit code 2, one `textcls: error:` line saying `message`, no traceback (progress bars may precede it)."""
    error_lines = [line for line in err.splitlines() if line.startswith("textcls: error:")]
    assert code == 2 and len(error_lines) == 1 and message in error_lines[0] and "Traceback" not in err, err
