"""`textcls tune`: choose a family's hyperparameters on the validation split, then train the winner once.

`tune(argv)` takes the arguments of `textcls train` plus `--n_trials N` and `--time_budget SECONDS`:

1. the data is loaded and its test split dropped before anything is tokenized: choosing never
   looks at it;
2. `Trainer.hyperparameter_search(backend="optuna")` samples the family's search space
   (`Family.search_space` in textcls.families, minus every flag given on the command line), trains
   on train and scores each epoch on validation (`--metric_for_best_model`, best epoch counts);
   the first trial is the run `textcls train` would make with the same flags (the defaults), and
   trials draw the random numbers `textcls train` draws, so the search never ends below the
   defaults on validation; from its second epoch on, a trial in the bottom quarter of the finished
   ones at the same step is pruned (optuna's percentile pruner), and every trial after the first
   stops 2 evaluations after its best one (with `--early_stopping_patience N`, every trial stops
   after N, the first included, as `textcls train` with the flag would);
3. the search stops after `--n_trials` trials or `--time_budget` seconds, whichever comes first
   (a trial still running at the deadline is stopped at its next step);
4. it writes `trials.csv` (one row per trial) and `best_command.txt` (the winning `textcls train`
   command line), then runs that command: the winner is trained again and tested once, in
   `<output_dir>/best`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import shlex
import time
from pathlib import Path

import datasets
import optuna
from transformers import EarlyStoppingCallback, TrainerCallback, set_seed

from .arguments import ModelArguments, parse_args
from .errors import TextclsError
from .families import (
    CLASS_WEIGHT_CHOICE,
    Choice,
    Family,
    IntRange,
    LogUniform,
    Uniform,
    get_family,
)
from .models.sequence_classification import REGRESSION
from .training import (
    build_model,
    build_trainer,
    fit_settings_to_data,
    load_data,
    run,
    tokenize_data,
)

logger = logging.getLogger(__name__)

TRIALS_FILE = "trials.csv"
COMMAND_FILE = "best_command.txt"
SUMMARY_FILE = "tune_summary.json"
MODEL_FLAGS = {f.name for f in dataclasses.fields(ModelArguments)}


def parse_tune_args(argv: list[str]) -> tuple[int, float, list[str]]:
    """(--n_trials, --time_budget, the remaining `textcls train` arguments); one-line errors."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--n_trials", default="20")
    parser.add_argument("--time_budget", default="3600")
    known, train_argv = parser.parse_known_args(argv)
    try:
        n_trials = int(known.n_trials)
    except ValueError:
        n_trials = 0
    if n_trials < 1:
        raise TextclsError(f"--n_trials must be a whole number >= 1, got {known.n_trials!r}.")
    try:
        time_budget = float(known.time_budget)
    except ValueError:
        time_budget = math.nan
    if not time_budget > 0 or math.isinf(time_budget):
        raise TextclsError(f"--time_budget must be a number of seconds > 0 (e.g. 600), got {known.time_budget!r}.")
    return n_trials, time_budget, train_argv


def given_flags(argv: list[str]) -> set[str]:
    """Names of the flags on a command line (`--name value` or `--name=value`)."""
    return {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}


def default_search_space(family: Family) -> dict:
    """For a family without its own: learning rate within 10x of its default, up to twice its epochs."""
    learning_rate = family.training_defaults.get("learning_rate", 5e-5)
    epochs = int(family.training_defaults.get("num_train_epochs", 3))
    return dict(
        learning_rate=LogUniform(learning_rate / 10, learning_rate * 10),
        num_train_epochs=IntRange(1, 2 * epochs),
        class_weight=CLASS_WEIGHT_CHOICE,
    )


def search_space(family: Family, use_lora: bool, problem_type: str, fixed: set[str]) -> dict:
    """The ranges to search: the family's (with its LoRA ones under --use_lora), minus fixed flags."""
    space = dict(family.search_space if family.search_space is not None else default_search_space(family))
    if use_lora:
        space.update(family.lora_search_space)
    if problem_type == REGRESSION:
        space.pop("class_weight", None)
    return {name: spec for name, spec in space.items() if name not in fixed}


def contains(spec, value) -> bool:
    if isinstance(spec, Choice):
        return value in spec.options
    if isinstance(spec, IntRange):
        return float(value).is_integer() and spec.low <= value <= spec.high
    return isinstance(value, (int, float)) and spec.low <= value <= spec.high


