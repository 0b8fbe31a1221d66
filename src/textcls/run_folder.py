"""The output folder of a training run: one run at a time, a safe --overwrite_output_dir, resume.

The recipe (training.py `run`) uses this module in two steps:
  1. `check_output_dir`, before any work and read-only: the folder can be written, it holds no
     finished run (unless --overwrite_output_dir), and a folder to overwrite looks like a run.
  2. `claim_output_dir`, once the arguments, every data split and the model have been checked:
     lock the folder (`filelock`; one run per folder), remove the previous run's files on
     --overwrite_output_dir, or pick the newest complete checkpoint and check that it was written
     by the same settings and data.
--overwrite_output_dir removes only what a textcls run writes (`previous_run_outputs`), never a
file this run reads, and never anything in a folder that does not look like a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock, Timeout
from transformers.trainer import TRAINER_STATE_NAME, TRAINING_ARGS_NAME
from transformers.utils import (
    CONFIG_NAME,
    GENERATION_CONFIG_NAME,
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
)

from . import models
from .errors import TextclsError

logger = logging.getLogger(__name__)

LOCK_FILE = "_textcls.lock"  # flock'ed while a run uses the folder; the `_` keeps it out of a Hub push
HOLDER_FILE = "_textcls.lock.json"  # who holds the lock (pid, host, start); a separate file, as the lock file is truncated
RUN_FILE = "_textcls_run.json"  # what a resumed run must match: model flags, labels, a hash of the data
FINISHED_MARKER = "all_results.json"  # written last by `run`: the run is finished
CHECKPOINT_NAME = re.compile(r"checkpoint-\d+")

# Everything a textcls run writes into its output_dir, and nothing else: the final model
# (`save_final_model`: weights, config, tokenizer, the custom modelling code, `adapter/`), the
# Trainer's `checkpoint-*`, `run`'s json files, card and plot, and `textcls evaluate`'s results.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "vocab.txt", "merges.txt", "tokenizer.model", "chat_template.jinja",
)
# `save_pretrained` copies the modules of a model with custom code (auto_map) next to its weights.
MODEL_CODE_FILES = tuple(sorted(p.name for p in Path(models.__file__).parent.glob("*.py") if p.name != "__init__.py"))
RUN_FILE_PATTERNS = (
    CONFIG_NAME, GENERATION_CONFIG_NAME, SAFE_WEIGHTS_NAME, "model-*-of-*.safetensors", SAFE_WEIGHTS_INDEX_NAME,
    TRAINING_ARGS_NAME, *TOKENIZER_FILES, *MODEL_CODE_FILES, "training_args.json", "training_config.json",
    "*_results.json", "confusion_matrix.png", "*_confusion_matrix.png", RUN_FILE,
)
STAGING_FOLDER = "_final.tmp"  # `save_final_model` writes here first
MODEL_CARD = "README.md"  # removed only when it is our card
MODEL_CARD_MARK = "trained with textcls"  # a phrase of templates/model_card.md


def check_output_dir(output_dir: Path, overwrite: bool) -> None:
    """Read-only checks, before any work: one line if `output_dir` cannot or may not be used."""
    check_writable_folder(output_dir, "--output_dir")
    if not output_dir.is_dir():
        return
    if overwrite:
        if not holds_a_run(output_dir) and any(p.name not in (LOCK_FILE, HOLDER_FILE) for p in output_dir.iterdir()):
            raise TextclsError(
                f"--overwrite_output_dir refused: {output_dir} does not look like a textcls run (no checkpoint-*, "
                "training_config.json or all_results.json) and nothing in it is removed; choose a new or empty --output_dir."
            )
    elif (output_dir / FINISHED_MARKER).exists():
        raise TextclsError(
            f"{output_dir} already holds a finished run: pass --overwrite_output_dir or another --output_dir."
        )


def check_writable_folder(folder: Path, flag: str) -> None:
    """`folder` is a folder we can write in, or can be created: one line naming the path if not."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise TextclsError(f"{flag} {folder} {what}; it must be a folder (or a path where one can be made).")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TextclsError(f"{flag} {folder} cannot be written: no write permission on {existing}.")


