"""The shared loss against hand computations, through every family's forward."""

import math

import pytest
import torch
from conftest import right_padded_batch, tiny_model

from textcls.models import sequence_classification_loss
from textcls.models.sequence_classification import infer_problem_type


class Config:
    def __init__(self, num_labels, problem_type=None):
        self.num_labels, self.problem_type = num_labels, problem_type


def test_cross_entropy_by_hand_with_ignore_index():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [1.0, 3.0, 0.0]])
    labels = torch.tensor([0, -100, 1])
    config = Config(3)
    loss = sequence_classification_loss(logits, labels, config)
    assert config.problem_type == "single_label_classification"

    def nll(row, label):
        return -(row[label] - math.log(sum(math.exp(v) for v in row)))

    expected = (nll([2.0, 0.0, -1.0], 0) + nll([1.0, 3.0, 0.0], 1)) / 2  # the -100 row is skipped
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_mse_by_hand_for_one_label():
    config = Config(1)
    loss = sequence_classification_loss(torch.tensor([[0.5], [2.0]]), torch.tensor([1.0, 0.0]), config)
    assert config.problem_type == "regression"
    assert loss.item() == pytest.approx(((0.5 - 1.0) ** 2 + 2.0**2) / 2)


def test_bce_by_hand_for_multi_hot_labels():
    config = Config(2)
    logits, labels = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    loss = sequence_classification_loss(logits, labels, config)
    assert config.problem_type == "multi_label_classification"

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    expected = (-math.log(sigmoid(0.0)) - math.log(1 - sigmoid(2.0))) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_explicit_problem_type_wins_over_inference():
    config = Config(2, problem_type="multi_label_classification")
    assert infer_problem_type(config, torch.tensor([1, 0])) == "multi_label_classification"


@pytest.mark.parametrize(
    "num_labels, labels, expected_type",
    [
        (3, torch.tensor([2, 0, 1]), "single_label_classification"),
        (1, torch.tensor([0.3, -1.0, 2.5]), "regression"),
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "multi_label_classification"),
    ],
)
def test_every_family_uses_the_shared_loss(family, num_labels, labels, expected_type):
    model = tiny_model(family, num_labels=num_labels)
    input_ids, attention_mask = right_padded_batch([3, 5, 7])
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert model.config.problem_type == expected_type
    expected = sequence_classification_loss(out.logits, labels, model.config)
    torch.testing.assert_close(out.loss, expected)


def test_label_smoothing_is_the_trainers_over_every_familys_logits(family, tmp_path):
    """`--label_smoothing_factor`: the Trainer's LabelSmoother takes the labels out and smooths over our logits."""
    from transformers import TrainingArguments

    from textcls.trainer import TextclsTrainer

    model = tiny_model(family, num_labels=3)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, label_smoothing_factor=0.1)
    input_ids, attention_mask = right_padded_batch([3, 5, 7])
    labels = torch.tensor([2, 0, 1])
    loss, outputs = TextclsTrainer(model=model, args=args).compute_loss(
        model, {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}, return_outputs=True
    )
    expected = torch.nn.functional.cross_entropy(outputs.logits, labels, label_smoothing=0.1)
    torch.testing.assert_close(loss, expected)
    # ...and not the plain cross-entropy the model computes itself (tiny random logits differ enough to tell).
    assert abs(loss.item() - torch.nn.functional.cross_entropy(outputs.logits, labels).item()) > 1e-4