def default_trial(space: dict, model_args: ModelArguments, training_args, config) -> dict:
    """The values a `textcls train` run with the same flags uses for the searched parameters (a flag
    left unset takes the model config's default), where they lie inside the search space."""
    params = {}
    for name, spec in space.items():
        if name in MODEL_FLAGS:
            value = getattr(model_args, name)
            if name == "class_weight":
                value = value[0] if len(value) == 1 else None
            if value is None:
                value = getattr(config, name, None)
        else:
            value = getattr(training_args, name)
        if value is not None and contains(spec, value):
            params[name] = int(value) if isinstance(spec, IntRange) else value
    return params


def hopeless_trial_pruner(steps_per_epoch: int) -> optuna.pruners.BasePruner:
    """Stops a trial whose best score so far is in the bottom quarter of the finished trials' scores
    at the same step, once 5 trials have finished. Never in a trial's first epoch (steps are optimizer
    steps): a model with random embeddings trails pretrained vectors then and catches up later."""
    # optuna's percentile is the share kept: 75.0 keeps the top three quarters.
    return optuna.pruners.PercentilePruner(75.0, n_startup_trials=5, n_warmup_steps=steps_per_epoch + 1)


def suggest(trial: optuna.Trial, name: str, spec):
    if isinstance(spec, LogUniform):
        return trial.suggest_float(name, spec.low, spec.high, log=True)
    if isinstance(spec, Uniform):
        return trial.suggest_float(name, spec.low, spec.high)
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, spec.low, spec.high)
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, list(spec.options))
    raise TypeError(f"unknown search range {spec!r} for {name}")


def as_flags(params: dict) -> list[str]:
    """Trial parameters as command-line flags (floats in full: the final run trains with the trial's values)."""
    flags = []
    for name, value in params.items():
        flags += [f"--{name}", str(value)]
    return flags


