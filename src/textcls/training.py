"""The fine-tuning recipe: data, model construction per family, LoRA, and the final output.

The command-line arguments are in `arguments.py`, the Trainer subclass and its callbacks in `trainer.py`.

`run(argv)` is what `recipes/finetune.py` and `textcls train` call. It reads top to bottom:
parse arguments -> load data -> build tokenizer and model (+ LoRA) -> tokenize -> Trainer.train
-> evaluate / test -> write the final checkpoint, metrics, model card and confusion matrix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import datasets
import numpy as np
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    EarlyStoppingCallback,
    PreTrainedTokenizerBase,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from .arguments import (
    BEST_MODEL_METRIC,
    DataArguments,
    ModelArguments,
    parse_args,
)
from .class_weights import compute_class_weights, parse_class_weight
from .collation import PaddingCollator
from .data import (
    TextClassificationData,
    load_text_classification_data,
)
from .errors import TextclsError, TrainingInterrupted
from .families import Family, get_family
from .long_text import (
    WindowCollator,
    record_long_text,
    tokenize_chunked_splits,
    window_stride,
)
from .metrics import build_compute_metrics
from .models.sequence_classification import (
    MULTI_LABEL,
    REGRESSION,
    SINGLE_LABEL,
)
from .precision import (
    keep_trainable_in_float32,
    merge_lora,
    merge_lora_in_place,
    prepare_for_lora,
    resolve_dtype,
)
from .prompt_suffix import prompt_suffix_of
from .reporting import format_metrics_table, save_confusion_matrix
from .run_folder import check_output_dir, claim_output_dir, run_fingerprint
from .thresholds import logit_thresholds, thresholds_for_run
from .trainer import SaveOnInterrupt, TextclsTrainer
from .validation import check_labels, framework_errors

logger = logging.getLogger(__name__)

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
    # The Trainer's LabelSmoother takes a softmax over the logits: on one regression output it is always 0, and
    # multi-label targets are not one class index each.
    if training_args.label_smoothing_factor and data.problem_type != SINGLE_LABEL:
        raise TextclsError(
            f"--label_smoothing_factor applies to single-label classification only; this data is {data.problem_type}."
        )


def tokenize_data(
    dataset: datasets.DatasetDict, tokenizer, data_args: DataArguments, max_seq_length: int, config
) -> datasets.DatasetDict:
    """Truncated texts, or with `--long_text chunk` overlapping windows (recorded in `config`)."""
    if data_args.long_text == "chunk":  # textcls.long_text
        stride = window_stride(tokenizer, max_seq_length, data_args.chunk_stride)
        record_long_text(config, data_args.long_text, max_seq_length, stride)
        return tokenize_chunked_splits(dataset, tokenizer, max_seq_length, stride, data_args.chunk_weighting)
    return tokenize_splits(dataset, tokenizer, max_seq_length)


def build_data_collator(data_args: DataArguments, tokenizer, padding_free: bool = False):
    collator = WindowCollator if data_args.long_text == "chunk" else PaddingCollator
    return collator(tokenizer, padding_free=padding_free)


def build_trainer(
    family: Family,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    data: TextClassificationData,
    tokenizer,
    tokenized: datasets.DatasetDict,
    **kwargs,
) -> TextclsTrainer:
    """The Trainer of `textcls train` and of every `textcls tune` trial (`model` or `model_init` in kwargs)."""
    return TextclsTrainer(
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=build_data_collator(data_args, tokenizer),
        train_data_collator=build_data_collator(data_args, tokenizer, padding_free=True) if data_args.padding_free else None,
        compute_metrics=build_compute_metrics(
            data.problem_type, logit_thresholds(model_args.multi_label_threshold or 0.5)
        ),
        head=family.head,
        head_learning_rate=model_args.head_learning_rate,
        **kwargs,
    )


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
        use_dora=model_args.use_dora,
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
# The final output


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


def run(argv: list[str] | None = None, callbacks: Sequence[TrainerCallback] = ()) -> dict[str, float]:
    """`textcls train` with these arguments; `callbacks` (transformers `TrainerCallback`s, e.g. to time the
    epochs) join the recipe's own."""
    with contextlib.ExitStack() as held:  # the output_dir lock, taken in `train`, is released however it ends
        return train(argv, held, callbacks)


