"""LoRA through peft on every family: head trained and saved, merged checkpoint loads without peft."""

import pytest
import torch
from conftest import right_padded_batch, tiny_model
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForSequenceClassification

LORA_TARGETS = {
    "llama": ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"],
    "textcnn": r".*convs\.\d+|.*embed_tokens",
    "dpcnn": ["region_embedding", "conv1", "conv2", "embed_tokens"],
    "fasttext": ["embed_tokens", "ngram_embeddings", "hidden"],
    # peft has no LoRA layer for nn.LSTM/nn.GRU: the recurrence stays frozen, the embeddings and attention adapt.
    "textrnn": ["embed_tokens", "attention"],
}
HEAD = {"llama": "score", **{family: "classifier" for family in ("textcnn", "dpcnn", "fasttext", "textrnn")}}


def train_a_few_steps(model, steps=5):
    model.train()
    input_ids, attention_mask = right_padded_batch([3, 6, 9, 4])
    labels = torch.tensor([0, 1, 1, 0])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(steps):
        model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), (input_ids, attention_mask)


def test_lora_trains_saves_and_merges(family, tmp_path):
    base = tiny_model(family, num_labels=2)
    head_before = getattr(base, HEAD[family]).weight.detach().clone()
    lora = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.0, target_modules=LORA_TARGETS[family])
    peft_model = get_peft_model(base, lora)
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert any("lora_A" in name for name in trainable)
    assert any(f"{HEAD[family]}.modules_to_save" in name for name in trainable)
    assert all("lora_" in name or "modules_to_save" in name for name in trainable), trainable

    peft_model, batch = train_a_few_steps(peft_model)
    with torch.no_grad():
        peft_logits = peft_model(input_ids=batch[0], attention_mask=batch[1]).logits
    trained_head = peft_model.base_model.model.get_submodule(HEAD[family]).modules_to_save["default"].weight
    assert not torch.equal(trained_head, head_before)

    # The adapter alone, on a fresh copy of the same base, reproduces the PEFT model (head included).
    peft_model.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(tiny_model(family, num_labels=2), tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=batch[0], attention_mask=batch[1]).logits, peft_logits)

    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    assert not any("lora" in name for name, _ in loaded.named_parameters())
    with torch.no_grad():
        merged_logits = loaded(input_ids=batch[0], attention_mask=batch[1]).logits
    torch.testing.assert_close(merged_logits, peft_logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("family_name", ["textcnn", "dpcnn"])
def test_static_embeddings_stay_frozen_under_lora_of_the_convolutions(family_name):
    base = tiny_model(family_name, num_labels=2, embedding_mode="static")
    before = base.get_input_embeddings().weight.detach().clone()
    targets = r".*convs\.\d+" if family_name == "textcnn" else ["conv1", "conv2"]
    peft_model, _ = train_a_few_steps(get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=2, target_modules=targets)))
    torch.testing.assert_close(peft_model.get_input_embeddings().weight, before, atol=0, rtol=0)
