"""textcls tune: a search on validation that writes its trials and the winning command, then tests once."""

import csv
import json
import random
import shlex
import time
from dataclasses import fields
from types import SimpleNamespace

import optuna
import pytest
from test_class_weights import assert_one_line_error
from test_training import synthetic_rows, write_csv
from transformers import TrainingArguments

from textcls.arguments import ModelArguments
from textcls.cli import main as cli_main
from textcls.families import FAMILIES, Choice
from textcls.models.modeling_dpcnn import DPCNNConfig
from textcls.training import run
from textcls.tuning import (
    default_trial,
    given_flags,
    hopeless_trial_pruner,
    search_space,
    tune,
)

TINY = ["--embedding_dim", "16", "--num_train_epochs", "2", "--embedding_mode", "rand", "--disable_tqdm", "true"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune-data")
    paths = {split: write_csv(folder / f"{split}.csv", synthetic_rows(n, seed))
             for split, n, seed in (("train", 120, 0), ("validation", 40, 1), ("test", 40, 2))}
    # The same test texts with garbage: random words, labels shuffled.
    rng = random.Random(5)
    rows = synthetic_rows(40, 2)
    labels = [row["label"] for row in rows]
    rng.shuffle(labels)
    paths["garbage"] = write_csv(folder / "garbage.csv", [{"text": " ".join(rng.choices(["zz", "qq", "xx"], k=5)),
                                                           "label": label} for label in labels])
    return paths


def tune_args(files, test, output_dir):
    return ["--n_trials", "2", "--time_budget", "600", "--train_file", files["train"],
            "--validation_file", files["validation"], "--test_file", files[test], *TINY, "--output_dir", str(output_dir)]


def read_trials(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_tune_chooses_on_validation_writes_its_table_and_tests_the_winner_once(files, tmp_path):
    summary = tune(tune_args(files, "test", tmp_path / "tune"))
    trials = read_trials(tmp_path / "tune" / "trials.csv")
    assert len(trials) == 2 and all(row["state"] == "COMPLETE" for row in trials)
    # flags given on the command line are held fixed, the rest of the family's space is searched
    assert {key[len("params_"):] for key in trials[0] if key.startswith("params_")} == {
        "learning_rate", "dropout", "num_filters", "class_weight"}
    # the first trial is what `textcls train` does with the same flags: TextCNN's lr 1e-3, dropout 0.5, 100 filters
    assert (float(trials[0]["params_learning_rate"]), float(trials[0]["params_dropout"]),
            int(trials[0]["params_num_filters"]), trials[0]["params_class_weight"]) == (1e-3, 0.5, 100, "none")
    assert trials[1]["params_learning_rate"] != trials[0]["params_learning_rate"]
    best = max(trials, key=lambda row: float(row["value"]))
    assert summary["best_trial"] == int(best["number"]) and summary["best_validation"] == float(best["value"])

    command = (tmp_path / "tune" / "best_command.txt").read_text().strip()
    argv = shlex.split(command)
    assert argv[:2] == ["textcls", "train"] and "--n_trials" not in argv and "--time_budget" not in argv
    for name in ("learning_rate", "dropout", "num_filters", "class_weight"):
        assert str(argv[argv.index(f"--{name}") + 1]) == best[f"params_{name}"]
    assert argv[argv.index("--output_dir") + 1] == str(tmp_path / "tune" / "best")
    results = json.loads((tmp_path / "tune" / "best" / "all_results.json").read_text())
    assert "test_accuracy" in results and results == pytest.approx(summary["final_metrics"])

    # Garbage in the test split changes nothing about the choice: the search never reads it.
    garbage = tune(tune_args(files, "garbage", tmp_path / "garbage"))
    assert garbage["best_params"] == summary["best_params"]
    again = read_trials(tmp_path / "garbage" / "trials.csv")
    assert [(row["params_learning_rate"], row["value"]) for row in again] == [
        (row["params_learning_rate"], row["value"]) for row in trials]
    assert garbage["final_metrics"]["test_loss"] != pytest.approx(summary["final_metrics"]["test_loss"])


def test_each_trial_builds_its_model_with_its_own_parameters(files, tmp_path, monkeypatch):
    import textcls.tuning

    configs = []

    def recording_build_model(*args, **kwargs):
        tokenizer, model = textcls.training.build_model(*args, **kwargs)
        configs.append(model.config)
        return tokenizer, model

    monkeypatch.setattr(textcls.tuning, "build_model", recording_build_model)
    argv = tune_args(files, "test", tmp_path / "tune")
    argv[argv.index("--n_trials") + 1] = "3"
    tune(argv)
    trials = read_trials(tmp_path / "tune" / "trials.csv")
    # configs: the tokenizer's, the Trainer's first (no trial), one per trial; the final run builds its own
    assert len(configs) == 2 + 3
    built = configs[2:]
    for row, config in zip(trials, built):
        assert (config.num_filters, config.dropout) == (int(row["params_num_filters"]), float(row["params_dropout"]))
        assert (config.class_weights is None) == (row["params_class_weight"] == "none")
    assert len({(c.num_filters, c.dropout) for c in built}) == 3


def test_the_final_run_reproduces_its_trial_and_the_first_trial_is_textcls_train(files, tmp_path):
    # by validation loss: a score that would show any difference in the random numbers drawn
    argv = [*tune_args(files, "test", tmp_path / "tune"), "--metric_for_best_model", "loss"]
    argv[argv.index("--n_trials") + 1] = "3"
    summary = tune(argv)
    trials = read_trials(tmp_path / "tune" / "trials.csv")
    assert summary["final_metrics"]["eval_loss"] == pytest.approx(summary["best_validation"], rel=1e-6)
    plain = run(["--train_file", files["train"], "--validation_file", files["validation"], *TINY,
                 "--metric_for_best_model", "loss", "--output_dir", str(tmp_path / "plain")])
    assert plain["eval_loss"] == pytest.approx(float(trials[0]["value"]), rel=1e-6)
    assert len({row["value"] for row in trials}) == 3


@pytest.mark.parametrize("patience, evaluations", [(None, [6, 3, 3]), ("1", [2, 2, 2])])
def test_trials_after_the_first_stop_when_their_score_stops_improving(patience, evaluations, files, tmp_path):
    # At a rate of 1e-9 the weights barely move: validation accuracy is the same after every epoch.
    argv = [*tune_args(files, "test", tmp_path / "tune"), "--num_train_epochs", "6", "--learning_rate", "1e-9"]
    argv[argv.index("--n_trials") + 1] = "3"
    if patience:  # given: every trial stops as `textcls train --early_stopping_patience 1` would
        argv += ["--early_stopping_patience", patience]
    summary = tune(argv)
    trials = read_trials(tmp_path / "tune" / "trials.csv")
    # without the flag: the first trial (the defaults) runs every epoch, the others stop 2 evaluations
    # after their best
    assert [int(row["user_attrs_evaluations"]) for row in trials] == evaluations
    # the winner is trained again in full unless the flag asks for early stopping
    assert summary["final_metrics"]["epoch"] == (6 if patience is None else 2)


def test_the_pruner_stops_only_the_bottom_quarter_and_never_in_the_first_epoch():
    study = optuna.create_study(direction="maximize", pruner=hopeless_trial_pruner(steps_per_epoch=10))
    for score in (0.5, 0.6, 0.7, 0.8, 0.9):  # five finished trials, evaluated after epochs 1 and 2
        trial = study.ask()
        trial.report(score / 2, 10)
        trial.report(score, 20)
        study.tell(trial, score)
    middling, hopeless = study.ask(), study.ask()
    for trial in (middling, hopeless):
        trial.report(0.0, 10)
        assert not trial.should_prune()  # first epoch: never
    middling.report(0.65, 20)  # above the bottom quarter (0.6) of the finished trials' epoch-2 scores
    hopeless.report(0.55, 20)
    assert not middling.should_prune() and hopeless.should_prune()


def test_the_time_budget_stops_the_search(files, tmp_path):
    started = time.monotonic()
    argv = tune_args(files, "test", tmp_path / "t")
    argv[1], argv[3] = "50", "4"  # --n_trials 50, --time_budget 4 seconds
    summary = tune(argv)
    assert summary["trials"] < 50
    # a trial is stopped at its next step after the deadline; then one evaluation at most
    assert summary["search_seconds"] < 4 + 20, summary["search_seconds"]
    assert time.monotonic() - started < 300


def test_search_space_per_family_without_the_fixed_flags():
    textcnn = search_space(FAMILIES["textcnn"], False, "single_label_classification", given_flags(["--dropout", "0.3"]))
    assert "dropout" not in textcnn and {"learning_rate", "num_train_epochs", "embedding_mode"} <= set(textcnn)
    llama = search_space(FAMILIES["llama"], True, "single_label_classification", set())
    assert {"lora_r", "lora_dropout"} <= set(llama)
    assert "lora_r" not in search_space(FAMILIES["llama"], False, "single_label_classification", set())
    assert "class_weight" not in search_space(FAMILIES["dpcnn"], False, "regression", set())
    flags = {f.name for f in fields(ModelArguments)} | {f.name for f in fields(TrainingArguments)}
    for family in FAMILIES.values():  # every searched name is a flag of `textcls train`
        for name, spec in {**(family.search_space or {}), **family.lora_search_space}.items():
            assert name in flags and (isinstance(spec, Choice) or spec.low < spec.high)


def test_the_first_trial_holds_the_defaults_that_lie_in_the_space():
    space = search_space(FAMILIES["dpcnn"], False, "single_label_classification", set())
    training_args = SimpleNamespace(learning_rate=0.5, num_train_epochs=5.0)  # lr outside the space: sampled
    model_args = ModelArguments(model_type="dpcnn", class_weight=["balanced"])
    assert default_trial(space, model_args, training_args, DPCNNConfig(dropout=0.3)) == dict(
        num_train_epochs=5, dropout=0.3, num_filters=250, embedding_mode="rand", class_weight="balanced")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--n_trials", "0"], "--n_trials must be a whole number >= 1"),
        (["--n_trials", "two"], "--n_trials must be a whole number >= 1"),
        (["--time_budget", "-5"], "--time_budget must be a number of seconds > 0"),
        (["--time_budget", "soon"], "--time_budget must be a number of seconds > 0"),
        (["--metric_for_best_model", "auc"], "--metric_for_best_model auc is not a validation metric"),
    ],
)
def test_bad_tune_flags_are_one_line_errors(flags, message, files, tmp_path, capsys):
    argv = ["tune", "--n_trials", "1", "--time_budget", "60", "--train_file", files["train"],
            "--validation_file", files["validation"], *TINY, "--num_train_epochs", "1",
            "--output_dir", str(tmp_path / "t"), *flags]
    assert_one_line_error(cli_main(argv), capsys.readouterr().err, message)


def test_trials_train_the_head_at_its_own_learning_rate(files, tmp_path, monkeypatch):
    # The trials' Trainer is the recipe's (training.build_trainer): --head_learning_rate reaches the optimizer.
    import textcls.tuning

    built = []

    def recording_build_trainer(*args, **kwargs):
        built.append(textcls.training.build_trainer(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(textcls.tuning, "build_trainer", recording_build_trainer)
    argv = tune_args(files, "test", tmp_path / "tune")
    argv[argv.index("--n_trials") + 1] = "1"
    tune([*argv, "--head_learning_rate", "0.0123"])
    optimizer = built[0].optimizer
    head_lrs = {group["initial_lr"] for group in optimizer.param_groups}
    assert 0.0123 in head_lrs and len(head_lrs) == 2
