"""Checks that turn a checkpoint that cannot be loaded into one clear line.

transformers reports a missing config, a truncated weights file or a checkpoint of the wrong
architecture with long tracebacks from deep inside the loader; these say which folder is wrong and
what to do about it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CheckpointError


def check_checkpoint_folder(path: str, gguf_file: str | None = None) -> None:
    """A local folder must hold a config and weights, or the named GGUF file (a Hub id is left to transformers)."""
    folder = Path(path)
    if not folder.exists():
        return
    if gguf_file is not None:
        if not (folder / gguf_file).is_file():
            raise CheckpointError(f"{path} has no GGUF file {gguf_file}: check --gguf_file.")
        return
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            f"{path} has no config.json: it is not a finished checkpoint (an interrupted save, or the wrong folder)."
        )
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise CheckpointError(f"{path} has a config.json but no weights (model.safetensors): re-save the model.")


# Any one of these lets AutoTokenizer load a tokenizer from a folder.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model")


def check_tokenizer_files(path: str) -> None:
    """A local model folder without tokenizer files: one line, not the loader's guess about sentencepiece."""
    folder = Path(path)
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise CheckpointError(
            f"{path} has no tokenizer files (tokenizer.json, tokenizer_config.json): save the tokenizer into the "
            "model folder too (tokenizer.save_pretrained)."
        )


@contextmanager
def checkpoint_errors(path: str, gguf_file: str | None = None) -> Iterator[None]:
    """Re-raise loader failures for the checkpoint at `path` as one-line `CheckpointError`s."""
    check_checkpoint_folder(path, gguf_file)
    try:
        yield
    except OSError as error:  # a missing file, or a Hub id that cannot be reached
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"Cannot load the checkpoint {path}: {first_line}") from error
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if type(error).__name__ == "SafetensorError":
            raise CheckpointError(
                f"{path}: the weights file is truncated or corrupt ({message}); re-save or re-download the model."
            ) from error
        if "not a Llama-architecture" in message:
            raise CheckpointError(message) from error
        raise


def check_checkpoint_labels(path: str, num_labels: int, ignore_mismatched_sizes: bool) -> None:
    """A classifier checkpoint whose head does not fit the data is an error unless asked to re-initialise."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        return  # a Hub id: transformers reports its own problems
    config = json.loads(config_file.read_text())
    checkpoint_labels = len(config["id2label"]) if "id2label" in config else config.get("num_labels")
    if checkpoint_labels not in (None, num_labels) and not ignore_mismatched_sizes:
        raise CheckpointError(
            f"{path} has a head for {checkpoint_labels} labels but the data has {num_labels}: "
            "pass --ignore_mismatched_sizes to re-initialise the head."
        )
