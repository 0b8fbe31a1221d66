"""Behaviour every family shares: padding invariance, shapes, gradients, config errors."""

import pytest
import torch
from conftest import left_pad, right_padded_batch, tiny_config, tiny_model

import textcls


@pytest.mark.parametrize("lengths", [[1, 2, 3, 5, 9, 17], [4, 4], [1]])
def test_padding_does_not_change_logits(family, lengths):
    model = tiny_model(family, num_labels=3)
    input_ids, attention_mask = right_padded_batch(lengths)
    with torch.no_grad():
        batched = model(input_ids=input_ids, attention_mask=attention_mask).logits
        # Pad the batch further: the pyramid/max-pool must not see the extra length.
        extra = torch.nn.functional.pad(input_ids, (0, 11)), torch.nn.functional.pad(attention_mask, (0, 11))
        longer = model(input_ids=extra[0], attention_mask=extra[1]).logits
        left = model(*left_pad(input_ids, attention_mask)).logits
        for row, length in enumerate(lengths):
            alone = model(input_ids=input_ids[row : row + 1, :length]).logits  # batch size 1, no mask
            torch.testing.assert_close(alone[0], batched[row], atol=1e-5, rtol=0)
    torch.testing.assert_close(longer, batched, atol=1e-5, rtol=0)
    torch.testing.assert_close(left, batched, atol=1e-5, rtol=0)


@pytest.mark.parametrize("family_name", ["textcnn", "dpcnn"])
def test_text_shorter_than_widest_kernel(family_name):
    model = tiny_model(family_name, num_labels=2, **({"kernel_sizes": [3, 7]} if family_name == "textcnn" else {}))
    logits = model(input_ids=torch.tensor([[5]])).logits
    assert logits.shape == (1, 2)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("family_name", ["textcnn", "dpcnn"])
def test_padding_only_row_gives_finite_logits(family_name):
    model = tiny_model(family_name, num_labels=2)
    logits = model(input_ids=torch.tensor([[5, 6], [0, 0]]), attention_mask=torch.tensor([[1, 1], [0, 0]])).logits
    assert torch.isfinite(logits).all()


def test_dpcnn_depth_follows_each_text_not_the_batch():
    # Two stacked blocks would differ from one if a short text were pushed through the extra blocks.
    model = tiny_model("dpcnn", num_labels=2, num_blocks=6)
    short, long = torch.tensor([[7, 8]]), torch.randint(3, 40, (1, 64))
    batch = torch.cat([torch.nn.functional.pad(short, (0, 62)), long])
    mask = (torch.arange(64) < torch.tensor([[2], [64]])).long()
    with torch.no_grad():
        torch.testing.assert_close(model(short).logits[0], model(batch, attention_mask=mask).logits[0], atol=1e-5, rtol=0)


def test_gradients_reach_every_trainable_parameter(family):
    overrides = {"embedding_mode": "multichannel"} if family != "llama" else {}
    model = tiny_model(family, num_labels=3, **overrides).train()
    input_ids, attention_mask = right_padded_batch([3, 6, 9])
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1, 2]))
    out.loss.backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name


def test_resize_token_embeddings_keeps_the_old_rows(family):
    # The accessors are transformers' own (the base model's `embeddings.embed_tokens`, or `model.embed_tokens` for
    # the Llama): what a user calls after adding tokens to the tokenizer.
    model = tiny_model(family, num_labels=2)
    table = model.get_input_embeddings()
    assert table is model.base_model.get_input_embeddings()
    before = table.weight.detach().clone()
    model.resize_token_embeddings(before.shape[0] + 5, mean_resizing=False)
    resized = model.get_input_embeddings()
    assert resized.weight.shape == (before.shape[0] + 5, before.shape[1])
    assert model.config.vocab_size == before.shape[0] + 5
    torch.testing.assert_close(resized.weight[: before.shape[0]], before, atol=0, rtol=0)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[3, before.shape[0] + 4]])).logits  # a new token's id
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


@pytest.mark.parametrize("family_name", ["textcnn", "dpcnn"])
def test_static_embeddings_stay_frozen_through_training(family_name):
    model = tiny_model(family_name, num_labels=2, embedding_mode="static").train()
    vectors = torch.randn(40, 8)
    vectors[0] = 0
    model.load_pretrained_embeddings(vectors)
    before = model.get_input_embeddings().weight.detach().clone()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    input_ids, attention_mask = right_padded_batch([3, 6])
    for _ in range(3):
        model(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1])).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert not model.get_input_embeddings().weight.requires_grad
    torch.testing.assert_close(model.get_input_embeddings().weight, before, atol=0, rtol=0)


def test_multichannel_trains_one_channel_and_freezes_the_other():
    model = tiny_model("textcnn", num_labels=2, embedding_mode="multichannel")
    vectors = torch.randn(40, 8)
    model.load_pretrained_embeddings(vectors)
    embeddings = model.textcnn.embeddings
    torch.testing.assert_close(embeddings.embed_tokens.weight, vectors)
    torch.testing.assert_close(embeddings.embed_tokens_static.weight, vectors)
    assert embeddings.embed_tokens.weight.requires_grad
    assert not embeddings.embed_tokens_static.weight.requires_grad


@pytest.mark.parametrize("mode", ["non-static", "rand"])
def test_trainable_embedding_modes(mode):
    model = tiny_model("textcnn", num_labels=2, embedding_mode=mode)
    assert model.get_input_embeddings().weight.requires_grad
    assert model.textcnn.embeddings.embed_tokens_static is None


@pytest.mark.parametrize(
    "family_name, overrides, message",
    [
        ("textcnn", {"embedding_mode": "dynamic"}, "Unknown embedding_mode 'dynamic'; choose one of rand, static"),
        ("dpcnn", {"embedding_mode": "glove"}, "Unknown embedding_mode 'glove'"),
        ("textcnn", {"kernel_sizes": []}, "kernel_sizes must be a non-empty list"),
        ("textcnn", {"kernel_sizes": [3, 0]}, "kernel_sizes must be a non-empty list"),
        ("textcnn", {"num_labels": 0}, "num_labels must be >= 1"),
        ("dpcnn", {"num_labels": 0}, "num_labels must be >= 1"),
        ("llama", {"num_labels": 0}, "num_labels must be >= 1"),
        ("dpcnn", {"region_size": 2}, "region_size must be a positive odd number"),
        ("textcnn", {"problem_type": "ranking"}, "problem_type"),
    ],
)
def test_bad_config_is_a_clear_error(family_name, overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(family_name, **overrides)


@pytest.mark.parametrize("family_name", ["textcnn", "dpcnn"])
def test_mismatched_embedding_matrix_is_a_clear_error(family_name):
    model = tiny_model(family_name, num_labels=2)
    with pytest.raises(ValueError, match=r"Embedding matrix has shape \(40, 50\) but the model expects \(40, 8\)"):
        model.load_pretrained_embeddings(torch.zeros(40, 50))


def test_auto_classes_resolve_our_model_types():
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    for family in textcls.FAMILIES.values():
        if family.config_class is None:  # `auto`: transformers' own classes
            continue
        config = AutoConfig.for_model(family.model_type, **({"vocab_size": 40} if family.word_level else {}))
        assert type(config) is family.config_class
    config = tiny_config("dpcnn")
    assert type(AutoModel.from_config(config)) is textcls.DPCNNModel
    assert type(AutoModelForSequenceClassification.from_config(config)) is textcls.DPCNNForSequenceClassification
