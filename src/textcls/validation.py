"""Up-front checks: every bad flag value and every unusable label is one line, before anything is written.

torch, transformers and peft check many of these values too, but late (after the data is read and
the model built) and with tracebacks that do not name the flag; `check_arguments` runs right after
parsing. `check_labels` runs on every split as soon as the data is loaded, so that a bad test
split fails before training instead of after it. `framework_errors` is the boundary for what no
up-front check covers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .errors import DataError, TextclsError
from .long_text import check_long_text
from .models.sequence_classification import REGRESSION, SINGLE_LABEL
from .thresholds import check_threshold

# (flag, the test a value must pass, what a good value looks like); None means "not given" and passes.
_WHOLE_NUMBER_AT_LEAST_1 = (lambda v: v >= 1, "a whole number of at least 1")
_PROBABILITY = (lambda v: 0 <= v < 1, "a number from 0 up to (not including) 1")
_POSITIVE = (lambda v: math.isfinite(v) and v > 0, "a number greater than 0")
_MODEL_FLAGS = {
    "embedding_dim": _WHOLE_NUMBER_AT_LEAST_1,
    "num_filters": _WHOLE_NUMBER_AT_LEAST_1,
    "dropout": _PROBABILITY,
    "max_vocab_size": _WHOLE_NUMBER_AT_LEAST_1,
    "min_frequency": _WHOLE_NUMBER_AT_LEAST_1,
    "lora_r": _WHOLE_NUMBER_AT_LEAST_1,
    "lora_alpha": _POSITIVE,
    "lora_dropout": _PROBABILITY,
}
_DATA_FLAGS = {"max_seq_length": _WHOLE_NUMBER_AT_LEAST_1}
_RUN_FLAGS = {"early_stopping_patience": _WHOLE_NUMBER_AT_LEAST_1}
_INFERENCE_FLAGS = {"batch_size": _WHOLE_NUMBER_AT_LEAST_1, "max_seq_length": _WHOLE_NUMBER_AT_LEAST_1}
_TRAINING_FLAGS = {
    "per_device_train_batch_size": _WHOLE_NUMBER_AT_LEAST_1,
    "per_device_eval_batch_size": _WHOLE_NUMBER_AT_LEAST_1,
    "gradient_accumulation_steps": _WHOLE_NUMBER_AT_LEAST_1,
    "learning_rate": _POSITIVE,
    "num_train_epochs": (lambda v: math.isfinite(v) and v >= 0, "a number of epochs greater than 0"),
    "weight_decay": (lambda v: math.isfinite(v) and v >= 0, "a number of at least 0"),
    "label_smoothing_factor": _PROBABILITY,
    "max_grad_norm": (lambda v: math.isfinite(v) and v >= 0, "a number of at least 0 (0 turns clipping off)"),
    "logging_steps": _POSITIVE,
    "seed": (lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295"),
}


def _check_flags(values, rules: dict) -> None:
    for flag, (is_valid, expected) in rules.items():
        value = getattr(values, flag)
        if value is not None and not is_valid(value):
            raise TextclsError(f"--{flag} {value} is not valid: use {expected}.")


def argparse_error(message: str):
    """In place of argparse's `error`, which prints the full usage (hundreds of Trainer flags) before its line."""
    hint = " (write a negative number as --flag=-1)" if "expected one argument" in message else ""
    raise TextclsError(f"{message}{hint}: see --help for the flags and their values.")


def check_arguments(model_args, data_args, run_args, training_args) -> None:
    """Raise one line for the first flag whose value cannot work (or file that cannot be read), before any work."""
    _check_flags(model_args, _MODEL_FLAGS)
    for size in model_args.kernel_sizes or ():
        if size < 1:
            raise TextclsError(f"--kernel_sizes {size} is not valid: use widths of at least 1, e.g. 3 4 5.")
    if model_args.use_dora and not model_args.use_lora:
        raise TextclsError("--use_dora trains LoRA adapters of another kind: add --use_lora, or drop --use_dora.")
    _check_flags(data_args, _DATA_FLAGS)
    for flag in ("train_file", "validation_file", "test_file", "dataset"):
        path = getattr(data_args, flag)
        if path and os.path.isfile(path) and not os.access(path, os.R_OK):
            raise DataError(f"--{flag} {path} cannot be read: no read permission; fix it with chmod u+r.")
    _check_flags(run_args, _RUN_FLAGS)
    _check_flags(training_args, _TRAINING_FLAGS)
    # The Trainer counts --max_steps only when it is > 0; its default is -1, so 0 was typed on purpose.
    if training_args.max_steps == 0:
        raise TextclsError("--max_steps 0 trains for zero steps: give --max_steps > 0, or leave it out to train by epochs.")
    if training_args.max_steps < 0 and training_args.num_train_epochs == 0:
        raise TextclsError(
            "--num_train_epochs 0 trains for zero steps: give --num_train_epochs > 0 (or --max_steps > 0)."
        )


def check_inference_arguments(args) -> None:
    """`textcls predict` / `evaluate` flags, before the model is loaded."""
    _check_flags(args, _INFERENCE_FLAGS)
    check_threshold(args.multi_label_threshold)
    check_long_text(args.long_text or "truncate", args.chunk_stride)


def check_labels(data) -> None:
    """Labels every split must have before training: at least two classes, finite regression targets."""
    if data.problem_type == SINGLE_LABEL and data.num_labels < 2:
        only = f" ({data.label_names[0]!r})" if data.label_names else ""
        raise DataError(
            f"the labels have only one class{only}: classification needs at least two classes "
            "(for numeric targets, use float labels: regression)"
        )
    if data.problem_type != REGRESSION:
        return
    for split, rows in data.dataset.items():
        labels = np.asarray(rows.with_format("arrow")[:].column("label").to_numpy(), dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(labels))
        if len(bad):
            raise DataError(
                f"the {split} split has {len(bad)} regression label(s) that are not finite numbers "
                f"(e.g. {labels[bad[0]]}); regression targets must be finite numbers, e.g. 0.5"
            )


@contextmanager
def framework_errors(stage: str) -> Iterator[None]:
    """Turn a ValueError / AssertionError from torch, transformers or peft while `stage` into one line.

    The up-front checks above cover our flags; this catches the combinations only the frameworks
    know about (the full traceback stays available with --debug).
    """
    try:
        yield
    except TextclsError:
        raise
    except (ValueError, AssertionError) as error:
        message = " ".join(str(error).split())[:200] or type(error).__name__
        raise TextclsError(f"Cannot {stage} with these flags: {message}") from error
