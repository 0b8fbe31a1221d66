"""Multi-label thresholds: tuned per label for F1, saved in the config, used by evaluate and predict."""

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import f1_score
from test_class_weights import assert_one_line_error
from test_evaluation import TEXTS, make_checkpoint
from transformers import AutoConfig, AutoModelForSequenceClassification

from textcls.cli import main as cli_main
from textcls.evaluation import evaluate_checkpoint
from textcls.inference import label_predictions, load_checkpoint, predict_logits
from textcls.thresholds import tune_thresholds
from textcls.training import run

MULTI = {0: "plot", 1: "cast", 2: "music"}
TRUTH = [["cast"], [], ["plot", "cast"], ["music"], ["plot"]]


def test_tuned_threshold_by_hand():
    # positives score 2, 1.5, -0.5; negatives 0, -1, -2: cutting below -0.5 (F1 6/7) beats cutting below 1.5 (F1 4/5)
    logits = np.array([[2.0], [1.5], [-0.5], [0.0], [-1.0], [-2.0]])
    labels = np.array([[1], [1], [1], [0], [0], [0]])
    assert tune_thresholds(logits, labels) == pytest.approx([expit(-0.75)])  # midway between -0.5 and -1


def test_tuned_thresholds_reach_the_best_f1_of_every_cut():
    rng = np.random.default_rng(0)
    labels = rng.random((80, 4)) < [0.5, 0.2, 0.05, 0.0]
    logits = rng.normal(size=(80, 4)) + 1.5 * labels
    thresholds = tune_thresholds(logits, labels.astype(np.float32))
    assert thresholds[3] == 0.5  # no positive row: nothing to tune
    for j in range(3):
        chosen = f1_score(labels[:, j], expit(logits[:, j]) > thresholds[j])
        best = max(f1_score(labels[:, j], logits[:, j] >= cut) for cut in logits[:, j])
        assert chosen == pytest.approx(best)


def multi_label_checkpoint(tmp_path, thresholds=None):
    path = make_checkpoint(tmp_path / "ckpt", MULTI, problem_type="multi_label_classification")
    if thresholds is not None:
        config = AutoConfig.from_pretrained(path)
        config.multi_label_thresholds = thresholds
        config.save_pretrained(path)
    return path


def test_thresholds_round_trip_and_change_predictions_as_set(tmp_path):
    plain = multi_label_checkpoint(tmp_path / "plain")
    model, tokenizer = load_checkpoint(str(plain))
    logits = predict_logits(model, tokenizer, TEXTS)
    default = label_predictions(model, logits)
    assert [p["label"] for p in default] == [[MULTI[j] for j in np.flatnonzero(row > 0)] for row in logits]

    tuned = multi_label_checkpoint(tmp_path / "tuned", thresholds=[1e-6, 1 - 1e-6, 0.5])
    assert AutoModelForSequenceClassification.from_pretrained(tuned).config.multi_label_thresholds == [1e-6, 1 - 1e-6, 0.5]
    model, _ = load_checkpoint(str(tuned))
    predictions = label_predictions(model, logits)
    assert all("plot" in p["label"] and "cast" not in p["label"] for p in predictions)
    assert [("music" in p["label"]) for p in predictions] == [bool(row[2] > 0) for row in logits]
    # --multi_label_threshold overrides the saved ones
    assert [p["label"] for p in label_predictions(model, logits, multi_label_threshold=0.5)] == [p["label"] for p in default]


