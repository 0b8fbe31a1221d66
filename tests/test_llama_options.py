"""The Llama family's GPU-sized options, on the CPU: dtype, gradient checkpointing with LoRA, 4/8-bit
(bitsandbytes), flash-attention, the LoRA defaults and where they show."""

import importlib.util
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import error_line, right_padded_batch, tiny_model
from safetensors import safe_open
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    pipeline,
)

import textcls
from textcls import collation, precision
from textcls.arguments import ModelArguments, parse_args
from textcls.cli import main as cli_main
from textcls.collation import packed_batch
from textcls.errors import TextclsError
from textcls.training import apply_lora, run

REPO = Path(__file__).resolve().parents[1]
WORDS = {"positive": ["good", "great", "lovely"], "negative": ["bad", "awful", "dull"]}
FILLER = ["the", "film", "plot", "was", "and", "a", "story"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    for split, n in (("train", 48), ("validation", 16), ("test", 16)):
        lines = ["text,label"]
        for i in range(n):
            label = "positive" if i % 2 else "negative"
            lines.append(" ".join(rng.sample(FILLER, 3) + [rng.choice(WORDS[label])]) + f",{label}")
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, data_dir):
    """A tiny random Llama causal-LM checkpoint with a word tokenizer (hidden 64: bitsandbytes' 4-bit blocks)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = textcls.train_word_tokenizer((data_dir / "train.csv").read_text().splitlines())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def recipe_args(tiny_llama, data_dir, output_dir, *extra):
    return ["--model_type", "llama", "--model_name_or_path", str(tiny_llama),
            *[arg for split in ("train", "validation", "test") for arg in (f"--{split}_file", str(data_dir / f"{split}.csv"))],
            "--per_device_train_batch_size", "8", "--max_steps", "3", "--disable_tqdm", "true",
            "--output_dir", str(output_dir), *extra]


def tensor_dtypes(path):
    with safe_open(str(path), framework="pt") as f:
        return {name: f.get_slice(name).get_dtype() for name in f.keys()}


# ----------------------------------------------------------------------------------------------
# --torch_dtype


def test_auto_is_bfloat16_only_for_a_frozen_backbone_on_a_bf16_gpu(monkeypatch):
    monkeypatch.setattr(precision, "cuda_available", lambda: False)
    assert precision.resolve_dtype("auto", frozen_backbone=True) == torch.float32
    monkeypatch.setattr(precision, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert precision.resolve_dtype("auto", frozen_backbone=True) == torch.bfloat16
    assert precision.resolve_dtype("auto", frozen_backbone=False) == torch.float32  # full fine-tuning
    assert precision.resolve_dtype("float16", frozen_backbone=False) == torch.float16


def test_bfloat16_backbone_trains_float32_adapters_and_head():
    model = apply_lora(tiny_model("llama", num_labels=2).to(torch.bfloat16),
                       ModelArguments(model_type="llama", use_lora=True, lora_dropout=0.0))
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert {p.dtype for p in trainable.values()} == {torch.float32}
    assert any("score.modules_to_save" in name for name in trainable) and any("lora_A" in name for name in trainable)
    assert model.get_base_model().model.layers[0].self_attn.q_proj.base_layer.weight.dtype == torch.bfloat16

    input_ids, attention_mask = right_padded_batch([3, 8, 5], vocab_size=64)
    output = model(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1, 1]))
    assert output.logits.dtype == torch.float32 and torch.isfinite(output.loss)
    output.loss.backward()
    before = {name: p.detach().clone() for name, p in trainable.items()}
    torch.optim.AdamW(trainable.values(), lr=1e-3).step()
    changed = [name for name, p in trainable.items() if not torch.equal(p, before[name])]
    assert any("lora_B" in name for name in changed) and any("score" in name for name in changed)


def test_bfloat16_lora_run_saves_float32_adapter_and_bfloat16_merged_model(tiny_llama, data_dir, tmp_path):
    output_dir = tmp_path / "bf16"
    metrics = run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora", "--torch_dtype", "bfloat16"))
    assert metrics["train_loss"] > 0 and 0 <= metrics["test_accuracy"] <= 1
    assert set(tensor_dtypes(output_dir / "adapter" / "adapter_model.safetensors").values()) == {"F32"}
    assert set(tensor_dtypes(output_dir / "model.safetensors").values()) == {"BF16"}
    assert json.loads((output_dir / "config.json").read_text())["dtype"] == "bfloat16"
    assert "- torch_dtype: `bfloat16`" in (output_dir / "README.md").read_text()
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    with torch.no_grad():
        assert torch.isfinite(model(**tokenizer(["a good film"], return_tensors="pt")).logits).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path of --bf16")
def test_bf16_mixed_precision_lora_run_on_the_cpu_keeps_float32_weights(tiny_llama, data_dir, tmp_path):
    # bench/llama_defaults.py --bf16 runs this way: autocast over float32 weights (2x on AVX512-BF16 cores).
    output_dir = tmp_path / "bf16-cpu"
    metrics = run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora", "--bf16", "true", "--use_cpu", "true"))
    assert metrics["train_loss"] > 0 and 0 <= metrics["test_accuracy"] <= 1
    assert set(tensor_dtypes(output_dir / "adapter" / "adapter_model.safetensors").values()) == {"F32"}
    assert set(tensor_dtypes(output_dir / "model.safetensors").values()) == {"F32"}
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    with torch.no_grad():
        logits = model(**AutoTokenizer.from_pretrained(output_dir)(["a good film"], return_tensors="pt")).logits
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path of --bf16")
def test_bf16_on_the_cpu_without_use_cpu_is_one_line_that_names_the_flag(tiny_llama, data_dir, tmp_path, capsys):
    message = error_line(["train", *recipe_args(tiny_llama, data_dir, tmp_path / "out", "--bf16", "true")], capsys)
    assert "use_cpu" in message and not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------------
# --gradient_checkpointing with LoRA


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_gradient_checkpointing_with_lora_gives_the_same_loss_and_adapter_gradients(use_reentrant):
    input_ids, attention_mask = right_padded_batch([3, 8, 6], vocab_size=64)
    labels = torch.tensor([0, 1, 1])
    results = []
    for checkpointing in (False, True):
        model = apply_lora(tiny_model("llama", num_labels=2), ModelArguments(model_type="llama", use_lora=True),
                           gradient_checkpointing=checkpointing).train()
        torch.manual_seed(0)  # lora_B starts at zero, which would leave lora_A without gradients
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.1)
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": use_reentrant})
            assert model.get_base_model().model.gradient_checkpointing
        torch.manual_seed(1)  # the same LoRA dropout masks
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}
        results.append((loss.detach(), grads))
    (loss, grads), (loss_checkpointed, grads_checkpointed) = results
    torch.testing.assert_close(loss_checkpointed, loss)
    assert grads_checkpointed.keys() == grads.keys() and any("lora_A" in name for name in grads)
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(grads_checkpointed[name], grad, msg=name)


def test_recipe_with_gradient_checkpointing_trains_like_without(tiny_llama, data_dir, tmp_path, monkeypatch):
    import transformers.modeling_utils

    calls = []
    checkpoint = transformers.modeling_utils.checkpoint

    def counting_checkpoint(function, *args, **kwargs):
        calls.append(kwargs.get("use_reentrant"))
        return checkpoint(function, *args, **kwargs)

    monkeypatch.setattr(transformers.modeling_utils, "checkpoint", counting_checkpoint)
    runs = {}
    for checkpointing in (False, True):
        output_dir = tmp_path / f"gc-{checkpointing}"
        extra = ["--use_lora", "--lora_dropout", "0"] + (["--gradient_checkpointing"] if checkpointing else [])
        runs[checkpointing] = (run(recipe_args(tiny_llama, data_dir, output_dir, *extra)), output_dir)
        assert bool(calls) == checkpointing and set(calls) <= {False}  # each decoder layer, non-reentrant
    (plain, plain_dir), (checkpointed, checkpointed_dir) = runs[False], runs[True]
    assert checkpointed["train_loss"] == pytest.approx(plain["train_loss"], rel=1e-5)
    args = json.loads((checkpointed_dir / "training_args.json").read_text())
    assert args["gradient_checkpointing"] is True
    assert {"use_reentrant": False} in (args.get("activation_checkpointing_kwargs"), args.get("gradient_checkpointing_kwargs"))
    with safe_open(str(plain_dir / "adapter" / "adapter_model.safetensors"), "pt") as a, \
            safe_open(str(checkpointed_dir / "adapter" / "adapter_model.safetensors"), "pt") as b:
        for name in a.keys():
            torch.testing.assert_close(b.get_tensor(name), a.get_tensor(name), msg=name)


@pytest.mark.slow
def test_two_cpu_ranks_train_lora_with_gradient_checkpointing(tiny_llama, data_dir, tmp_path):
    """DDP (2 gloo ranks) with LoRA and non-reentrant checkpoints: every step syncs, one checkpoint is written."""
    output_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(REPO / "recipes" / "finetune.py"), "--use_cpu", "--use_lora", "--gradient_checkpointing",
               *recipe_args(tiny_llama, data_dir, output_dir), "--max_steps", "-1", "--num_train_epochs", "1"]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(next(output_dir.glob("checkpoint-*/trainer_state.json")).read_text())
    # 48 examples, 8 per device: one epoch is 3 steps on 2 ranks (6 on one).
    assert state["global_step"] == 3 and json.loads((output_dir / "all_results.json").read_text())["train_loss"] > 0
    assert (output_dir / "adapter" / "adapter_model.safetensors").exists()


# ----------------------------------------------------------------------------------------------
# One-line errors before any data is read (the dataset named here does not exist)


NO_DATA = ["--dataset", "no/such/corpus.csv"]
OPTION_ERRORS = {
    "4-bit without a GPU": (["--model_type", "llama", "--use_lora", "--load_in_4bit"],
                            "--load_in_4bit needs bitsandbytes and a CUDA GPU (found no bitsandbytes, no GPU): "
                            "pip install bitsandbytes and run on a CUDA GPU machine, or drop the flag"),
    "8-bit without a GPU": (["--model_type", "llama", "--use_lora", "--load_in_8bit"],
                            "--load_in_8bit needs bitsandbytes and a CUDA GPU (found "),
    "4-bit without LoRA": (["--model_type", "llama", "--load_in_4bit"],
                           "--load_in_4bit freezes the model in quantized weights, which cannot be fine-tuned: add --use_lora"),
    "4-bit and 8-bit": (["--model_type", "llama", "--use_lora", "--load_in_4bit", "--load_in_8bit"],
                        "Pass one of --load_in_4bit and --load_in_8bit, not both."),
    "4-bit on a word-level family": (["--model_type", "textcnn", "--use_lora", "--load_in_4bit"],
                                     "--load_in_4bit applies to pretrained families (llama)"),
    "unknown dtype": (["--model_type", "llama", "--torch_dtype", "fp8"],
                      "Unknown --torch_dtype 'fp8'; choose one of auto, float32, bfloat16, float16."),
    "flash-attention without the package": (
        ["--model_type", "llama", "--attn_implementation", "flash_attention_2"],
        "--attn_implementation flash_attention_2 needs flash-attn and a CUDA GPU (found no flash-attn, no GPU): "
        "pip install flash-attn and run on a CUDA GPU machine, or use sdpa (the default)."),
}


@pytest.mark.parametrize("argv, message", OPTION_ERRORS.values(), ids=OPTION_ERRORS.keys())
def test_an_option_that_cannot_work_here_is_one_line_before_the_data(argv, message, capsys, monkeypatch):
    # A machine without a GPU, bitsandbytes or flash-attn (as CI is), wherever the test runs.
    monkeypatch.setattr(precision, "cuda_available", lambda: False)
    monkeypatch.setattr(precision, "installed_version", lambda name: None)
    assert cli_main(["train", *argv, *NO_DATA]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"textcls: error: {message}"), err
    assert err.count("\n") == 1 and len(err) < 300 + len("textcls: error: \n")


def test_4bit_says_which_of_bitsandbytes_and_gpu_is_missing(monkeypatch):
    argv = ["--model_type", "llama", "--use_lora", "--load_in_4bit", *NO_DATA]
    monkeypatch.setattr(precision, "cuda_available", lambda: False)
    monkeypatch.setattr(precision, "installed_version", lambda name: None)
    with pytest.raises(textcls.TextclsError, match=r"\(found no bitsandbytes, no GPU\): pip install bitsandbytes "
                                                  r"and run on a CUDA GPU machine, or drop the flag"):
        parse_args(argv)
    monkeypatch.setattr(precision, "cuda_available", lambda: True)
    with pytest.raises(textcls.TextclsError, match=r"\(found no bitsandbytes, a GPU\): pip install bitsandbytes, or"):
        parse_args(argv)
    monkeypatch.setattr(precision, "installed_version", lambda name: "0.45.0")
    assert parse_args(argv)[0].load_in_4bit
    monkeypatch.setattr(precision, "cuda_available", lambda: False)
    with pytest.raises(textcls.TextclsError, match=r"\(found bitsandbytes 0.45.0, no GPU\): run on a CUDA GPU machine, or"):
        parse_args(argv)


def test_flash_attention_passes_the_check_with_package_and_gpu(monkeypatch):
    monkeypatch.setattr(precision, "cuda_available", lambda: True)
    monkeypatch.setattr(precision, "installed_version", lambda name: "2.8.3" if name == "flash-attn" else None)
    model_args = parse_args(["--model_type", "llama", "--attn_implementation", "flash_attention_2"])[0]
    assert model_args.attn_implementation == "flash_attention_2"


# ----------------------------------------------------------------------------------------------
# 4/8-bit LoRA (QLoRA) end to end. bitsandbytes also runs on the CPU; the recipe asks for a GPU, so the
# test stands one in. Skipped where bitsandbytes is not installed (it is not a textcls dependency).


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes is not installed")
@pytest.mark.parametrize("bits", ["4", "8"])
def test_quantized_lora_saves_a_dequantized_merged_model(bits, tiny_llama, data_dir, tmp_path, monkeypatch):
    from peft import PeftModel

    monkeypatch.setattr(precision, "cuda_available", lambda: True)
    output_dir = tmp_path / f"q{bits}"
    # Large steps, so that the adapter's update is far larger than the tolerance of the comparison below.
    run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora", f"--load_in_{bits}bit", "--torch_dtype", "bfloat16",
                    "--gradient_checkpointing", "--learning_rate", "2e-2", "--max_steps", "6"))
    config = json.loads((output_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    assert set(tensor_dtypes(output_dir / "model.safetensors").values()) == {"BF16"}
    assert f"- quantization: `{'4-bit NF4' if bits == '4' else '8-bit'}`" in (output_dir / "README.md").read_text()

    # The merged model computes what the trained adapter does on the dequantized backbone.
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    batch = tokenizer(["a good film", "the plot was dull and awful", "a story"], padding=True, return_tensors="pt")
    merged = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    base = textcls.LlamaForSequenceClassification.from_pretrained(
        tiny_llama, num_labels=2, pad_token_id=tokenizer.pad_token_id, **precision.from_pretrained_kwargs(
            ModelArguments(model_type="llama", use_lora=True, torch_dtype="bfloat16", **{f"load_in_{bits}bit": True}),
            "score"))
    adapted = PeftModel.from_pretrained(base.dequantize(), output_dir / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits.float(), adapted(**batch).logits.float(), atol=0.02, rtol=0.01)


def test_dora_trains_magnitudes_and_saves_a_merged_model_that_computes_the_adapter(tiny_llama, data_dir, tmp_path):
    from peft import PeftModel

    output_dir = tmp_path / "dora"
    run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora", "--use_dora", "--learning_rate", "2e-2"))
    assert json.loads((output_dir / "adapter" / "adapter_config.json").read_text())["use_dora"] is True
    assert "- use_dora: `True`" in (output_dir / "README.md").read_text()
    # peft starts each magnitude at its weight's row norms; training moved them.
    with safe_open(str(output_dir / "adapter" / "adapter_model.safetensors"), "pt") as adapter:
        magnitudes = {name: adapter.get_tensor(name) for name in adapter.keys() if "lora_magnitude_vector" in name}
    base_layer = LlamaForCausalLM.from_pretrained(tiny_llama).model.layers[0].self_attn.q_proj.weight
    (q_proj_magnitude,) = [m for name, m in magnitudes.items() if "layers.0.self_attn.q_proj" in name]
    assert len(magnitudes) == 2 * 7  # every projection of both layers
    assert not torch.allclose(q_proj_magnitude, base_layer.norm(dim=1), atol=1e-4)

    # The merged model (no peft needed) computes what the adapter does on the base checkpoint.
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    batch = tokenizer(["a good film", "the plot was dull and awful", "a story"], padding=True, return_tensors="pt")
    merged = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    base = textcls.LlamaForSequenceClassification.from_pretrained(tiny_llama, num_labels=2,
                                                                  pad_token_id=tokenizer.pad_token_id)
    adapted = PeftModel.from_pretrained(base, output_dir / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits, adapted(**batch).logits, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------------------------
# The defaults: in --help and in the model card


def test_llama_lora_defaults_show_in_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["train", "--model_type", "llama", "--use_lora", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for flag, default in (("--learning_rate", "0.0008"), ("--head_learning_rate", "0.001"), ("--lora_r", "16"),
                          ("--lora_alpha", "32"), ("--num_train_epochs", "3"), ("--warmup_steps", "0.06"),
                          ("--torch_dtype", "auto"), ("--lora_dropout", "0.0"), ("--long_text", "chunk")):
        section = re.split(r" --\w+ ", help_text.split(f" {flag} ", 1)[1])[0]  # up to the next flag
        assert f"(default: {default})" in section, (flag, section)


@pytest.mark.parametrize("argv, long_text, lora_dropout", [
    (["--model_type", "llama", "--use_lora"], "chunk", 0.0),
    (["--model_type", "llama"], "truncate", 0.05),  # a full fine-tune keeps the common defaults
    (["--model_type", "textcnn", "--use_lora"], "truncate", 0.05),  # so does every other family
])
def test_windows_and_no_adapter_dropout_are_the_llama_lora_defaults_only(argv, long_text, lora_dropout, tmp_path):
    model_args, data_args, _, _ = parse_args([*argv, "--dataset", "movie-snippets", "--output_dir", str(tmp_path)])
    assert (data_args.long_text, model_args.lora_dropout) == (long_text, lora_dropout)


def test_llama_lora_defaults_show_in_the_model_card(tiny_llama, data_dir, tmp_path):
    output_dir = tmp_path / "defaults"
    run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora"))
    card = (output_dir / "README.md").read_text()
    hyperparameters = card.split("## Training hyperparameters")[1].split("##")[0]
    for line in ("- learning_rate: `0.0008`", "- head_learning_rate: `0.001`", "- lora_r: `16`", "- lora_alpha: `32`",
                 "- warmup_steps: `0.06`", "- max_seq_length: `256`", "- torch_dtype: `float32`",
                 "- lora_dropout: `0.0`", "- long_text: `chunk`", "- chunk_stride: `64`",
                 "- lora_target_modules: `q_proj k_proj v_proj o_proj gate_proj up_proj down_proj`"):
        assert line in hyperparameters, (line, hyperparameters)


def test_head_trains_at_its_own_learning_rate(tiny_llama, data_dir, tmp_path):
    from textcls.trainer import TextclsTrainer

    seen = {}
    original = TextclsTrainer.create_optimizer

    def spy(self, model=None):
        optimizer = original(self, model)
        names = {id(p): name for name, p in self.model.named_parameters()}
        seen.update({names[id(p)]: group["lr"] for group in optimizer.param_groups for p in group["params"]})
        return optimizer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TextclsTrainer, "create_optimizer", spy)
        run(recipe_args(tiny_llama, data_dir, tmp_path / "head-lr", "--use_lora", "--head_learning_rate", "5e-3",
                        "--learning_rate", "1e-4"))
    head = {name: lr for name, lr in seen.items() if ".score." in name}
    assert head and set(head.values()) == {5e-3}
    assert {lr for name, lr in seen.items() if "lora_" in name} == {1e-4}


def test_mean_pooling_is_saved_and_reloaded_with_the_model(tiny_llama, data_dir, tmp_path):
    output_dir = tmp_path / "mean"
    run(recipe_args(tiny_llama, data_dir, output_dir, "--use_lora", "--pooling", "mean"))
    assert json.loads((output_dir / "config.json").read_text())["pooling"] == "mean"
    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    batch = tokenizer(["a good film", "the plot was dull and the story awful"], padding=True, return_tensors="pt")
    with torch.no_grad():
        states = model.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        expected = model.score((states * mask).sum(1) / mask.sum(1))
        torch.testing.assert_close(model(**batch).logits, expected, atol=1e-5, rtol=0)


def test_bad_pooling_for_llama_is_one_line_before_the_checkpoint_is_read(data_dir, tmp_path, capsys):
    output_dir = tmp_path / "bad-pooling"
    # An empty folder as the checkpoint: reading it first would fail with a checkpoint error instead.
    not_a_checkpoint = tmp_path / "empty"
    not_a_checkpoint.mkdir()
    message = error_line(["train", *recipe_args(not_a_checkpoint, data_dir, output_dir, "--pooling", "max")], capsys)
    assert message == "Invalid llama settings: Unknown pooling 'max'; choose one of last, mean."
    assert not output_dir.exists()


# ----------------------------------------------------------------------------------------------
# --prompt_suffix (unit tests: tests/test_prompt_suffix.py)


def test_a_trained_llama_ends_inputs_with_the_suffix_in_autotokenizer_pipeline_and_card(tiny_llama, data_dir, tmp_path):
    out = tmp_path / "run"
    assert cli_main(["train", *recipe_args(tiny_llama, data_dir, out, "--prompt_suffix", "the film was")]) == 0
    tokenizer = AutoTokenizer.from_pretrained(out)
    plain = AutoTokenizer.from_pretrained(tiny_llama)  # the base checkpoint's, no suffix
    suffix = plain("the film was", add_special_tokens=False)["input_ids"]
    assert tokenizer("good plot")["input_ids"] == plain("good plot")["input_ids"] + suffix
    assert pipeline("text-classification", model=str(out)).tokenizer("good plot")["input_ids"][-len(suffix):] == suffix
    assert "'the film was'" in (out / "README.md").read_text()  # the card's hyperparameters
    # Continued without the flag, the checkpoint keeps its suffix, and the card still says so.
    again = tmp_path / "again"
    assert cli_main(["train", *recipe_args(out, data_dir, again)]) == 0
    assert AutoTokenizer.from_pretrained(again)("good plot")["input_ids"] == tokenizer("good plot")["input_ids"]
    assert "'the film was'" in (again / "README.md").read_text()


def test_a_suffix_longer_than_the_window_is_one_clear_error_from_the_cli(capsys, tiny_llama, data_dir, tmp_path):
    message = error_line(["train", *recipe_args(tiny_llama, data_dir, tmp_path / "run", "--prompt_suffix",
                                                "the film was a story", "--max_seq_length", "5")], capsys)
    assert message.startswith("--prompt_suffix is 5 tokens, which leaves no room for the text in --max_seq_length 5")
    assert not (tmp_path / "run" / "model.safetensors").exists()


# ----------------------------------------------------------------------------------------------
# --padding_free (textcls.collation.packed_batch)


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_a_packed_row_gives_each_text_the_logits_loss_and_gradients_of_a_padded_batch(pooling, attn_implementation):
    texts = [[5, 6, 7], [8, 9, 10, 11, 12], [13], [14, 15]]  # a one-token text between two others
    labels = [0, 1, 1, 0]
    packed = packed_batch([{"input_ids": ids, "label": label} for ids, label in zip(texts, labels)])
    assert list(packed) == ["labels", "input_ids", "position_ids"]  # labels first: the Trainer's batch size
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3, 4, 0, 0, 1]]
    width = max(map(len, texts))
    padded = {"input_ids": torch.tensor([ids + [0] * (width - len(ids)) for ids in texts]),
              "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in texts]),
              "labels": torch.tensor(labels)}
    results = []
    for batch in (padded, packed):
        model = tiny_model("llama", num_labels=2, pooling=pooling)
        model.config._attn_implementation = attn_implementation
        output = model(**batch)
        output.loss.backward()
        results.append((output.logits, output.loss, model.model.layers[0].self_attn.q_proj.weight.grad))
    for expected, got in zip(*results):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_a_row_of_one_text_ending_in_the_pad_token_is_pooled_like_its_padded_batch(pooling):
    # SmolLM2's pad token is its eos: in a padding-free row it is text, whatever its id.
    model = tiny_model("llama", num_labels=2, pooling=pooling, pad_token_id=2)
    text = [5, 6, 7, 2]
    alone = model(**packed_batch([{"input_ids": text}])).logits
    padded = model(input_ids=torch.tensor([text + [2]]), attention_mask=torch.tensor([[1, 1, 1, 1, 0]])).logits
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-4)


def test_packing_refuses_an_empty_text_instead_of_shifting_the_labels():
    with pytest.raises(TextclsError, match="--padding_free cannot pack a text of no tokens"):
        packed_batch([{"input_ids": [5, 6], "label": 0}, {"input_ids": [], "label": 1}])


@pytest.mark.parametrize("long_text", ["truncate", "chunk"])
def test_padding_free_training_matches_padded_training(long_text, tiny_llama, data_dir, tmp_path, monkeypatch, caplog):
    # Windows of 4 tokens cut every text in two or more: with chunk, training packs windows of several texts.
    extra = ["--use_lora", "--lora_dropout", "0", "--long_text", long_text, "--max_seq_length", "4"]
    packed_rows = []  # (texts, tokens) of each packed row

    def recording_packed_batch(features):
        batch = packed_batch(features)
        packed_rows.append((len(batch["labels"]), batch["input_ids"].shape[1]))
        return batch

    monkeypatch.setattr(collation, "packed_batch", recording_packed_batch)
    padded = run(recipe_args(tiny_llama, data_dir, tmp_path / "padded", *extra))
    assert not packed_rows
    packed = run(recipe_args(tiny_llama, data_dir, tmp_path / "packed", *extra, "--padding_free"))
    # Training batches of 8 are packed (3 steps; the Trainer may fetch one ahead), each row more than one 4-token
    # window; the evaluation batches (16 texts) pad.
    assert len(packed_rows) >= 3 and all(texts == 8 and tokens > 4 for texts, tokens in packed_rows)
    for key in ("train_loss", "eval_loss", "eval_accuracy", "test_loss", "test_accuracy"):
        assert packed[key] == pytest.approx(padded[key], rel=1e-4, abs=1e-6), key
    assert "padding_free" in (tmp_path / "packed" / "README.md").read_text()  # the card's hyperparameters
    slower = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--padding_free under sdpa")]
    assert len(slower) == 1 and "flash_attention_2" in slower[0]