def train(argv: list[str] | None, held: contextlib.ExitStack,
          extra_callbacks: Sequence[TrainerCallback] = ()) -> dict[str, float]:
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
    if data_args.padding_free and model_args.attn_implementation != "flash_attention_2":
        logger.warning("--padding_free under %s attends over each packed row in full, under a mask: slower than "
                       "padded batches on the CPU (bench/RESULTS.md, speed (i)); it pays with flash_attention_2.",
                       model_args.attn_implementation)
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
                                           run_fingerprint(model_args, data_args, data, max_seq_length), inputs, held,
                                           is_main=training_args.should_save)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = tokenize_data(data.dataset, tokenizer, data_args, max_seq_length, model.config)
    interrupt = SaveOnInterrupt()
    callbacks = [interrupt, *extra_callbacks]
    if run_args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=run_args.early_stopping_patience))

    trainer = build_trainer(
        family, model_args, data_args, training_args, data, tokenizer, tokenized,
        model=model,
        callbacks=callbacks,
        model_card_kwargs=dict(
            model_type=model.config.model_type,  # the checkpoint's own (auto: bert, roberta, ...)
            base_model=(model_args.model_name_or_path or family.default_checkpoint) if family.pretrained else None,
            dataset_name=data_args.dataset or data_args.train_file,
            problem_type=data.problem_type,
            label_names=data.label_names,
            training_args=hyperparameters(family, model, tokenizer, model_args, data_args, training_args, max_seq_length),
        ),
    )

    train_result = trainer.train(resume_from_checkpoint=last_checkpoint)
    if interrupt.interrupted:
        raise TrainingInterrupted(
            f"Training interrupted at step {trainer.state.global_step}; a checkpoint is in {output_dir}: "
            "run the same command again to resume."
        )
    metrics = {f"train_{k}" if not k.startswith("train_") else k: v for k, v in train_result.metrics.items()}
    if not (trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled):  # their sharded weights can't merge in place
        merge_lora_in_place(model)
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
    family: Family, model, tokenizer, model_args: ModelArguments, data_args: DataArguments,
    training_args: TrainingArguments, max_seq_length: int,
) -> dict:
    params = dict(
        learning_rate=training_args.learning_rate,
        head_learning_rate=model_args.head_learning_rate,
        num_train_epochs=training_args.num_train_epochs,
        warmup_steps=training_args.warmup_steps or None,
        per_device_train_batch_size=training_args.per_device_train_batch_size,
        seed=training_args.seed,
        max_seq_length=max_seq_length,
        long_text=data_args.long_text,
        # The window overlap tokenize_data recorded in the config (textcls.long_text).
        chunk_stride=model.config.chunk_stride if data_args.long_text == "chunk" else None,
        padding_free=data_args.padding_free or None,
    )
    if family.word_level:
        params.update(embedding_mode=model_args.embedding_mode, pretrained_embeddings=model_args.pretrained_embeddings)
    if family.pretrained:
        params.update(
            torch_dtype=str(resolve_dtype(model_args.torch_dtype, model_args.use_lora)).removeprefix("torch."),
            quantization="4-bit NF4" if model_args.load_in_4bit else "8-bit" if model_args.load_in_8bit else None,
            gradient_checkpointing=training_args.gradient_checkpointing or None,
            # The tokenizer's, which a continued checkpoint may bring without the flag.
            prompt_suffix=repr(suffix) if (suffix := prompt_suffix_of(tokenizer)) else None,
        )
    if model_args.class_weight != ["none"]:
        params.update(class_weight=" ".join(model_args.class_weight))
    if model_args.use_lora:
        params.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha, lora_dropout=model_args.lora_dropout,
                      use_dora=model_args.use_dora or None)
        targets = model_args.lora_target_modules or family.default_lora_targets(model.get_base_model())
        params.update(lora_target_modules=" ".join(targets))
    return params  # the card leaves out what is None
