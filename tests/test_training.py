"""The fine-tuning recipe end to end on tiny data: every family, LoRA, problem types, 2 ranks, predict."""

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    TrainerCallback,
    pipeline,
)

import textcls
from textcls.cli import main as cli_main
from textcls.training import run

REPO = Path(__file__).resolve().parents[1]
POSITIVE = ["good", "great", "excellent", "wonderful", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "poor", "dreadful"]
FILLER = ["the", "film", "plot", "was", "cast", "and", "really", "quite", "a", "story", "music", "ending"]


def synthetic_rows(n, seed):
    """Texts whose sentiment words decide the label: learnable in a few epochs."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.sample(FILLER, rng.randint(2, 8)) + rng.sample(POSITIVE if label == "positive" else NEGATIVE, 2)
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return {
        split: write_csv(folder / f"{split}.csv", synthetic_rows(n, seed))
        for split, n, seed in (("train", 160, 0), ("validation", 40, 1), ("test", 40, 2))
    }


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A tiny random Llama causal-LM checkpoint with a word-level tokenizer: a stand-in for SmolLM2."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = textcls.train_word_tokenizer([row["text"] for row in synthetic_rows(200, 9)])
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def file_args(data_files):
    return ["--train_file", data_files["train"], "--validation_file", data_files["validation"],
            "--test_file", data_files["test"]]


FAST = ["--per_device_train_batch_size", "16", "--logging_steps", "5", "--disable_tqdm", "true"]
FAMILY_ARGS = {
    "textcnn": ["--model_type", "textcnn", "--num_train_epochs", "6", "--embedding_dim", "32", "--num_filters", "16"],
    "dpcnn": ["--model_type", "dpcnn", "--num_train_epochs", "10", "--learning_rate", "3e-3", "--embedding_dim", "32", "--num_filters", "16"],
    "llama": ["--model_type", "llama", "--num_train_epochs", "8", "--learning_rate", "3e-3"],
}


def family_args(family, tiny_llama):
    return FAMILY_ARGS[family] + (["--model_name_or_path", tiny_llama] if family == "llama" else [])


@pytest.mark.parametrize("family", ["textcnn", "dpcnn", "llama"])
def test_recipe_trains_evaluates_and_saves_a_hub_checkpoint(family, data_files, tiny_llama, tmp_path):
    output_dir = tmp_path / "run"
    metrics = run([*family_args(family, tiny_llama), *file_args(data_files), *FAST, "--output_dir", str(output_dir)])
    assert metrics["test_accuracy"] >= 0.9, metrics  # sentiment words decide the label: an easy task

    saved = json.loads((output_dir / "all_results.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"] and "eval_f1_macro" in saved
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert not [p.name for p in output_dir.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    assert (output_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (output_dir / "README.md").read_text()
    assert f"| accuracy | {metrics['eval_accuracy']:.4f} | {metrics['test_accuracy']:.4f} |" in card

    # The folder is a plain HF checkpoint: Auto classes and pipeline agree with each other.
    model = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    texts = ["a great and lovely film", "the plot was awful and boring"]
    with torch.no_grad():
        predicted = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.argmax(-1).tolist()
    assert [model.config.id2label[i] for i in predicted] == ["positive", "negative"]
    assert [r["label"] for r in pipeline("text-classification", model=str(output_dir))(texts)] == ["positive", "negative"]


def test_callbacks_given_to_run_see_every_epoch_and_step(data_files, tmp_path):
    class Counter(TrainerCallback):
        def __init__(self):
            self.epochs, self.steps, self.evaluations, self.train_batches = 0, 0, 0, None

        def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
            self.train_batches = len(train_dataloader)

        def on_epoch_end(self, args, state, control, **kwargs):
            self.epochs += 1

        def on_step_end(self, args, state, control, **kwargs):
            self.steps += 1

        def on_evaluate(self, args, state, control, **kwargs):
            self.evaluations += 1

    counter = Counter()
    run(["--model_type", "textcnn", "--num_train_epochs", "2", "--embedding_dim", "8", "--num_filters", "4",
         *file_args(data_files), *FAST, "--output_dir", str(tmp_path / "run")], callbacks=[counter])
    # 160 training rows in batches of 16: 10 steps an epoch; the recipe evaluates after each epoch and once at the end.
    assert (counter.epochs, counter.steps, counter.train_batches, counter.evaluations) == (2, 20, 10, 3)


class AdapterStates(TrainerCallback):
    """Whether the LoRA adapters are merged into the weights at each evaluation and prediction."""

    def __init__(self):
        self.evaluations, self.predictions = [], []

    @staticmethod
    def merged(model):
        from peft.tuners.tuners_utils import BaseTunerLayer

        (state,) = {module.merged for module in model.modules() if isinstance(module, BaseTunerLayer)}
        return state

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        self.evaluations.append(self.merged(model))

    def on_predict(self, args, state, control, model=None, **kwargs):
        self.predictions.append(self.merged(model))


def test_lora_run_saves_merged_model_that_loads_without_peft(data_files, tiny_llama, tmp_path):
    output_dir = tmp_path / "lora"
    adapters = AdapterStates()
    metrics = run([*family_args("llama", tiny_llama), "--use_lora", "--lora_r", "4", *file_args(data_files), *FAST,
                   "--output_dir", str(output_dir)], callbacks=[adapters])
    assert (output_dir / "adapter" / "adapter_model.safetensors").exists()
    # Adapters train unmerged (8 epoch evaluations); the final evaluation and the test pass run merged ...
    assert (adapters.evaluations, adapters.predictions) == ([False] * 8 + [True], [True])
    # ... so the test loss reported is the saved model's own.
    with open(data_files["test"], encoding="utf-8") as f:
        test_rows = list(csv.DictReader(f))
    saved = AutoModelForSequenceClassification.from_pretrained(output_dir).eval()
    saved_tokenizer = AutoTokenizer.from_pretrained(output_dir)
    with torch.no_grad():
        logits = saved(**saved_tokenizer([r["text"] for r in test_rows], padding=True, return_tensors="pt")).logits
    labels = torch.tensor([saved.config.label2id[r["label"]] for r in test_rows])
    assert torch.nn.functional.cross_entropy(logits, labels).item() == pytest.approx(metrics["test_loss"], abs=1e-5)
    texts = ["a great and lovely film", "the plot was awful and boring", "quite a story"]

    from peft import PeftModel

    base = textcls.LlamaForSequenceClassification.from_pretrained(
        tiny_llama, num_labels=2, pad_token_id=0, id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1})
    adapted = PeftModel.from_pretrained(base, output_dir / "adapter").eval()
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    with torch.no_grad():
        expected = adapted(**tokenizer(texts, padding=True, return_tensors="pt")).logits

    script = (
        "import sys, torch\n"
        "sys.modules['peft'] = None; sys.modules['textcls'] = None  # neither may be needed\n"
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
        "path = sys.argv[1]\n"
        "model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()\n"
        "tok = AutoTokenizer.from_pretrained(path)\n"
        "with torch.no_grad():\n"
        "    torch.save(model(**tok(sys.argv[2:], padding=True, return_tensors='pt')).logits, path + '/merged.pt')\n"
    )
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", script, str(output_dir), *texts], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    torch.testing.assert_close(torch.load(output_dir / "merged.pt"), expected, atol=1e-5, rtol=0)


def test_multi_label_and_regression_data_pick_their_heads(tmp_path):
    rows = synthetic_rows(60, 3)
    multi = tmp_path / "multi.jsonl"
    multi.write_text("".join(json.dumps({"text": r["text"], "tags": [r["label"], "film"] if "film" in r["text"] else [r["label"]]}) + "\n" for r in rows))
    metrics = run(["--train_file", str(multi), "--label_column", "tags", "--output_dir", str(tmp_path / "m"),
                   "--multi_label_threshold", "0.5",  # predict is compared with sigmoid > 0.5 below
                   "--num_train_epochs", "1", "--embedding_dim", "16", *FAST])
    assert {"eval_f1_micro", "eval_f1_macro", "eval_subset_accuracy"} <= set(metrics)
    assert json.loads((tmp_path / "m" / "config.json").read_text())["problem_type"] == "multi_label_classification"
    assert_predict_matches_model(tmp_path / "m", tmp_path, lambda logits: logits.sigmoid() > 0.5)

    scores = tmp_path / "scores.csv"
    write_csv(scores, [{"text": r["text"], "score": 0.9 if r["label"] == "positive" else 0.1} for r in rows])
    metrics = run(["--train_file", str(scores), "--label_column", "score", "--output_dir", str(tmp_path / "r"),
                   "--num_train_epochs", "1", "--model_type", "dpcnn", "--embedding_dim", "16", *FAST])
    assert {"eval_mse", "eval_mae", "eval_pearson", "eval_spearman"} <= set(metrics)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["problem_type"] == "regression" and len(config["id2label"]) == 1
    assert_predict_matches_model(tmp_path / "r", tmp_path, lambda logits: logits[:, 0])


def assert_predict_matches_model(checkpoint, tmp_path, expected_from_logits):
    """`textcls predict` (jsonl) against the model run directly: label sets (multi-label) or values (regression)."""
    texts = [row["text"] for row in synthetic_rows(12, 8)]
    (tmp_path / "in.txt").write_text("\n".join(texts))
    out = tmp_path / "out.jsonl"
    assert cli_main(["predict", "--model", str(checkpoint), str(tmp_path / "in.txt"), "-o", str(out)]) == 0
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    with torch.no_grad():
        expected = expected_from_logits(model(**tokenizer(texts, padding=True, return_tensors="pt")).logits)
    for prediction, row in zip(predictions, expected):
        if row.dtype == torch.bool:
            assert prediction["label"] == [model.config.id2label[i] for i in row.nonzero().flatten().tolist()]
        else:
            assert prediction["label"] == "score" and prediction["score"] == pytest.approx(row.item(), abs=1e-5)


def test_two_cpu_ranks_train_data_parallel_and_save_one_checkpoint(data_files, tmp_path):
    output_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        str(REPO / "recipes" / "finetune.py"), "--use_cpu", *file_args(data_files), *FAST,
        "--num_train_epochs", "1", "--embedding_dim", "16", "--output_dir", str(output_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(next(output_dir.glob("checkpoint-*/trainer_state.json")).read_text())
    # 160 examples, 16 per device: one epoch is 5 steps on 2 ranks (10 on one).
    assert state["global_step"] == 5
    assert AutoModelForSequenceClassification.from_pretrained(output_dir).config.model_type == "textcnn"


@pytest.fixture(scope="module")
def trained_textcnn(data_files, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("trained") / "textcnn"
    run([*FAMILY_ARGS["textcnn"], *file_args(data_files), *FAST, "--output_dir", str(output_dir)])
    return output_dir


@pytest.mark.parametrize("output_name", ["predictions.csv", "predictions.jsonl"])
def test_predict_on_a_file_matches_the_pipeline(trained_textcnn, tmp_path, output_name):
    texts = [row["text"] for row in synthetic_rows(30, 5)]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n\n")  # blank lines are skipped
    out = tmp_path / output_name
    assert cli_main(["predict", "--model", str(trained_textcnn), str(source), "-o", str(out), "--batch_size", "7"]) == 0
    if output_name.endswith(".csv"):
        with open(out, newline="") as f:
            predictions = list(csv.DictReader(f))
    else:
        predictions = [json.loads(line) for line in out.read_text().splitlines()]
    expected = pipeline("text-classification", model=str(trained_textcnn))(texts)
    assert [p["text"] for p in predictions] == texts
    assert [p["label"] for p in predictions] == [e["label"] for e in expected]
    for prediction, reference in zip(predictions, expected):
        assert float(prediction["score"]) == pytest.approx(reference["score"], abs=1e-5)


def test_a_finished_output_dir_is_not_overwritten(trained_textcnn, data_files, capsys):
    before = (trained_textcnn / "model.safetensors").read_bytes()
    code = cli_main(["train", *file_args(data_files), "--output_dir", str(trained_textcnn)])
    assert code == 2
    assert "already holds a finished run: pass --overwrite_output_dir" in capsys.readouterr().err
    assert (trained_textcnn / "model.safetensors").read_bytes() == before


@pytest.mark.slow
def test_smollm2_with_lora_fine_tunes_a_few_steps(tmp_path):
    """The real pretrained SmolLM2-135M (converted from its GGUF once, cached) on the real corpus."""
    output_dir = tmp_path / "smollm2"
    metrics = run(["--model_type", "llama", "--model_name_or_path", "smollm2-135m", "--use_lora",
                   "--dataset", "movie-snippets", "--max_steps", "3", "--max_train_samples", "48",
                   "--max_eval_samples", "32", "--max_test_samples", "32", "--per_device_train_batch_size", "8",
                   "--output_dir", str(output_dir), "--disable_tqdm", "true"])
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_loss"] > 0
    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == "textcls_llama" and config["num_hidden_layers"] == 30
    assert (output_dir / "adapter" / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    assert isinstance(model, textcls.LlamaForSequenceClassification)


@pytest.mark.parametrize("name, distributed_type", [("multi_gpu", "MULTI_GPU"), ("multi_node", "MULTI_GPU"), ("fsdp", "FSDP")])
def test_shipped_accelerate_configs_parse(name, distributed_type):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO / "recipes" / "accelerate" / f"{name}.yaml"))
    assert config.distributed_type == distributed_type


def test_push_to_hub_uploads_the_final_folder_with_our_card(data_files, tmp_path, monkeypatch):
    """The Hub cannot be reached here: the Trainer's own push runs against a stand-in for the Hub API."""
    import transformers.trainer

    uploads = []

    class FakeHub:
        def create_repo(self, repo_id, **kwargs):
            return type("RepoUrl", (), {"repo_id": repo_id})()

        def upload_folder(self, **kwargs):
            folder = Path(kwargs["folder_path"])
            uploads.append({p.name for p in folder.iterdir() if not p.name.startswith("_")
                            and not p.name.startswith("checkpoint-")})
            uploads[-1].add(("README", (folder / "README.md").read_text()))

    monkeypatch.setattr(transformers.trainer, "hf_api", lambda: FakeHub())
    output_dir = tmp_path / "pushed"
    run([*FAMILY_ARGS["textcnn"], *file_args(data_files), *FAST, "--num_train_epochs", "1", "--output_dir",
         str(output_dir), "--push_to_hub", "--hub_model_id", "someone/textcnn-test", "--hub_strategy", "end"])
    assert len(uploads) == 1
    files = {f for f in uploads[0] if isinstance(f, str)}
    card = next(f[1] for f in uploads[0] if isinstance(f, tuple))
    assert {"config.json", "model.safetensors", "tokenizer.json", "modeling_textcnn.py", "README.md"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth"))]
    assert 'model="someone/textcnn-test"' in card and "## Results" in card and "textcls" in card


@pytest.mark.slow
def test_recipe_fine_tunes_straight_from_a_gguf_file(tmp_path):
    from textcls.resources import smollm2_gguf

    gguf = smollm2_gguf()
    output_dir = tmp_path / "from-gguf"
    run(["--model_type", "llama", "--model_name_or_path", str(gguf.parent), "--gguf_file", gguf.name, "--use_lora",
         "--dataset", "movie-snippets", "--max_steps", "2", "--max_train_samples", "16", "--max_eval_samples", "8",
         "--max_test_samples", "8", "--per_device_train_batch_size", "8", "--output_dir", str(output_dir),
         "--disable_tqdm", "true"])
    config = json.loads((output_dir / "config.json").read_text())
    assert config["model_type"] == "textcls_llama" and "quantization_config" not in config
    assert AutoTokenizer.from_pretrained(output_dir).pad_token is not None
