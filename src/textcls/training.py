"""The fine-tuning recipe: arguments, model construction per family, LoRA, and the Trainer.

`run(argv)` is what `recipes/finetune.py` and `textcls train` call. It reads top to bottom:
parse arguments -> load data -> build tokenizer and model (+ LoRA) -> tokenize -> Trainer.train
-> evaluate / test -> write the final checkpoint, metrics, model card and confusion matrix.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    HfArgumentParser,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from .class_weights import CLASS_WEIGHT_MODES, compute_class_weights, parse_class_weight
from .data import BUILTIN_DATASETS, TextClassificationData, load_text_classification_data
from .embeddings import PRETRAINED_EMBEDDINGS
from .errors import TextclsError, TrainingInterrupted
from .families import FAMILIES, Family, get_family
from .long_text import (
    LONG_TEXT_MODES,
    WINDOW_DOCUMENT,
    WindowCollator,
    check_long_text,
    document_prediction_step,
    record_long_text,
    tokenize_chunked_splits,
    window_stride,
)
from .metrics import build_compute_metrics
from .model_card import write_model_card
from .models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL, sequence_classification_loss
from .models.word_embedding import EMBEDDING_MODES
from .reporting import format_metrics_table, save_confusion_matrix
from .run_folder import check_output_dir, claim_output_dir, run_fingerprint
from .tokenization import TOKENIZER_LEVELS
from .validation import argparse_error, check_arguments, check_labels, framework_errors
from .precision import (
    DTYPE_CHOICES,
    check_options,
    keep_trainable_in_float32,
    merge_lora,
    prepare_for_lora,
    resolve_dtype,
)
from .thresholds import check_threshold, logit_thresholds, thresholds_for_run

logger = logging.getLogger(__name__)

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
            "textcnn/dpcnn: a textcls checkpoint to continue from (default: a new model and tokenizer)."
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
    pooling: str | None = field(default=None, metadata={"help": "textrnn: last (default), max or attention."})
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

    def __post_init__(self):
        check_long_text(self.long_text, self.chunk_stride)


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
    if parse_class_weight(model_args.class_weight) != "none" and training_args.label_smoothing_factor:
        raise TextclsError("--class_weight and --label_smoothing_factor cannot be combined: choose one.")
    return model_args, data_args, run_args, training_args


# ----------------------------------------------------------------------------------------------
# Data


def load_data(data_args: DataArguments) -> TextClassificationData:
    return load_text_classification_data(
        dataset=data_args.dataset,
        dataset_config_name=data_args.dataset_config_name,
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        text_columns=data_args.text_column,
        label_column=data_args.label_column,
        validation_split_percentage=data_args.validation_split_percentage,
        max_train_samples=data_args.max_train_samples,
        max_eval_samples=data_args.max_eval_samples,
        max_test_samples=data_args.max_test_samples,
    )


def fit_settings_to_data(model_args: ModelArguments, training_args: TrainingArguments, data: TextClassificationData):
    """Settings that depend on the problem type: what "best" means, and flags that need multi-label data."""
    if training_args.metric_for_best_model == "accuracy" and data.problem_type in BEST_MODEL_METRIC:
        training_args.metric_for_best_model = BEST_MODEL_METRIC[data.problem_type]
        training_args.greater_is_better = data.problem_type != REGRESSION
    if model_args.multi_label_threshold is not None and data.problem_type != MULTI_LABEL:
        raise TextclsError("--multi_label_threshold applies to multi-label data only (labels that are lists).")


def tokenize_data(
    dataset: datasets.DatasetDict, tokenizer, data_args: DataArguments, max_seq_length: int, config
) -> datasets.DatasetDict:
    """Truncated texts, or with `--long_text chunk` overlapping windows (recorded in `config`)."""
    if data_args.long_text == "chunk":  # textcls.long_text
        stride = window_stride(tokenizer, max_seq_length, data_args.chunk_stride)
        record_long_text(config, data_args.long_text, max_seq_length, stride)
        return tokenize_chunked_splits(dataset, tokenizer, max_seq_length, stride)
    return tokenize_splits(dataset, tokenizer, max_seq_length)


def build_data_collator(data_args: DataArguments, tokenizer):
    return WindowCollator(tokenizer) if data_args.long_text == "chunk" else DataCollatorWithPadding(tokenizer)


def tokenize_splits(
    dataset: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase, max_seq_length: int
) -> datasets.DatasetDict:
    """Text -> `input_ids`, `attention_mask`, `length` (for length-grouped batches); no padding here."""

    def tokenize(batch):
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_seq_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(tokenize, batched=True, remove_columns=["text"], desc="Tokenizing")


# ----------------------------------------------------------------------------------------------
# Model and LoRA


def build_model(
    family: Family,
    model_args: ModelArguments,
    data: TextClassificationData,
    max_seq_length: int,
    gradient_checkpointing: bool = False,
):
    """Tokenizer and model of the family, with `--class_weight` in the config and LoRA adapters if asked."""
    tokenizer, model = family.build(family, model_args, data, max_seq_length)
    model.config.class_weights = compute_class_weights(
        parse_class_weight(model_args.class_weight), data.dataset["train"]["label"], data.problem_type, data.num_labels
    )
    if model_args.use_lora:
        model = apply_lora(model, model_args, gradient_checkpointing=gradient_checkpointing)
        model.print_trainable_parameters()
    return tokenizer, model


def head_modules(model) -> list[str]:
    """The classifier's modules outside its base model: the head, new for a pretrained base, trained in full.

    peft's SEQ_CLS task trains and saves only modules named `classifier` or `score`; heads of other
    names (DistilBERT's `pre_classifier`, DeBERTa's `pooler`, ModernBERT's `head`) would stay random.
    """
    return [
        name
        for name, child in model.named_children()
        if name != model.base_model_prefix and any(True for _ in child.parameters())
    ]


def apply_lora(model, model_args: ModelArguments, gradient_checkpointing: bool = False):
    """Wrap `model` with LoRA adapters; the head (`head_modules`) is trained in full and saved with the adapter.

    Adapters and head train in float32 over a bfloat16 or quantized backbone (textcls.precision).
    """
    targets = model_args.lora_target_modules or get_family(model_args.model_type).default_lora_targets(model)
    module_names = [name for name, _ in model.named_modules() if name]
    # One target is a regex (peft matches it in full); several are names matched as suffixes.
    target_modules = targets[0] if len(targets) == 1 and re.search(r"[\\*\[\]|]", targets[0]) else targets
    if isinstance(target_modules, str):
        unmatched = [] if any(re.fullmatch(target_modules, name) for name in module_names) else [target_modules]
    else:
        unmatched = [t for t in targets if not any(n == t or n.endswith("." + t) for n in module_names)]
    if unmatched:
        available = sorted({name.rsplit(".", 1)[-1] for name in module_names if not name.rsplit(".", 1)[-1].isdigit()})
        raise TextclsError(
            f"LoRA target module(s) {', '.join(unmatched)} match nothing in this {model_args.model_type} model; "
            f"module names that exist: {', '.join(available)}."
        )
    config = LoraConfig(
        task_type="SEQ_CLS",
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=target_modules,
        modules_to_save=head_modules(model),
    )
    model = get_peft_model(prepare_for_lora(model), config)
    keep_trainable_in_float32(model)
    if gradient_checkpointing:
        # The frozen embeddings hand checkpointed layers inputs without gradients; a reentrant checkpoint
        # (`"use_reentrant": true` in the checkpointing kwargs) would then give its adapters none.
        model.enable_input_require_grads()
    return model


# ----------------------------------------------------------------------------------------------
# Trainer and the final output


class SaveOnInterrupt(TrainerCallback):
    """Ctrl-C (SIGINT) ends training at the end of the current step, with a checkpoint saved.

    The first Ctrl-C only sets a flag (a step is never cut in half); the handler is then reset, so
    a second Ctrl-C stops at once, as usual.
    """

    def __init__(self):
        self.interrupted = False
        self.previous_handler = None

    def _on_sigint(self, signum, frame):
        self.interrupted = True
        signal.signal(signal.SIGINT, self.previous_handler)
        logger.warning("Interrupted: saving a checkpoint at the end of this step (Ctrl-C again to stop at once).")

    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            self.previous_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def on_step_end(self, args, state, control, **kwargs):
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.previous_handler is not None and not self.interrupted:
            signal.signal(signal.SIGINT, self.previous_handler)


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches whose order depends on (seed, epoch) only.

    The stock sampler draws its order from the global RNG, whose state at the start of an epoch is
    not the same after a mid-epoch resume; seeding each epoch makes a resumed run see the same
    batches as an uninterrupted one (the Trainer calls `set_epoch`).
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class TextclsTrainer(Trainer):
    """The Trainer, with our model card in place of its generic one (also on `push_to_hub`),
    resumable length-grouped batches and a learning rate of its own for the classification head."""

    def __init__(
        self,
        *args,
        model_card_kwargs: dict | None = None,
        head: str | None = None,
        head_learning_rate: float | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.head, self.head_learning_rate = head, head_learning_rate
        # Every family's loss is a per-batch mean (ours: models/sequence_classification.py; transformers'
        # own sequence classifiers likewise), so the Trainer must divide it by the accumulation steps.
        self.model_accepts_loss_kwargs = False
        self.model_card_kwargs = model_card_kwargs or {}
        self.final_metrics: dict[str, float] = {}

    def create_optimizer(self, model=None):
        """The Trainer's optimizer, with the head's weights in groups of their own at `head_learning_rate`."""
        new = self.optimizer is None
        optimizer = super().create_optimizer(model)
        if not new or self.head_learning_rate is None:
            return optimizer
        # Under peft the trained head is `<head>.modules_to_save.default.*`; the name part still matches.
        head = {id(p) for name, p in (model or self.model).named_parameters() if self.head in name.split(".")}
        if not head:
            logger.warning("No parameters named %r: --head_learning_rate is not applied.", self.head)
        groups = []
        for group in optimizer.param_groups:
            for in_head in (False, True):
                params = [p for p in group["params"] if (id(p) in head) == in_head]
                if params:
                    groups.append({**group, "params": params, **({"lr": self.head_learning_rate} if in_head else {})})
        optimizer.param_groups = groups
        return optimizer
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # Class weights live in the config and only the shared loss reads them; transformers' own classifiers
        # compute an unweighted loss in `forward`, so with weights the shared loss is applied here for every family.
        config = self.accelerator.unwrap_model(model).config
        if getattr(config, "class_weights", None) is None or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = sequence_classification_loss(outputs.logits, labels, config)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if WINDOW_DOCUMENT in inputs:  # --long_text chunk: one prediction per text from its windows
            return document_prediction_step(self, model, inputs)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if type(sampler) is LengthGroupedSampler:
            sampler = EpochSeededLengthGroupedSampler(sampler.batch_size, sampler.lengths, seed=self.args.seed)
        return sampler

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        super()._save(output_dir, state_dict)
        # The final folder, which push_to_hub uploads, stays safetensors + JSON only: the Trainer's
        # pickled arguments are replaced by training_args.json there (checkpoints keep theirs).
        if Path(output_dir or self.args.output_dir).resolve() == Path(self.args.output_dir).resolve():
            Path(self.args.output_dir, "training_args.bin").unlink(missing_ok=True)

    def create_model_card(self, **kwargs):
        if self.is_world_process_zero():
            write_model_card(
                self.args.output_dir, metrics=self.final_metrics, repo_id=self.args.hub_model_id, **self.model_card_kwargs
            )


def save_final_model(model, tokenizer, output_dir: Path):
    """Write the final model so that a crash never leaves a folder that looks complete; return it.

    A LoRA model is saved twice: its adapter in `adapter/`, then merged into the base weights at the
    top, so the top folder loads without peft. Everything is written to `output_dir/_final.tmp`
    first, then moved into `output_dir` file by file with atomic renames, `config.json` last: a
    folder without `config.json` is not a model to any loader. (The `_` prefix also keeps the temp
    folder out of a Hub push.)
    """
    staging = output_dir / "_final.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if isinstance(model, PeftModel):
        model.save_pretrained(staging / "adapter")  # before merging: merging removes the adapter layers
        shutil.rmtree(output_dir / "adapter", ignore_errors=True)
        model = merge_lora(model, staging / "adapter")  # in the backbone's compute dtype, dequantized
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    for item in sorted(staging.iterdir(), key=lambda p: p.name == "config.json"):
        os.replace(item, output_dir / item.name)
    staging.rmdir()
    return model


def run(argv: list[str] | None = None) -> dict[str, float]:
    with contextlib.ExitStack() as held:  # the output_dir lock, taken in `train`, is released however it ends
        return train(argv, held)


def train(argv: list[str] | None, held: contextlib.ExitStack) -> dict[str, float]:
    model_args, data_args, run_args, training_args = parse_args(argv)
    transformers.utils.logging.set_verbosity_warning()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    datasets.utils.logging.set_verbosity_warning()

    output_dir = Path(training_args.output_dir)
    check_output_dir(output_dir, run_args.overwrite_output_dir)  # read-only: the folder is claimed further down

    set_seed(training_args.seed)
    with training_args.main_process_first(desc="loading data"):
        data = load_data(data_args)
    check_labels(data)
    fit_settings_to_data(model_args, training_args, data)
    family = get_family(model_args.model_type)
    max_seq_length = data_args.max_seq_length or family.max_seq_length
    with framework_errors("build the model"):
        tokenizer, model = build_model(
            family, model_args, data, max_seq_length, gradient_checkpointing=training_args.gradient_checkpointing
        )

    # Arguments, data and model are checked: only now is output_dir locked, emptied or resumed from.
    # Rank 0 first: it alone locks and removes files, and the other ranks then see the same state.
    with training_args.main_process_first(desc="claiming output_dir"):
        inputs = [data_args.train_file, data_args.validation_file, data_args.test_file, data_args.dataset,
                  model_args.model_name_or_path]
        last_checkpoint = claim_output_dir(output_dir, run_args.overwrite_output_dir,
                                           run_fingerprint(model_args, data, max_seq_length), inputs, held,
                                           is_main=training_args.should_save)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = tokenize_data(data.dataset, tokenizer, data_args, max_seq_length, model.config)
    interrupt = SaveOnInterrupt()
    callbacks = [interrupt]
    if run_args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=run_args.early_stopping_patience))

    trainer = TextclsTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=build_data_collator(data_args, tokenizer),
        compute_metrics=build_compute_metrics(
            data.problem_type, logit_thresholds(model_args.multi_label_threshold or 0.5)
        ),
        callbacks=callbacks,
        head=family.head,
        head_learning_rate=model_args.head_learning_rate,
        model_card_kwargs=dict(
            model_type=model.config.model_type,  # the checkpoint's own (auto: bert, roberta, ...)
            base_model=(model_args.model_name_or_path or family.default_checkpoint) if family.pretrained else None,
            dataset_name=data_args.dataset or data_args.train_file,
            problem_type=data.problem_type,
            label_names=data.label_names,
            training_args=hyperparameters(family, model, model_args, training_args, max_seq_length),
        ),
    )

    train_result = trainer.train(resume_from_checkpoint=last_checkpoint)
    if interrupt.interrupted:
        raise TrainingInterrupted(
            f"Training interrupted at step {trainer.state.global_step}; a checkpoint is in {output_dir}: "
            "run the same command again to resume."
        )
    metrics = {f"train_{k}" if not k.startswith("train_") else k: v for k, v in train_result.metrics.items()}
    if data.problem_type == MULTI_LABEL:  # saved with the model; the final eval/test metrics use them
        thresholds = thresholds_for_run(
            trainer, tokenized["validation"], model_args.multi_label_threshold, data.num_labels
        )
        model.config.multi_label_thresholds = thresholds
        trainer.compute_metrics = build_compute_metrics(data.problem_type, logit_thresholds(thresholds))
    metrics.update(trainer.evaluate(metric_key_prefix="eval"))
    test_predictions = None
    if "test" in tokenized:
        test_predictions = trainer.predict(tokenized["test"], metric_key_prefix="test")
        metrics.update(test_predictions.metrics)
    trainer.final_metrics = metrics

    if trainer.is_world_process_zero():
        trainer.model = save_final_model(model, tokenizer, output_dir)  # push_to_hub uploads the merged model
        if test_predictions is not None and data.problem_type == SINGLE_LABEL:
            save_confusion_matrix(
                test_predictions.label_ids,
                np.argmax(test_predictions.predictions, axis=-1),
                data.label_names,
                output_dir / "confusion_matrix.png",
                title=f"{model_args.model_type} on {data_args.dataset or data_args.train_file} (test)",
            )
        trainer.create_model_card()
        (output_dir / "training_args.json").write_text(training_args.to_json_string())
        (output_dir / "training_config.json").write_text(
            json.dumps({"model": asdict(model_args), "data": asdict(data_args), "run": asdict(run_args)}, indent=2) + "\n"
        )
        trainer.save_metrics("all", metrics)  # all_results.json last: it marks the run as finished
        quality = {k: v for k, v in metrics.items() if k.startswith(("eval_", "test_"))}
        print(format_metrics_table({k: v for k, v in quality.items() if not k.endswith(("runtime", "per_second"))}))
        if "test_accuracy" in metrics:
            print(f"Test accuracy: {metrics['test_accuracy']:.4f}  (model saved in {output_dir})")
    if training_args.push_to_hub:
        trainer.push_to_hub()
    return metrics


def hyperparameters(
    family: Family, model, model_args: ModelArguments, training_args: TrainingArguments, max_seq_length: int
) -> dict:
    params = dict(
        learning_rate=training_args.learning_rate,
        head_learning_rate=model_args.head_learning_rate,
        num_train_epochs=training_args.num_train_epochs,
        warmup_steps=training_args.warmup_steps or None,
        per_device_train_batch_size=training_args.per_device_train_batch_size,
        seed=training_args.seed,
        max_seq_length=max_seq_length,
    )
    if family.word_level:
        params.update(embedding_mode=model_args.embedding_mode, pretrained_embeddings=model_args.pretrained_embeddings)
    if family.pretrained:
        params.update(
            torch_dtype=str(resolve_dtype(model_args.torch_dtype, model_args.use_lora)).removeprefix("torch."),
            quantization="4-bit NF4" if model_args.load_in_4bit else "8-bit" if model_args.load_in_8bit else None,
            gradient_checkpointing=training_args.gradient_checkpointing or None,
        )
    if model_args.class_weight != ["none"]:
        params.update(class_weight=" ".join(model_args.class_weight))
    if model_args.use_lora:
        params.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha, lora_dropout=model_args.lora_dropout)
        targets = model_args.lora_target_modules or family.default_lora_targets(model.get_base_model())
        params.update(lora_target_modules=" ".join(targets))
    return params  # the card leaves out what is None
