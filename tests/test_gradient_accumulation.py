"""Gradient accumulation: batch 8 x 2 accumulation steps trains exactly like batch 16 x 1.

transformers 5.x assumes a model whose forward takes **kwargs normalises its loss by
`num_items_in_batch` and then stops dividing by the accumulation steps; our losses are per-batch
means, so without `accepts_loss_kwargs = False` (and the recipe's Trainer setting) the loss and the
gradients would be twice too large here.
"""

import pytest
import torch
from conftest import tiny_model
from datasets import Dataset
from transformers import Trainer, TrainingArguments

from textcls.trainer import TextclsTrainer

NO_DROPOUT = {"textcnn": {"dropout": 0.0}, "dpcnn": {"dropout": 0.0}, "fasttext": {"dropout": 0.0},
              "textrnn": {"dropout": 0.0}, "llama": {}}


def train_once(family, trainer_class, batch_size, accumulation, tmp_path):
    model = tiny_model(family, num_labels=3, **NO_DROPOUT[family]).train()
    generator = torch.Generator().manual_seed(1)
    rows = [
        {"input_ids": torch.randint(3, 40, (12,), generator=generator).tolist(), "labels": i % 3} for i in range(64)
    ]
    args = TrainingArguments(
        output_dir=str(tmp_path / f"{batch_size}x{accumulation}"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=2,
        learning_rate=1e-2,
        train_sampling_strategy="sequential",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
    )
    trainer = trainer_class(model=model, args=args, train_dataset=Dataset.from_list(rows))
    result = trainer.train()
    return result.metrics["train_loss"], {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("trainer_class", [Trainer, TextclsTrainer], ids=["Trainer", "TextclsTrainer"])
def test_accumulation_matches_a_larger_batch(family, trainer_class, tmp_path):
    loss_large, weights_large = train_once(family, trainer_class, 16, 1, tmp_path)
    loss_accumulated, weights_accumulated = train_once(family, trainer_class, 8, 2, tmp_path)
    assert loss_accumulated == pytest.approx(loss_large, rel=1e-5)
    for name, tensor in weights_large.items():
        torch.testing.assert_close(weights_accumulated[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
