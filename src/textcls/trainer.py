"""The transformers Trainer as the recipe uses it: our model card, head learning rate, class- and
window-weighted loss, per-text predictions of chunked texts, resumable length-grouped batches, Ctrl-C saves.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import torch
from transformers import (
    Trainer,
    TrainerCallback,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from .collation import WINDOW_WEIGHT
from .long_text import (
    WINDOW_DOCUMENT,
    document_prediction_step,
)
from .model_card import write_model_card
from .models.sequence_classification import (
    sequence_classification_loss,
)

logger = logging.getLogger(__name__)


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

    def on_epoch_end(self, args, state, control, **kwargs):
        # Stopping mid-epoch still ends the epoch, where an `epoch` eval strategy would run a whole validation
        # pass and record a part-epoch model as a candidate for the best one: the resumed run evaluates at
        # the real epoch end instead. The checkpoint is already saved (on_step_end).
        if self.interrupted:
            control.should_evaluate = False
            control.should_save = False
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
    resumable length-grouped batches, a learning rate of its own for the classification head and
    a collator of their own for the training batches."""

    def __init__(
        self,
        *args,
        model_card_kwargs: dict | None = None,
        head: str | None = None,
        head_learning_rate: float | None = None,
        train_data_collator=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.head, self.head_learning_rate = head, head_learning_rate
        self.train_data_collator = train_data_collator
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
        # The shared loss is applied here, for every family, to batches that need what only it reads: class
        # weights (in the config; transformers' own classifiers compute an unweighted loss in `forward`) and
        # `--chunk_weighting text`'s window weights (a batch key no `forward` takes).
        config = self.accelerator.unwrap_model(model).config
        inputs = dict(inputs)
        sample_weight = inputs.pop(WINDOW_WEIGHT, None)
        if (getattr(config, "class_weights", None) is None and sample_weight is None) or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = sequence_classification_loss(
            outputs.logits, labels, config, sample_weight, label_smoothing=self.args.label_smoothing_factor
        )
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if WINDOW_DOCUMENT in inputs:  # --long_text chunk: one prediction per text from its windows
            return document_prediction_step(self, model, inputs)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def get_train_dataloader(self):
        """Training batches from `train_data_collator` where one is given (`--padding_free`), evaluation ones
        from `data_collator`. Evaluation stays padded: 64 texts, each in windows, packed into one row would be
        tens of thousands of tokens, which sdpa and eager attention cover in full (speed (i), bench/RESULTS.md)."""
        if self.train_data_collator is None:
            return super().get_train_dataloader()
        evaluation_collator, self.data_collator = self.data_collator, self.train_data_collator
        try:
            return super().get_train_dataloader()
        finally:
            self.data_collator = evaluation_collator

    def _set_signature_columns_if_needed(self):
        # The Trainer keeps only the columns `forward` takes; the window weights go to `compute_loss` instead.
        super()._set_signature_columns_if_needed()
        if WINDOW_WEIGHT not in self._signature_columns:
            self._signature_columns.append(WINDOW_WEIGHT)

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