def check_writable_file(path: Path, flag: str) -> None:
    """`path` can be written as a file, in a folder that exists: checked before any (slow) work."""
    if path.is_dir():
        raise TextclsError(f"{flag} {path} is a folder; give a file name, e.g. {path / 'predictions.csv'}.")
    folder = path.parent
    if not folder.is_dir():
        raise TextclsError(f"{flag} {path}: the folder {folder} does not exist; create it first or write elsewhere.")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise TextclsError(f"{flag} {path} cannot be written: no write permission.")


def holds_a_run(folder: Path) -> bool:
    """A textcls run (finished or not) has written into `folder`."""
    markers = (RUN_FILE, "training_config.json", FINISHED_MARKER)
    return any((folder / name).exists() for name in markers) or bool(_checkpoints(folder))


def previous_run_outputs(folder: Path) -> list[Path]:
    """The files and folders in `folder` that a textcls run writes (see RUN_FILE_PATTERNS)."""
    found = {path for pattern in RUN_FILE_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    found.update(_checkpoints(folder))
    if (folder / "adapter" / "adapter_config.json").is_file():
        found.add(folder / "adapter")
    if (folder / STAGING_FOLDER).is_dir():
        found.add(folder / STAGING_FOLDER)
    card = folder / MODEL_CARD
    if card.is_file() and MODEL_CARD_MARK in card.read_text(encoding="utf-8", errors="replace"):
        found.add(card)
    return sorted(found)


def remove_previous_run(folder: Path, inputs: Iterable[str | None]) -> None:
    """Remove the previous run's outputs from `folder`, except anything this run reads (`inputs`)."""
    read = [Path(p).resolve() for p in inputs if p and Path(p).exists()]
    here = folder.resolve()
    removed = 0
    for path in previous_run_outputs(folder):
        target = path.resolve()
        # An input is kept when it is this path, lies inside it, or is a folder within output_dir holding it
        # (e.g. --model_name_or_path pointing at the run being overwritten).
        if any(
            target == p or p.is_relative_to(target) or (p.is_dir() and p.is_relative_to(here) and target.is_relative_to(p))
            for p in read
        ):
            logger.warning("--overwrite_output_dir: keeping %s, which this run reads.", path)
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        removed += 1
    logger.info("--overwrite_output_dir: removed %d files and folders of the previous run in %s", removed, folder)


def _checkpoints(folder: Path) -> list[Path]:
    """The Trainer's checkpoint-N folders, oldest (lowest N) first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and CHECKPOINT_NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _is_complete(checkpoint: Path) -> bool:
    """The Trainer writes trainer_state.json last (after weights, optimizer, scheduler, RNG states)."""
    try:
        json.loads((checkpoint / TRAINER_STATE_NAME).read_text())
    except (OSError, ValueError):
        return False
    return True


def newest_complete_checkpoint(folder: Path) -> Path | None:
    """The checkpoint to resume from; unfinished ones (an interrupted save) are named and left in place."""
    unfinished = []
    for checkpoint in reversed(_checkpoints(folder)):
        if _is_complete(checkpoint):
            if unfinished:
                logger.warning(
                    "Skipping %s: the Trainer did not finish writing it (no valid %s); it is left in place. "
                    "Resuming from %s.", ", ".join(unfinished), TRAINER_STATE_NAME, checkpoint.name,
                )
            logger.info("Resuming from %s", checkpoint)
            return checkpoint
        unfinished.append(checkpoint.name)
    if unfinished:
        logger.warning("No complete checkpoint in %s (%s unfinished, left in place): starting from the beginning.",
                       folder, ", ".join(unfinished))
    return None


# ----------------------------------------------------------------------------------------------
# One run per folder


def _describe_holder(holder_file: Path) -> str:
    try:
        holder = json.loads(holder_file.read_text())
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"


@contextmanager
def output_dir_lock(folder: Path) -> Iterator[None]:
    """Hold `folder` for this run; a second run is refused with one line naming the holder.

    The lock is an flock (filelock), which the kernel releases when its holder dies, even by
    kill -9: a later run takes it over; the dead holder's `HOLDER_FILE` is then still there.
    """
    holder_file = folder / HOLDER_FILE
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise TextclsError(
            f"--output_dir {folder} is in use by another textcls run ({_describe_holder(holder_file)}): "
            "wait for it to end, or choose another --output_dir."
        ) from None
    try:
        if holder_file.exists():
            logger.warning("Taking over %s from a run that ended without releasing it (%s).",
                           folder, _describe_holder(holder_file))
        holder = dict(pid=os.getpid(), host=socket.gethostname(), started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      command=" ".join(sys.argv))
        holder_file.write_text(json.dumps(holder) + "\n")
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


# ----------------------------------------------------------------------------------------------
# What a resumed run must match

# Model flags that change neither the weights' shapes nor their meaning.
RESUME_INDIFFERENT_FLAGS = ("attn_implementation", "ignore_mismatched_sizes")
# Flags that run files began to record later, with the value every run before them had.
FLAGS_RECORDED_LATER = {"chunk_weighting": "window"}


def run_fingerprint(model_args, data_args, data, max_seq_length: int) -> dict:
    """What decides a checkpoint's shapes and meaning: model flags, labels, the train/validation data
    (the word-level families build their vocabulary from it) and how long texts are read and weighed
    (windows are the training examples, so they fix what a step and an epoch are)."""
    digest = hashlib.sha256()
    for split in ("train", "validation"):
        if split in data.dataset:
            table = data.dataset[split].with_format("arrow")[:]  # with any row selection applied
            digest.update(json.dumps([split, table.column("text").to_pylist(), table.column("label").to_pylist()]).encode())
    flags = {k: v for k, v in asdict(model_args).items() if k not in RESUME_INDIFFERENT_FLAGS}
    long_text = dict(
        long_text=data_args.long_text, chunk_stride=data_args.chunk_stride, chunk_weighting=data_args.chunk_weighting
    )
    return dict(model=flags, long_text=long_text,
                max_seq_length=max_seq_length, problem_type=data.problem_type, labels=data.label_names,
                data=digest.hexdigest())


def _changes(old: dict, new: dict) -> list[str]:
    def short(value) -> str:
        text = str(value)
        return text if len(text) <= 30 else text[:27] + "..."

    changes = []
    for group in ("model", "long_text"):
        if group not in old:
            continue  # recorded before textcls kept it
        for k, v in new[group].items():
            recorded = k in old[group]
            was = old[group][k] if recorded else FLAGS_RECORDED_LATER.get(k)
            if was != v:  # an assumed value is said to be one: the run file cannot tell
                assumed = "" if recorded or k not in FLAGS_RECORDED_LATER else " (this run predates the flag)"
                changes.append(f"--{k} was {short(was)}{assumed}, now {short(v)}")
    if old.get("max_seq_length") != new["max_seq_length"]:
        changes.append(f"--max_seq_length was {old.get('max_seq_length')}, now {new['max_seq_length']}")
    if (old.get("problem_type"), old.get("labels")) != (new["problem_type"], new["labels"]):
        changes.append("the labels changed")
    if old.get("data") != new["data"]:
        changes.append("the training or validation data changed")
    return changes


def check_resume_matches(folder: Path, checkpoint: Path, fingerprint: dict) -> None:
    """Refuse to resume from a checkpoint written with other settings or data: one line saying what changed."""
    try:
        old = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError):
        return  # written before textcls recorded this: nothing to compare
    changes = _changes(old, fingerprint)
    if changes:
        raise TextclsError(
            f"Cannot resume from {checkpoint}: {'; '.join(changes[:3])}. Pass --overwrite_output_dir to start "
            "again, or choose another --output_dir."
        )


def claim_output_dir(
    folder: Path, overwrite: bool, fingerprint: dict, inputs: Iterable[str | None], held: ExitStack, is_main: bool
) -> str | None:
    """Take `folder` for this run, once everything else is checked; return the checkpoint to resume from.

    The main process locks the folder until `held` closes and alone removes or writes files; the
    other ranks (which call this after it) only read.
    """
    if is_main:
        folder.mkdir(parents=True, exist_ok=True)
        held.enter_context(output_dir_lock(folder))
        check_output_dir(folder, overwrite)  # again, under the lock: another run may have finished meanwhile
        if overwrite:
            remove_previous_run(folder, inputs)
    checkpoint = None if overwrite else newest_complete_checkpoint(folder)
    if checkpoint is not None:
        check_resume_matches(folder, checkpoint, fingerprint)
    if is_main:
        (folder / RUN_FILE).write_text(json.dumps(fingerprint, indent=2) + "\n")
    return str(checkpoint) if checkpoint else None