def test_evaluate_uses_the_saved_thresholds(tmp_path):
    test = tmp_path / "new.jsonl"
    test.write_text("".join(json.dumps({"text": t, "label": labels}) + "\n" for t, labels in zip(TEXTS, TRUTH)))
    thresholds = [0.3, 0.6, 0.5]
    path = multi_label_checkpoint(tmp_path, thresholds=thresholds)
    model, tokenizer = load_checkpoint(str(path))
    predicted = expit(predict_logits(model, tokenizer, TEXTS)) > np.array(thresholds)
    truth = np.array([[name in labels for name in MULTI.values()] for labels in TRUTH])
    metrics = evaluate_checkpoint(str(path), test_file=str(test), output_dir=str(tmp_path / "o"))
    assert metrics["test_subset_accuracy"] == pytest.approx(float((predicted == truth).all(-1).mean()))
    assert metrics["test_f1_micro"] == pytest.approx(f1_score(truth, predicted, average="micro", zero_division=0))


def multi_label_files(folder):
    """Tags decided by words: 'plot' and 'cast' each on about half the texts, 'music' on a fifth."""
    rng = np.random.default_rng(1)
    paths = []
    for split, n in (("train", 120), ("validation", 30)):
        rows = []
        for _ in range(n):
            tags = [tag for tag, p in (("plot", 0.5), ("cast", 0.5), ("music", 0.2)) if rng.random() < p]
            words = [f"w{int(i)}" for i in rng.integers(0, 20, 4)] + [f"about{tag}" for tag in tags]
            rows.append(json.dumps({"text": " ".join(rng.permutation(words)), "tags": tags}))
        path = folder / f"{split}.jsonl"
        path.write_text("\n".join(rows) + "\n")
        paths += [f"--{split}_file", str(path)]
    return [*paths, "--label_column", "tags", "--embedding_dim", "16", "--num_filters", "8", "--disable_tqdm", "true"]


def test_recipe_tunes_thresholds_on_validation_and_reports_with_them(tmp_path):
    output_dir = tmp_path / "run"
    metrics = run([*multi_label_files(tmp_path), "--num_train_epochs", "3", "--learning_rate", "3e-3",
                   "--output_dir", str(output_dir)])
    config = json.loads((output_dir / "config.json").read_text())
    model, tokenizer = load_checkpoint(str(output_dir))
    rows = [json.loads(line) for line in (tmp_path / "validation.jsonl").read_text().splitlines()]
    logits = predict_logits(model, tokenizer, [row["text"] for row in rows])
    names = [config["id2label"][str(i)] for i in range(3)]
    truth = np.array([[name in row["tags"] for name in names] for row in rows], dtype=np.float32)
    assert config["multi_label_thresholds"] == pytest.approx(tune_thresholds(logits, truth))
    predicted = expit(logits) > np.array(config["multi_label_thresholds"])
    assert metrics["eval_f1_micro"] == pytest.approx(f1_score(truth, predicted, average="micro"))


def test_fixed_threshold_is_saved_for_every_label(tmp_path):
    output_dir = tmp_path / "run"
    run([*multi_label_files(tmp_path), "--num_train_epochs", "1", "--multi_label_threshold", "0.3",
         "--output_dir", str(output_dir)])
    assert json.loads((output_dir / "config.json").read_text())["multi_label_thresholds"] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_bad_thresholds_are_one_line_errors(value, tmp_path, capsys):
    code = cli_main(["train", *multi_label_files(tmp_path), "--multi_label_threshold", value,
                     "--output_dir", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, "--multi_label_threshold must be a probability")
    path = multi_label_checkpoint(tmp_path)
    (tmp_path / "in.txt").write_text("some text\n")
    code = cli_main(["predict", "--model", str(path), str(tmp_path / "in.txt"), "--multi_label_threshold", value])
    assert_one_line_error(code, capsys.readouterr().err, "--multi_label_threshold must be a probability")


def test_threshold_on_single_label_data_is_an_error(tmp_path, capsys):
    data = tmp_path / "single.csv"
    data.write_text("text,label\n" + "".join(f"text number {i},{'ab'[i % 2]}\n" for i in range(20)))
    code = cli_main(["train", "--train_file", str(data), "--multi_label_threshold", "0.3",
                     "--output_dir", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, "applies to multi-label data only")