def without_output_dir(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--output_dir":
            skip = True
        elif not arg.startswith("--output_dir="):
            kept.append(arg)
    return kept


# Evaluations without a better score after which a trial (not the first) stops, unless
# --early_stopping_patience is given: most trials peak early (TextCNN on movie-snippets at epoch 2 of
# 5-12, bench/notes.md "Tuning on validation"), so the rest of their epochs is budget that other trials can use.
TRIAL_PATIENCE = 2


class TrialEarlyStopping(EarlyStoppingCallback):
    """transformers' early stopping, restarted for each trial and only for the trials after the first.

    The first trial (the defaults) runs every epoch, as `textcls train` does, so that it scores what a
    plain run scores. A later trial that stopped early is retrained in full if it wins: the final run's
    validation score is then at least the trial's.
    """

    def __init__(self, patience: int):
        super().__init__(early_stopping_patience=patience)
        self.active = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.early_stopping_patience_counter = 0  # a new trial; the search saves no checkpoint to reload

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        if self.active:
            super().on_evaluate(args, state, control, metrics, **kwargs)


class TimeBudget(TrainerCallback):
    """Ends the running trial's training once the search's deadline has passed."""

    def __init__(self):
        self.deadline = math.inf

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() > self.deadline:
            control.should_training_stop = True
        return control


def tune(argv: list[str]) -> dict:
    n_trials, time_budget, train_argv = parse_tune_args(argv)
    model_args, data_args, run_args, training_args = parse_args(train_argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    output_dir = Path(training_args.output_dir)
    if (output_dir / TRIALS_FILE).exists() and not run_args.overwrite_output_dir:
        raise TextclsError(f"{output_dir} already holds a search: pass --overwrite_output_dir or another --output_dir.")
    output_dir.mkdir(parents=True, exist_ok=True)

    set_seed(training_args.seed)
    data = load_data(data_args)
    # Choosing never sees the test split: it is gone before anything is tokenized.
    data.dataset = datasets.DatasetDict({name: data.dataset[name] for name in ("train", "validation")})
    fit_settings_to_data(model_args, training_args, data)
    family = get_family(model_args.model_type)
    space = search_space(family, model_args.use_lora, data.problem_type, given_flags(train_argv))
    if not space:
        raise TextclsError("Every flag of the search space is fixed on the command line: nothing to tune.")
    max_seq_length = data_args.max_seq_length or family.max_seq_length
    tokenizer, model = build_model(family, model_args, data, max_seq_length)
    tokenized = tokenize_data(data.dataset, tokenizer, data_args, max_seq_length, model.config)
    defaults = default_trial(space, model_args, training_args, model.config)
    del model

    epoch_scores: list[float] = []  # validation scores of the running trial
    running: list[optuna.Trial] = []  # the running trial, for its evaluation count in trials.csv
    # With --early_stopping_patience every trial stops as `textcls train` would with it; without it,
    # the trials after the first stop after TRIAL_PATIENCE evaluations without a better score.
    patience = run_args.early_stopping_patience
    stopper = TrialEarlyStopping(patience or TRIAL_PATIENCE)

    def sample(trial) -> dict:
        # optuna returns the same value when a trial is asked for the same name again.
        return {name: suggest(trial, name, spec) for name, spec in space.items()}

    def model_init(trial):
        epoch_scores.clear()
        running[:] = [trial] if trial is not None else []
        stopper.active = trial is not None and (patience is not None or trial.number > 0)
        # Trainer.train builds the model before it samples the trial's training arguments
        # (`_hp_search_setup`), so trial.params is still empty here: sample every parameter now.
        params = sample(trial) if trial is not None else {}
        trial_args = dataclasses.replace(
            model_args,
            **{name: [value] if name == "class_weight" else value for name, value in params.items() if name in MODEL_FLAGS},
        )
        model = build_model(family, trial_args, data, max_seq_length)[1]
        # As in `textcls train` (seed, build the model, the Trainer seeds again): a trial and the winner's
        # final run draw the same random numbers, so the final run reproduces its trial's scores.
        set_seed(training_args.seed)
        return model

    search_args = dataclasses.replace(
        training_args,
        output_dir=str(output_dir / "trials"),
        save_strategy="no",
        load_best_model_at_end=False,
        push_to_hub=False,
    )

    def hp_space(trial):
        return {name: value for name, value in sample(trial).items() if name not in MODEL_FLAGS}

    metric = training_args.metric_for_best_model
    metric_key = metric if metric.startswith("eval_") else f"eval_{metric}"
    greater = training_args.greater_is_better

    def objective(metrics: dict) -> float:
        # A trial scores its best epoch, as the final run keeps its best checkpoint (load_best_model_at_end).
        if metric_key not in metrics:
            names = ", ".join(k[5:] for k in metrics if k.startswith("eval_"))
            raise TextclsError(f"--metric_for_best_model {metric} is not a validation metric; choose one of {names}.")
        epoch_scores.append(metrics[metric_key])
        for trial in running:
            trial.set_user_attr("evaluations", len(epoch_scores))
        return max(epoch_scores) if greater else min(epoch_scores)

    budget = TimeBudget()
    trainer = build_trainer(
        family, model_args, data_args, search_args, data, tokenizer, tokenized, model_init=model_init,
        callbacks=[budget, stopper],
    )
    batches_per_epoch = math.ceil(len(tokenized["train"]) / (search_args.train_batch_size * search_args.world_size))
    steps_per_epoch = max(1, batches_per_epoch // search_args.gradient_accumulation_steps)
    study_settings = dict(
        study_name="textcls-tune",
        storage=optuna.storages.InMemoryStorage(),
        direction="maximize" if greater else "minimize",
        sampler=optuna.samplers.TPESampler(seed=training_args.seed),
        pruner=hopeless_trial_pruner(steps_per_epoch),
    )
    # The study is made here rather than by hyperparameter_search so that the defaults go first.
    study = optuna.create_study(**study_settings)
    study.enqueue_trial(defaults)
    started = time.monotonic()
    budget.deadline = started + time_budget
    try:
        best = trainer.hyperparameter_search(
            hp_space=hp_space,
            compute_objective=objective,
            n_trials=n_trials,
            backend="optuna",
            timeout=time_budget,
            load_if_exists=True,
            **study_settings,
        )
    except ValueError as error:  # optuna: no trial completed
        raise TextclsError(f"No trial finished ({error}): raise --time_budget.") from error
    search_seconds = time.monotonic() - started
    if not any((output_dir / "trials").iterdir()):  # trials save nothing (save_strategy "no")
        (output_dir / "trials").rmdir()
    table = study.trials_dataframe(attrs=("number", "state", "value", "duration", "params", "user_attrs"))
    table["duration"] = table["duration"].dt.total_seconds()
    table.rename(columns={"duration": "seconds"}).to_csv(output_dir / TRIALS_FILE, index=False)

    final_argv = [*without_output_dir(train_argv), *as_flags(best.hyperparameters), "--output_dir", str(output_dir / "best")]
    command = "textcls train " + shlex.join(final_argv)
    (output_dir / COMMAND_FILE).write_text(command + "\n")
    print(f"Best of {len(study.trials)} trials (validation {metric} {best.objective:.4f}): {command}")

    metrics = run(final_argv)
    summary = dict(
        best_trial=int(best.run_id),
        best_validation=best.objective,
        metric_for_best_model=metric,
        best_params=best.hyperparameters,
        command=command,
        trials=len(study.trials),
        search_seconds=search_seconds,
        final_metrics=metrics,
    )
    (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
