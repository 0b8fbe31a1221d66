"""The recipe's command-line arguments: the model, data and run dataclasses next to `TrainingArguments`.

`parse_args` gives every flag its family's default (textcls.families) under whatever the command
line says, and checks every value before anything is read or written (textcls.validation).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from transformers import (
    HfArgumentParser,
    TrainingArguments,
)

from .class_weights import CLASS_WEIGHT_MODES, parse_class_weight
from .data import (
    BUILTIN_DATASETS,
)
from .embeddings import PRETRAINED_EMBEDDINGS
from .errors import TextclsError
from .families import FAMILIES
from .long_text import (
    CHUNK_WEIGHTINGS,
    LONG_TEXT_MODES,
    check_long_text,
)
from .models.sequence_classification import (
    MULTI_LABEL,
    REGRESSION,
)
from .models.word_embedding import EMBEDDING_MODES
from .precision import (
    DTYPE_CHOICES,
    check_options,
)
from .thresholds import check_threshold
from .tokenization import TOKENIZER_LEVELS
from .validation import argparse_error, check_arguments

# Trainer settings for every family (each family adds its own, textcls.families); any flag on the command line wins.
COMMON_TRAINING_DEFAULTS = dict(
    eval_strategy="epoch",
    save_strategy="epoch",
    save_total_limit=2,
    load_best_model_at_end=True,
    # Select on accuracy, not loss: a CNN's validation loss turns up (over-confidence) epochs before
    # its accuracy stops improving (bench/RESULTS.md). Replaced per problem type in `run`.
    metric_for_best_model="accuracy",
    logging_steps=50,
    report_to="none",
    # Length-grouped batches + dynamic padding: padding, not tokens, is most of the cost otherwise.
    train_sampling_strategy="group_by_length",
    per_device_eval_batch_size=128,
    seed=42,
    dataloader_pin_memory=torch.cuda.is_available(),  # pinning without a GPU only warns
    ddp_find_unused_parameters=False,  # every family uses all its trainable weights in every step
)
# With --gradient_checkpointing: non-reentrant checkpoints, which need no input gradients to reach LoRA
# adapters and recompute cleanly under DDP. (transformers 5.x renamed the field; the old name only warns.)
_CHECKPOINTING_KWARGS = next(
    name for name in ("activation_checkpointing_kwargs", "gradient_checkpointing_kwargs")
    if name in {f.name for f in fields(TrainingArguments)}
)
COMMON_TRAINING_DEFAULTS[_CHECKPOINTING_KWARGS] = {"use_reentrant": False}
# What "best" means when `--metric_for_best_model` is left at its classification default.
BEST_MODEL_METRIC = {MULTI_LABEL: "f1_micro", REGRESSION: "loss"}


@dataclass
class ModelArguments:
    model_type: str = field(default="textcnn", metadata={"help": f"One of {', '.join(FAMILIES)}."})
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "llama: a local Llama checkpoint, a Hub id or the builtin 'smollm2-135m' (default). "
            "auto: any sequence-classification checkpoint (folder or Hub id) or the builtin 'minilm-l6' (default). "
            "word-level families (textcnn, dpcnn, fasttext, textrnn): a textcls checkpoint to continue from "
            "(default: a new model and tokenizer)."
        },
    )
    gguf_file: str | None = field(default=None, metadata={"help": "A GGUF file inside model_name_or_path."})
    embedding_mode: str = field(
        default="rand", metadata={"help": f"Word-level families: {', '.join(EMBEDDING_MODES)}."}
    )
    pretrained_embeddings: str | None = field(
        default=None, metadata={"help": "Word vectors for the word-level families, e.g. 'glove-6b-50d'."}
    )
    embedding_dim: int | None = field(
        default=None, metadata={"help": "Word vector size (default 128; fasttext 100; the vectors' size with them)."}
    )
    num_filters: int | None = field(default=None, metadata={"help": "CNN filters per width (TextCNN) / channels."})
    kernel_sizes: list[int] | None = field(default=None, metadata={"help": "TextCNN widths (default 3 4 5)."})
    dropout: float | None = field(
        default=None, metadata={"help": "Dropout before the head (default 0.5; fasttext 0)."}
    )
    ngram: int | None = field(default=None, metadata={"help": "fasttext: longest hashed word n-gram (default 2)."})
    num_buckets: int | None = field(default=None, metadata={"help": "fasttext: size of the n-gram table (2**16)."})
    hidden_size: int | None = field(
        default=None, metadata={"help": "fasttext: hidden layer width (default 0: none); textrnn: state size per direction (128)."}
    )
    cell: str | None = field(default=None, metadata={"help": "textrnn: lstm (default) or gru."})
    num_layers: int | None = field(default=None, metadata={"help": "textrnn: stacked recurrent layers (default 1)."})
    pooling: str | None = field(default=None, metadata={"help": "textrnn: last (default), max or attention; llama: last (default) or mean."})
    prompt_suffix: str | None = field(
        default=None,
        metadata={
            "help": "llama: words that end every input (each window), kept in the saved tokenizer, so the pooled last "
            "token reads the text as a prompt for its class; '' for none. Newlines from a shell: $'\\n\\nTopic:'."
        },
    )
    tokenizer_level: str = field(
        default="word", metadata={"help": "Word-level families: word (default) or char tokens."}
    )
    max_vocab_size: int | None = field(default=50000, metadata={"help": "Word-level tokenizer vocabulary cap."})
    min_frequency: int = field(default=1, metadata={"help": "Word-level tokenizer: minimum count of a token."})
    lowercase: bool = field(default=True, metadata={"help": "Word-level tokenizer: lower-case texts."})
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (peft) instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (llama: 16)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator: adapters scale by alpha / r."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA adapters' input."})
    use_dora: bool = field(
        default=False,
        metadata={"help": "With --use_lora: weight-decomposed adapters (DoRA, peft): each adapted weight's direction "
                  "learns through the low-rank update, its per-row magnitude as a vector of its own."},
    )
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Module names (or one regex) to adapt; default per family."}
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the new classification head (default: --learning_rate; llama LoRA: 1e-3)."},
    )
    torch_dtype: str = field(
        default="auto",
        metadata={
            "help": f"llama: dtype of the frozen/trained backbone weights, one of {', '.join(DTYPE_CHOICES)}. auto: "
            "bfloat16 on a GPU that has it with LoRA, else float32. Adapters and head train in float32."
        },
    )
    load_in_4bit: bool = field(
        default=False, metadata={"help": "llama + --use_lora: 4-bit NF4 backbone (QLoRA; bitsandbytes, CUDA GPU)."}
    )
    load_in_8bit: bool = field(
        default=False, metadata={"help": "llama + --use_lora: 8-bit backbone (LLM.int8; bitsandbytes, CUDA GPU)."}
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "llama: sdpa, eager or flash_attention_2 (flash-attn package, CUDA GPU)."}
    )
    ignore_mismatched_sizes: bool = field(
        default=False, metadata={"help": "Re-initialise a checkpoint's head when its num_labels does not fit the data."}
    )
    class_weight: list[str] = field(
        default_factory=lambda: ["none"],
        metadata={"help": f"Loss weights per label: {', '.join(CLASS_WEIGHT_MODES)}, or one number per label."},
    )
    multi_label_threshold: float | None = field(
        default=None,
        metadata={"help": "Multi-label: one probability threshold for all labels (default: tuned on validation)."},
    )

    def __post_init__(self):
        # Checked here so that a typo fails before any data is read or model built.
        if self.embedding_mode not in EMBEDDING_MODES:
            raise TextclsError(
                f"Unknown --embedding_mode {self.embedding_mode!r}; choose one of {', '.join(EMBEDDING_MODES)}."
            )
        if self.pretrained_embeddings is not None and self.pretrained_embeddings not in PRETRAINED_EMBEDDINGS:
            raise TextclsError(
                f"Unknown --pretrained_embeddings {self.pretrained_embeddings!r}; "
                f"choose one of {', '.join(PRETRAINED_EMBEDDINGS)}."
            )
        if self.tokenizer_level not in TOKENIZER_LEVELS:
            raise TextclsError(
                f"Unknown --tokenizer_level {self.tokenizer_level!r}; choose one of {', '.join(TOKENIZER_LEVELS)}."
            )
        if self.model_type in FAMILIES:  # an unknown one is reported by parse_args
            check_options(self, pretrained_family=FAMILIES[self.model_type].pretrained)
            if self.prompt_suffix and not FAMILIES[self.model_type].takes_prompt_suffix:
                raise TextclsError(
                    f"--prompt_suffix applies to llama (a decoder that pools its last token), not {self.model_type}."
                )
        parse_class_weight(self.class_weight)
        check_threshold(self.multi_label_threshold)


@dataclass
class DataArguments:
    dataset: str | None = field(
        default=None,
        metadata={
            "help": f"A builtin corpus ({', '.join(BUILTIN_DATASETS)}), a save_to_disk folder, a data file, "
            "or a Hub dataset name. Default: movie-snippets, unless --train_file is given."
        },
    )
    dataset_config_name: str | None = field(default=None)
    train_file: str | None = field(default=None, metadata={"help": "csv, tsv, json, jsonl or parquet."})
    validation_file: str | None = field(default=None)
    test_file: str | None = field(default=None)
    text_column: list[str] = field(default_factory=lambda: ["text"], metadata={"help": "One or more, joined."})
    label_column: str = field(default="label")
    max_seq_length: int | None = field(default=None, metadata={"help": "Tokens kept per text (default per family)."})
    validation_split_percentage: int = field(default=10)
    max_train_samples: int | None = field(default=None)
    max_eval_samples: int | None = field(default=None)
    max_test_samples: int | None = field(default=None)
    long_text: str = field(
        default="truncate",
        metadata={"help": f"Texts over --max_seq_length: {' or '.join(LONG_TEXT_MODES)} (windows, logits averaged)."},
    )
    chunk_stride: int | None = field(
        default=None, metadata={"help": "--long_text chunk: tokens shared by consecutive windows (default a quarter)."}
    )
    chunk_weighting: str = field(
        default="window",
        metadata={"help": f"--long_text chunk: what counts once in the training loss, {' or '.join(CHUNK_WEIGHTINGS)} "
                  "(a text's windows share its weight)."},
    )
    padding_free: bool = field(
        default=False,
        metadata={"help": "llama: pack each batch's texts end to end in one row, no padding (pays with "
                  "flash_attention_2 on a GPU; see README)."},
    )

    def __post_init__(self):
        check_long_text(self.long_text, self.chunk_stride, self.chunk_weighting)


@dataclass
class RunArguments:
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Stop after this many evaluations without improvement."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start afresh in an output_dir that holds a finished or unfinished run (its files are "
                  "removed once the arguments, data and model are checked; see README 'When things go wrong')."},
    )


def parse_args(
    argv: list[str] | None = None,
) -> tuple[ModelArguments, DataArguments, RunArguments, TrainingArguments]:
    """Parse model, data and every `TrainingArguments` flag, with defaults that depend on the family."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # First pass: the family (and LoRA, dataset) decide the defaults of the second.
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.error = argparse_error
    pre.add_argument("--model_type", default="textcnn")
    pre.add_argument("--use_lora", nargs="?", const="true", default="false")
    pre.add_argument("--dataset", default=None)
    pre.add_argument("--train_file", default=None)
    pre.add_argument("--embedding_mode", default="rand")
    pre.add_argument("--pretrained_embeddings", default=None)
    known, _ = pre.parse_known_args(argv)
    family = FAMILIES.get(known.model_type)
    if family is None:
        raise TextclsError(f"Unknown --model_type {known.model_type!r}; choose one of {', '.join(FAMILIES)}.")
    defaults = {**COMMON_TRAINING_DEFAULTS, **family.training_defaults}
    if known.use_lora.lower() in ("true", "1", "yes"):
        defaults.update(family.lora_training_defaults)
    if known.embedding_mode != "rand" or known.pretrained_embeddings:
        defaults.update(family.vector_training_defaults)
    data_name = known.dataset or (Path(known.train_file).stem if known.train_file else "movie-snippets")
    defaults["output_dir"] = os.path.join("runs", f"{known.model_type}-{Path(data_name).name}")

    # No abbreviations: a misspelt flag must be an error, not silently another flag.
    parser = HfArgumentParser((ModelArguments, DataArguments, RunArguments, TrainingArguments), allow_abbrev=False)
    parser.set_defaults(**defaults)
    parser.error = argparse_error
    try:
        model_args, data_args, run_args, training_args, unknown = parser.parse_args_into_dataclasses(
            args=argv, return_remaining_strings=True
        )
    except TextclsError:
        raise
    except ValueError as error:  # TrainingArguments' own checks, e.g. strategies that do not fit together
        raise TextclsError(f"Invalid arguments: {str(error).strip().splitlines()[0]}") from error
    if unknown:
        raise TextclsError(f"Unknown argument(s) {' '.join(unknown)}: see --help for the flags that exist.")
    if data_args.dataset is None and data_args.train_file is None:
        data_args.dataset = "movie-snippets"
    check_arguments(model_args, data_args, run_args, training_args)
    if data_args.padding_free and not family.reads_packed_batches:
        raise TextclsError(
            f"--padding_free packs a batch's texts into one row, which only llama pools text by text; not {known.model_type}."
        )
    if parse_class_weight(model_args.class_weight) != "none" and training_args.label_smoothing_factor:
        raise TextclsError("--class_weight and --label_smoothing_factor cannot be combined: choose one.")
    return model_args, data_args, run_args, training_args
