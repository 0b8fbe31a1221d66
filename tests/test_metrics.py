"""textcls.metrics against scikit-learn / scipy, the Trainer glue, and textcls.reporting (all offline)."""

import math
import os

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn import metrics as skm
from transformers import EvalPrediction

from textcls.errors import TextclsError
from textcls.metrics import (
    ClassificationMetrics,
    MultilabelMetrics,
    RegressionMetrics,
    build_compute_metrics,
    predictions_from_logits,
)
from textcls.reporting import format_metrics_table, save_confusion_matrix


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test may touch the network: evaluate and huggingface_hub read these at import time."""
    import evaluate.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def random_classification(seed, n=200, num_classes=4, never_predicted=False):
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, num_classes, n)
    # Mostly right, some noise, so the scores are neither 0 nor 1.
    preds = np.where(rng.random(n) < 0.6, refs, rng.integers(0, num_classes, n))
    if never_predicted:
        preds = np.where(preds == num_classes - 1, 0, preds)
    return preds, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("never_predicted", [False, True])
@pytest.mark.parametrize("num_classes", [2, 5])
def test_classification_group_matches_sklearn(seed, never_predicted, num_classes):
    preds, refs = random_classification(seed, num_classes=num_classes, never_predicted=never_predicted)
    result = ClassificationMetrics().compute(predictions=preds, references=refs)
    expected = {
        "accuracy": skm.accuracy_score(refs, preds),
        "f1_macro": skm.f1_score(refs, preds, average="macro", zero_division=0),
        "precision_macro": skm.precision_score(refs, preds, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(refs, preds, average="macro", zero_division=0),
        "mcc": skm.matthews_corrcoef(refs, preds),
    }
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
        assert type(result[key]) is float
    if never_predicted:  # the class never predicted has precision 0 (zero_division=0), not NaN
        assert not math.isnan(result["precision_macro"])


def test_constant_prediction_gives_mcc_zero_and_no_nan():
    refs = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    preds = np.zeros_like(refs)
    result = ClassificationMetrics().compute(predictions=preds, references=refs)
    assert result["mcc"] == 0.0
    assert result["accuracy"] == pytest.approx(2 / 8)
    assert all(not math.isnan(v) for v in result.values())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multilabel_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    refs = (rng.random((150, 6)) < 0.3).astype(int)
    refs[:, 5] = 0  # a label that never occurs
    preds = np.where(rng.random(refs.shape) < 0.8, refs, 1 - refs)
    result = MultilabelMetrics().compute(predictions=preds, references=refs)
    assert result == {
        "f1_micro": pytest.approx(skm.f1_score(refs, preds, average="micro", zero_division=0)),
        "f1_macro": pytest.approx(skm.f1_score(refs, preds, average="macro", zero_division=0)),
        "subset_accuracy": pytest.approx(skm.accuracy_score(refs, preds)),
    }


def test_multilabel_rejects_ragged_rows():
    with pytest.raises(TextclsError, match="multi-hot"):
        MultilabelMetrics().compute(predictions=[[1, 0], [1]], references=[[1, 0], [0, 1]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regression_matches_sklearn_and_scipy(seed):
    rng = np.random.default_rng(seed)
    refs = rng.normal(size=120)
    preds = refs + rng.normal(scale=0.5, size=120)
    result = RegressionMetrics().compute(predictions=preds, references=refs)
    assert result == {
        "mse": pytest.approx(skm.mean_squared_error(refs, preds), rel=1e-12),
        "mae": pytest.approx(skm.mean_absolute_error(refs, preds), rel=1e-12),
        "pearson": pytest.approx(stats.pearsonr(preds, refs)[0], rel=1e-12),
        "spearman": pytest.approx(stats.spearmanr(preds, refs)[0], rel=1e-12),
    }


def test_regression_constant_prediction_gives_nan_correlation():
    result = RegressionMetrics().compute(predictions=[1.0, 1.0, 1.0], references=[0.0, 1.0, 2.0])
    assert math.isnan(result["pearson"]) and math.isnan(result["spearman"])
    assert result["mse"] == pytest.approx(2 / 3)


def test_empty_input_is_a_textcls_error():
    with pytest.raises(TextclsError, match="no predictions"):
        ClassificationMetrics().compute(predictions=[], references=[])


def test_instances_are_independent_and_write_no_cache_files(tmp_path):
    a = ClassificationMetrics(cache_dir=str(tmp_path))
    b = ClassificationMetrics(cache_dir=str(tmp_path))
    a.add_batch(predictions=[0, 0], references=[0, 1])
    b.add_batch(predictions=[1, 0, 1], references=[1, 0, 1])
    assert a.compute()["accuracy"] == 0.5
    assert b.compute()["accuracy"] == 1.0
    # in memory: no arrow files or locks that a second process could collide with
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_predictions_from_logits():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    assert predictions_from_logits(logits, "single_label_classification").tolist() == [1, 0]
    assert predictions_from_logits(torch.tensor(logits), "single_label_classification").tolist() == [1, 0]
    assert predictions_from_logits((logits, np.zeros(3)), "classification").tolist() == [1, 0]
    multi = predictions_from_logits(logits, "multi_label_classification")
    assert multi.tolist() == [[1, 1, 0], [1, 0, 1]]
    assert predictions_from_logits(logits, "multilabel", multi_label_threshold=1.0).tolist() == [
        [0, 1, 0],
        [1, 0, 0],
    ]
    assert predictions_from_logits(np.array([[0.5], [1.5]]), "regression").tolist() == [0.5, 1.5]
    with pytest.raises(TextclsError, match="num_labels=1"):
        predictions_from_logits(logits, "regression")
    with pytest.raises(TextclsError, match="problem_type"):
        predictions_from_logits(logits, "ranking")


def test_build_compute_metrics_single_label_with_tuple_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 64)
    preds = logits.argmax(-1)
    compute = build_compute_metrics("single_label_classification")
    plain = compute(EvalPrediction(predictions=logits, label_ids=labels))
    as_tuple = compute(EvalPrediction(predictions=(logits, rng.normal(size=(64, 5, 8))), label_ids=labels))
    assert plain == as_tuple
    assert list(plain) == ["accuracy", "f1_macro", "precision_macro", "recall_macro", "mcc"]
    assert plain["accuracy"] == pytest.approx(skm.accuracy_score(labels, preds))
    assert plain["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, preds))
    assert all(type(v) is float for v in plain.values())
    # reusable across evaluation rounds (evaluate resets its buffer after compute)
    assert compute(EvalPrediction(predictions=logits, label_ids=labels)) == plain


def test_build_compute_metrics_multilabel_and_regression():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40, 4))
    labels = (rng.random((40, 4)) < 0.4).astype(np.float32)  # BCE labels are floats
    result = build_compute_metrics("multi_label_classification")(EvalPrediction(logits, labels))
    preds = (logits > 0).astype(int)
    assert result["f1_micro"] == pytest.approx(skm.f1_score(labels.astype(int), preds, average="micro"))
    assert result["subset_accuracy"] == pytest.approx(skm.accuracy_score(labels.astype(int), preds))

    values = rng.normal(size=(30, 1))
    targets = rng.normal(size=30)
    result = build_compute_metrics("regression")(EvalPrediction(values, targets))
    assert list(result) == ["mse", "mae", "pearson", "spearman"]
    assert result["mse"] == pytest.approx(skm.mean_squared_error(targets, values[:, 0]))


def test_build_compute_metrics_errors():
    with pytest.raises(TextclsError, match="unknown problem_type"):
        build_compute_metrics("token_classification")
    compute = build_compute_metrics("single_label_classification")
    with pytest.raises(TextclsError, match="labels"):
        compute(EvalPrediction(np.zeros((3, 2)), np.zeros(4, dtype=int)))


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("num_classes,normalize", [(3, False), (20, True)])
def test_save_confusion_matrix_writes_valid_png_atomically(tmp_path, num_classes, normalize):
    import matplotlib.image

    preds, refs = random_classification(0, n=300, num_classes=num_classes, never_predicted=True)
    names = [f"class number {i}" for i in range(num_classes)]
    target = tmp_path / "plots" / "confusion.png"
    returned = save_confusion_matrix(refs, preds, names, target, title="Test", normalize=normalize)
    assert returned == target
    assert target.read_bytes()[:8] == PNG_MAGIC
    image = matplotlib.image.imread(target)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert os.listdir(target.parent) == ["confusion.png"]  # no temp file left behind


def test_save_confusion_matrix_rejects_bad_input(tmp_path):
    with pytest.raises(TextclsError, match="outside"):
        save_confusion_matrix([0, 3], [0, 1], ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(TextclsError, match="references"):
        save_confusion_matrix([0, 1, 1], [0, 1], ["a", "b"], tmp_path / "cm.png")
    assert not list(tmp_path.iterdir())


def test_format_metrics_table_nested_and_flat():
    nested = format_metrics_table(
        {"eval": {"eval_accuracy": 0.91234, "eval_f1_macro": 0.5}, "test": {"accuracy": 0.9, "mcc": 0.123456}}
    )
    lines = nested.splitlines()
    assert lines[0].split() == ["metric", "eval", "test"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["accuracy", "0.9123", "0.9000"]
    assert lines[3].split() == ["f1_macro", "0.5000", "-"]
    assert lines[4].split() == ["mcc", "-", "0.1235"]
    # columns are aligned: every value ends at the same offset
    assert len({len(line) for line in lines[2:]}) == 1

    flat = format_metrics_table({"eval_accuracy": 0.5, "test_accuracy": 0.25, "epoch": 3})
    rows = [line.split() for line in flat.splitlines()]
    assert rows[0] == ["metric", "eval", "test", "value"]
    assert rows[2] == ["accuracy", "0.5000", "0.2500", "-"]
    assert rows[3] == ["epoch", "-", "-", "3.0000"]
    assert format_metrics_table({"accuracy": 1}).splitlines()[2].split() == ["accuracy", "1.0000"]
