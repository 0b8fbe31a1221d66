"""Speed benchmark: each comparison runs A and B in this one process, alternating, warm-up excluded.

    python bench/speed.py            # full -> bench/results/speed.json
    python bench/speed.py --quick    # CI-sized (tiny random Llama, small subsets) -> bench/results/speed-quick.json
    python bench/speed.py --only a   # some comparisons: a, b, c, d, e, f, g, h, i

(a) training step: our LlamaForSequenceClassification vs transformers', same weights, LoRA, batches
(b) input pipeline: the recipe's Trainer dataloader (length-grouped, dynamic padding) vs every batch
    padded to 128 (the HF example scripts), same model and training step
(c) inference: `textcls predict` (predict_logits + labels) vs pipeline("text-classification")
(d) TextCNN / DPCNN: the Trainer recipe vs a minimal plain-PyTorch loop
(e) minilm-l6 (the `auto` family): one whole epoch of movie-snippets through the recipe (its train
    samples/s and epoch time) vs a plain loop, and `textcls predict` vs pipeline as in (c)
(f) the end of a LoRA run: evaluating SmolLM2 + LoRA at the Llama defaults with the adapters merged into
    the weights (the recipe's final evaluation and test pass) vs peft's unmerged adapters, topic documents
(g) a LoRA training step of SmolLM2 at the Llama defaults on topic documents: bf16 autocast (`--bf16`)
    vs float32, same weights and batches (on the CPU: fast only on cores with AVX512-BF16 or AMX)
(h) the same step without dropout on the LoRA adapters' input (the Llama default) vs with 0.05 (the
    earlier default), same weights and batches
(i) the same step on padding-free batches (`--padding_free`: each batch's texts end to end in one row) vs
    the same texts padded, same weights

The machines are noisy (2 shared CPU cores here), so only ratios of interleaved runs are reported:
A and B alternate (A,B then B,A), the first round of each is a warm-up and is dropped, and each
figure is the median over the remaining rounds. On a GPU the same code runs in bf16 autocast.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import (  # noqa: E402
    RESULTS_DIR,
    RUNS_DIR,
    add_threads_argument,
    apply_threads,
    load_json,
    machine_info,
    markdown_table,
    save_json,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TARGETS = {"a": 1.0, "b": 4.0, "c": 1.5, "d": 0.9, "f": 1.0, "g": 1.0, "h": 1.0, "i": 1.0}
MINILM_EPOCH_TARGET_S = 240  # issue 10: one epoch of movie-snippets in under 4 minutes


def autocast(bf16: bool | None = None):
    """bf16 autocast on a GPU; fp32 on the CPU (bf16 matmuls are slow on CPUs without AVX512-BF16), unless
    `bf16` says which."""
    bf16 = DEVICE == "cuda" if bf16 is None else bf16
    return torch.autocast(DEVICE, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def alternate(candidates: dict[str, Callable[[], dict]], rounds: int, warmup: int = 1) -> dict[str, list[dict]]:
    """Run every candidate once per round, in alternating order; each call returns counts (samples, tokens).

    Returns, per candidate, the counts and seconds of every round after the warm-up ones.
    """
    names = list(candidates)
    measured: dict[str, list[dict]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            sync()
            start = time.perf_counter()
            counts = dict(candidates[name]())
            sync()
            # A candidate may time itself (the Trainer: its training loop, without its one-off set-up).
            seconds = counts.pop("seconds", time.perf_counter() - start)
            if round_index >= warmup:
                measured[name].append(dict(counts, seconds=seconds))
            tag = "warm-up" if round_index < warmup else f"round {round_index - warmup + 1}"
            print(f"  {tag}: {name}: {seconds:.2f} s {counts}", flush=True)
    return measured


def median_rate(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] / r["seconds"] for r in rounds)


def paired_ratio(measured: dict, a_name: str, b_name: str, key: str) -> float:
    """Median over rounds of A's rate / B's rate in the same round: the two ran back to back (same
    machine load) and, where the inputs are shared, on the same batch, so both effects cancel."""
    return statistics.median(
        (a[key] / a["seconds"]) / (b[key] / b["seconds"]) for a, b in zip(measured[a_name], measured[b_name])
    )


def comparison(label: str, unit: str, a_name: str, b_name: str, measured: dict, key: str, target: float, **extra) -> dict:
    a, b = median_rate(measured[a_name], key), median_rate(measured[b_name], key)
    ratio = paired_ratio(measured, a_name, b_name, key)
    result = dict(comparison=label, unit=unit, key=key, a=a_name, b=b_name, a_rate=a, b_rate=b, ratio=ratio,
                  target=target, met=ratio >= target, rounds=len(measured[a_name]), raw=measured, **extra)
    print(f"  -> {label}: {a_name} {a:.1f} vs {b_name} {b:.1f} {unit} (medians); paired ratio {ratio:.2f}x "
          f"(target >= {target}x)", flush=True)
    return result


# ----------------------------------------------------------------------------------------------
# Llama: the model pair, LoRA, batches


def llama_tokenizer():
    from transformers import AutoTokenizer

    from textcls.resources import smollm2_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # as the recipe does
    return tokenizer


def our_llama(quick: bool, num_labels: int = 2):
    """SmolLM2-135M as our classifier; quick mode: a tiny random Llama (same code, seconds not minutes)."""
    from textcls import LlamaForSequenceClassification
    from textcls.models import TextclsLlamaConfig
    from textcls.resources import smollm2_checkpoint

    if quick:
        config = TextclsLlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2, pad_token_id=2, num_labels=num_labels)
        torch.manual_seed(0)
        return LlamaForSequenceClassification(config)
    return LlamaForSequenceClassification.from_pretrained(
        smollm2_checkpoint(), num_labels=num_labels, pad_token_id=2, dtype=torch.float32
    )


def transformers_twin(ours):
    """transformers' LlamaForSequenceClassification with exactly our weights (backbone and `score` head)."""
    import transformers

    config_dict = {k: v for k, v in ours.config.to_dict().items() if k not in ("model_type", "auto_map", "architectures")}
    config = transformers.LlamaConfig(**config_dict)
    config._attn_implementation = ours.config._attn_implementation
    theirs = transformers.LlamaForSequenceClassification(config)
    missing, unexpected = theirs.load_state_dict(ours.state_dict(), strict=True)
    return theirs.to(torch.float32)


def with_lora(model):
    """LoRA as ModelArguments builds it for llama without the family's LoRA training defaults (rank 8, every
    linear projection, dropout 0.05; SEQ_CLS), with the same initial adapter weights every time."""
    from textcls.arguments import ModelArguments
    from textcls.training import apply_lora

    torch.manual_seed(0)
    return apply_lora(model, ModelArguments(model_type="llama", use_lora=True))


def lora_at_defaults(quick: bool, num_labels: int, **changes):
    """Our Llama (SmolLM2, or the tiny one) with LoRA at the Llama family's defaults (rank, alpha, dropout,
    targets) but for `changes`, the same initial adapter weights every time; returns it and those LoRA settings."""
    from textcls.arguments import ModelArguments
    from textcls.families import FAMILIES
    from textcls.training import apply_lora

    lora = {k: v for k, v in FAMILIES["llama"].lora_training_defaults.items() if k.startswith("lora_")} | changes
    torch.manual_seed(0)
    return apply_lora(our_llama(quick, num_labels), ModelArguments(model_type="llama", use_lora=True, **lora)), lora


def movie_snippets(split: str, limit: int | None = None):
    from textcls.data import load_builtin_dataset

    data = load_builtin_dataset("movie-snippets")[split]
    return data.select(range(min(limit, len(data)))) if limit else data


def length_grouped_batches(tokenizer, texts, labels, batch_size: int, count: int, max_length: int = 128):
    """`count` padded batches in the order a length-grouped sampler gives (fixed seed)."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = list(LengthGroupedSampler(batch_size, lengths=[len(ids) for ids in encoded],
                                      generator=torch.Generator().manual_seed(0)))
    batches = []
    for start in range(0, batch_size * count, batch_size):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
        batch["labels"] = torch.tensor([labels[i] for i in rows])
        batches.append(batch)
    return batches


def model_inputs(batch) -> dict:
    """A batch without its labels, on the benchmark's device: what a forward pass for logits takes."""
    return {k: v.to(DEVICE) for k, v in batch.items() if k != "labels"}


def train_step(model, optimizer, batch, bf16: bool | None = None) -> dict:
    """One step (forward, backward, AdamW); returns the samples and real (non-pad) tokens it processed."""
    batch = {k: v.to(DEVICE) for k, v in batch.items()}
    with autocast(bf16):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    mask = batch.get("attention_mask")
    # A padding-free batch (packed_batch) has no attention mask: every token in it is real.
    real_tokens = int(mask.sum()) if mask is not None else batch["input_ids"].numel()
    return dict(samples=len(batch["labels"]), tokens=real_tokens, padded_tokens=batch["input_ids"].numel())


def adamw(model, lr: float):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)


def bench_llama_step(quick: bool) -> dict:
    """(a) Same weights, same LoRA, same batches: our model's training step vs transformers'."""
    print("(a) Llama training step: ours vs transformers", flush=True)
    tokenizer = llama_tokenizer()
    rounds = 5 if quick else 8
    data = movie_snippets("train")
    batches = length_grouped_batches(tokenizer, data["text"], data["label"], 16, rounds + 2)
    ours = our_llama(quick)
    theirs = transformers_twin(ours)
    ours, theirs = with_lora(ours).to(DEVICE), with_lora(theirs).to(DEVICE)

    # Same weights and inputs must give the same logits, or the comparison means nothing.
    ours.eval(), theirs.eval()
    with torch.no_grad(), autocast():
        probe = model_inputs(batches[0])
        max_diff = (ours(**probe).logits - theirs(**probe).logits).abs().max().item()
    print(f"  max |logits ours - transformers| on the first batch: {max_diff:.2e}", flush=True)
    ours.train(), theirs.train()

    optimizers = {"ours": adamw(ours, 1e-4), "transformers": adamw(theirs, 1e-4)}
    models = {"ours": ours, "transformers": theirs}
    # Warm-up: one step each (the very first step on this CPU takes ~20 s).
    steps = {name: iter(batches) for name in models}
    measured = alternate(
        {name: (lambda name=name: train_step(models[name], optimizers[name], next(steps[name]))) for name in models},
        rounds=rounds, warmup=2,
    )
    samples = comparison("(a) Llama train step", "samples/s", "ours", "transformers", measured, "samples", TARGETS["a"],
                         max_logit_diff=max_diff, batch_size=16)
    tokens = comparison("(a) Llama train step", "real tokens/s", "ours", "transformers", measured, "tokens", TARGETS["a"])
    return dict(samples=samples, tokens=tokens)


def bench_input_pipeline(quick: bool) -> dict:
    """(b) Same model and step; the recipe's Trainer dataloader vs every batch padded to 128."""
    from torch.utils.data import DataLoader
    from transformers import Trainer, default_data_collator

    from textcls.arguments import parse_args
    from textcls.collation import PaddingCollator
    from textcls.training import tokenize_splits

    print("(b) input pipeline: recipe (length-grouped, dynamic padding) vs padded to 128", flush=True)
    tokenizer = llama_tokenizer()
    model = with_lora(our_llama(quick)).to(DEVICE)
    data = movie_snippets("train")

    # A: exactly the recipe's settings (batch 16, max_seq_length 128, group_by_length) and its Trainer.
    with tempfile.TemporaryDirectory() as tmp:
        # (Evaluation and checkpoints off: they do not change the training dataloader.)
        _, _, _, training_args = parse_args(["--model_type", "llama", "--use_lora", "--output_dir", tmp,
                                             "--eval_strategy", "no", "--save_strategy", "no",
                                             "--load_best_model_at_end", "false"])
        max_seq_length = 128
        tokenized = tokenize_splits(datasets_dict(data), tokenizer, max_seq_length)["train"]
        trainer = Trainer(model=model, args=training_args, train_dataset=tokenized, processing_class=tokenizer,
                          data_collator=PaddingCollator(tokenizer))
        recipe_loader = trainer.get_train_dataloader()
    batch_size = training_args.per_device_train_batch_size

    # B: the HF example scripts' default: pad every text to max_seq_length, shuffle.
    padded = data.map(lambda b: tokenizer(b["text"], padding="max_length", truncation=True, max_length=max_seq_length),
                      batched=True, remove_columns=["text"]).rename_column("label", "labels")
    padded_loader = DataLoader(padded, batch_size=batch_size, shuffle=True, collate_fn=default_data_collator,
                               generator=torch.Generator().manual_seed(0))

    optimizer = adamw(model, 1e-4)
    iterators = {"recipe": iter(recipe_loader), "padded-128": iter(padded_loader)}
    steps_per_round = 2

    def run_steps(name):
        totals = dict(samples=0, tokens=0, padded_tokens=0)
        for _ in range(steps_per_round):
            for key, value in train_step(model, optimizer, next(iterators[name])).items():
                totals[key] += value
        return totals

    rounds = 2 if quick else 4  # full: 8 measured steps each
    measured = alternate({name: (lambda name=name: run_steps(name)) for name in iterators}, rounds=rounds, warmup=1)
    return comparison("(b) input pipeline", "real tokens/s", "recipe", "padded-128", measured, "tokens", TARGETS["b"],
                      batch_size=batch_size, steps_per_round=steps_per_round)


def datasets_dict(train):
    import datasets

    return datasets.DatasetDict(train=train)


# ----------------------------------------------------------------------------------------------
# (c) inference


# The accuracy benchmark's movie-snippets run of each word-level family measured in (c).
ACCURACY_RUNS = {"textcnn": "textcnn-rand", "fasttext": "fasttext", "textrnn": "textrnn"}


def checkpoint_for(kind: str, quick: bool) -> Path:
    """A trained checkpoint: the accuracy benchmark's if it exists, else a small one made now."""
    if kind in ACCURACY_RUNS:
        found = RUNS_DIR / "full" / "movie-snippets" / f"{ACCURACY_RUNS[kind]}-s42"
        if (found / "config.json").is_file():
            return found
        out = RUNS_DIR / "speed" / kind
        if not (out / "config.json").is_file():
            from textcls.training import run

            run(["--model_type", kind, "--max_train_samples", "1000", "--num_train_epochs", "1",
                 "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                 "--output_dir", str(out), "--overwrite_output_dir", "--disable_tqdm", "true"])
        return out
    found = RUNS_DIR / "full" / "movie-snippets" / ("minilm-l6-s42" if kind == "minilm" else "smollm2-135m-lora-s42")
    if not quick and (found / "config.json").is_file():
        return found
    out = RUNS_DIR / "speed" / (f"{kind}-tiny" if quick else kind)
    if not (out / "config.json").is_file():
        model, tokenizer = minilm(quick) if kind == "minilm" else (our_llama(quick), llama_tokenizer())
        model.config.id2label, model.config.label2id = {0: "negative", 1: "positive"}, {"negative": 0, "positive": 1}
        model.save_pretrained(out)  # untrained head: speed does not depend on the weights
        tokenizer.save_pretrained(out)
    return out


def minilm(quick: bool):
    """all-MiniLM-L6-v2 with a new 2-label head, and its tokenizer; quick mode: a tiny random BERT."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    from textcls.resources import minilm_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(minilm_checkpoint())
    if quick:
        torch.manual_seed(0)
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=128, num_labels=2)
        return BertForSequenceClassification(config), tokenizer
    return AutoModelForSequenceClassification.from_pretrained(minilm_checkpoint(), num_labels=2), tokenizer


def bench_inference(kind: str, quick: bool) -> dict:
    from transformers import pipeline

    from textcls.inference import label_predictions, load_checkpoint, predict_logits

    print(f"(c) inference, {kind}: textcls predict vs pipeline('text-classification')", flush=True)
    path = checkpoint_for(kind, quick)
    model, tokenizer = load_checkpoint(str(path), device=DEVICE)
    if DEVICE == "cuda":
        model = model.to(torch.bfloat16)
    limit = 256 if kind == "llama" else None  # a Llama pass over 256 texts is ~13 s on the CPU; the others: all 1,057
    texts = list(movie_snippets("test", 64 if quick else limit)["text"])
    batch_size = 64
    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device=model.device)

    def ours():
        labels = label_predictions(model, predict_logits(model, tokenizer, texts, batch_size=batch_size))
        ours.labels = [p["label"] for p in labels]
        return dict(texts=len(texts))

    def theirs():
        theirs.labels = [p["label"] for p in classifier(texts, batch_size=batch_size, truncation=True)]
        return dict(texts=len(texts))

    measured = alternate({"textcls predict": ours, "pipeline": theirs}, rounds=2 if quick else (3 if kind == "llama" else 5))
    agreement = float(np.mean([a == b for a, b in zip(ours.labels, theirs.labels)]))
    print(f"  labels agree on {100 * agreement:.1f}% of the texts", flush=True)
    return comparison(f"(c) inference {kind}", "texts/s", "textcls predict", "pipeline", measured, "texts",
                      TARGETS["c"], checkpoint=str(path.relative_to(RUNS_DIR.parent)), texts=len(texts),
                      batch_size=batch_size, label_agreement=agreement)


# ----------------------------------------------------------------------------------------------
# (d) CNN families: Trainer recipe vs plain PyTorch


def bench_trainer_vs_loop(family: str, quick: bool, train_samples: int | None = 3000, rounds: int = 3) -> dict:
    """One epoch of a fixed movie-snippets subset (None: all of it) per round, through the recipe's Trainer and a plain loop."""
    from torch.utils.data import DataLoader
    from transformers import (
        DataCollatorWithPadding,
        TrainerCallback,
        get_linear_schedule_with_warmup,
    )
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from textcls.arguments import parse_args
    from textcls.families import get_family
    from textcls.trainer import TextclsTrainer
    from textcls.training import build_data_collator, load_data, tokenize_splits

    print(f"(d) {family}: Trainer recipe vs plain PyTorch loop", flush=True)
    tmp = tempfile.mkdtemp()
    argv = ["--model_type", family, "--output_dir", tmp, "--num_train_epochs", "1", "--disable_tqdm", "true",
            # No evaluation or checkpoints: the plain loop has none, and they are not training throughput.
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    # A fixed subset keeps DPCNN (250 channels) to seconds per round on 2 CPU cores.
    train_samples = 300 if quick else train_samples
    argv += ["--max_train_samples", str(train_samples)] if train_samples else []
    if DEVICE == "cuda":
        argv += ["--bf16", "true"]
    model_args, data_args, _, training_args = parse_args(argv)
    data = load_data(data_args)
    max_seq_length = get_family(family).max_seq_length  # the recipe's default for the family
    tokenizer, model = get_family(family).build(get_family(family), model_args, data, max_seq_length)
    train = tokenize_splits(data.dataset, tokenizer, max_seq_length)["train"]
    plain_model = copy.deepcopy(model).to(DEVICE)  # same initial weights
    trainer = TextclsTrainer(model=model, args=training_args, train_dataset=train, processing_class=tokenizer,
                             data_collator=build_data_collator(data_args, tokenizer))
    batch_size = training_args.per_device_train_batch_size

    class Clock(TrainerCallback):
        """From the first step's start to the end of the (one) epoch: per-step work only, as in the plain loop."""

        def on_train_begin(self, *args, **kwargs):
            sync()
            self.start = time.perf_counter()

        def on_epoch_end(self, *args, **kwargs):
            sync()
            self.end = time.perf_counter()

    clock = Clock()
    trainer.add_callback(clock)

    def recipe():
        start = time.perf_counter()
        trainer.train()
        # The set-up and wrap-up inside train() (optimizer, dataloader, one gc.collect() of ~0.8 s)
        # are paid once per training, not per step: recorded as call_seconds, not in the rate.
        return dict(samples=len(train), seconds=clock.end - clock.start, call_seconds=time.perf_counter() - start)

    # The minimal loop: same batch size, same length-grouped batches and padding (with transformers'
    # own collator, as a user would write it), same optimizer (AdamW as the Trainer builds it, linear
    # decay, gradient clipping at max_grad_norm when the family clips).
    loader = DataLoader(train.remove_columns(["length"]), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer),
                        sampler=LengthGroupedSampler(batch_size, lengths=train["length"]))
    # The optimizer class and settings the Trainer itself would use (fused AdamW on torch >= 2.8).
    optimizer_cls, optimizer_kwargs = TextclsTrainer.get_optimizer_cls_and_kwargs(training_args, plain_model)

    def plain():
        optimizer = optimizer_cls(plain_model.parameters(), **optimizer_kwargs)
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, len(loader))
        plain_model.train()
        for batch in loader:
            batch = {k: v.to(DEVICE) for k, v in batch.items()}
            with autocast():
                loss = plain_model(**batch).loss
            loss.backward()
            if training_args.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(plain_model.parameters(), training_args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        return dict(samples=len(train))

    measured = alternate({"Trainer recipe": recipe, "plain loop": plain}, rounds=1 if quick else rounds)
    epoch_seconds = statistics.median(r["seconds"] for r in measured["Trainer recipe"])
    print(f"  one epoch of {len(train)} samples through the recipe: {epoch_seconds:.0f} s (median)", flush=True)
    return comparison(f"(d) {family} training", "samples/s", "Trainer recipe", "plain loop", measured, "samples",
                      TARGETS["d"], batch_size=batch_size, optimizer=f"{optimizer_cls.__name__} {optimizer_kwargs}",
                      train_samples=len(train), epoch_seconds=epoch_seconds)


def bench_minilm(quick: bool) -> dict:
    """(e) minilm-l6 at the auto family's defaults: a whole epoch of movie-snippets, and inference."""
    train = bench_trainer_vs_loop("auto", quick, train_samples=None, rounds=2)  # ~100 s per epoch on 2 CPU cores
    train["comparison"] = "(e) minilm-l6 training"
    met = train["epoch_seconds"] < MINILM_EPOCH_TARGET_S
    print(f"  -> one epoch {train['epoch_seconds']:.0f} s (target < {MINILM_EPOCH_TARGET_S} s): "
          f"{'met' if met else 'MISSED'}", flush=True)
    inference = bench_inference("minilm", quick)
    inference["comparison"] = "(e) minilm-l6 inference"
    return {"train": dict(train, epoch_target_s=MINILM_EPOCH_TARGET_S, epoch_met=met), "inference": inference}


def bench_lora_evaluation(quick: bool) -> dict:
    """(f) Same weights, same batches of 20newsgroups test documents at the Llama family's max_seq_length and
    eval batch size: the LoRA model with its adapters merged in place vs unmerged, forward passes only."""
    from textcls.data import load_builtin_dataset
    from textcls.families import FAMILIES
    from textcls.precision import merge_lora_in_place

    print("(f) LoRA evaluation: adapters merged vs unmerged", flush=True)
    llama = FAMILIES["llama"]
    batch_size = 8 if quick else llama.training_defaults["per_device_eval_batch_size"]
    rounds = 2 if quick else 3
    tokenizer = llama_tokenizer()
    test = load_builtin_dataset("20newsgroups")["test"]
    batches = length_grouped_batches(tokenizer, test["text"], test["label"], batch_size, rounds + 1,
                                     max_length=llama.max_seq_length)
    unmerged, lora = lora_at_defaults(quick, num_labels=20)
    with torch.no_grad():  # B starts at zero; a trained-looking update makes the logit check below mean something
        for name, parameter in unmerged.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.02)
    merged = copy.deepcopy(unmerged)
    merge_lora_in_place(merged)
    models = {"merged": merged.to(DEVICE).eval(), "unmerged": unmerged.to(DEVICE).eval()}

    def forward(name, batch):
        inputs = model_inputs(batch)
        with torch.inference_mode(), autocast():
            models[name](**inputs)
        return dict(texts=int(inputs["input_ids"].shape[0]), tokens=int(inputs["attention_mask"].sum()))

    with torch.inference_mode(), autocast():
        probe = model_inputs(batches[0])
        max_diff = (models["merged"](**probe).logits - models["unmerged"](**probe).logits).abs().max().item()
    print(f"  max |logits merged - unmerged| on the first batch: {max_diff:.2e}", flush=True)
    steps = {name: iter(batches) for name in models}
    measured = alternate({name: (lambda name=name: forward(name, next(steps[name]))) for name in models}, rounds=rounds)
    return comparison("(f) LoRA evaluation", "texts/s", "merged", "unmerged", measured, "texts", TARGETS["f"],
                      max_logit_diff=max_diff, batch_size=batch_size, max_length=llama.max_seq_length,
                      lora=dict(lora, targets=list(llama.lora_targets)))


def packed(batch) -> dict:
    """A padded batch's texts as one padding-free row (what `--padding_free` trains on)."""
    from textcls.collation import packed_batch

    return packed_batch([{"input_ids": ids[mask.bool()].tolist(), "label": int(label)}
                         for ids, mask, label in zip(batch["input_ids"], batch["attention_mask"], batch["labels"])])


def lora_step_comparison(label: str, quick: bool, target: float, variants: dict[str, dict],
                         corpus: str = "20newsgroups") -> dict:
    """Training steps of SmolLM2 + LoRA, one model per variant (`lora`: LoRA settings over the Llama defaults;
    `bf16`: autocast or not; `packed`: padding-free batches), the same initial weights and the same batches of
    the corpus's training texts at the Llama family's max_seq_length and batch size; the first variant is A."""
    from textcls.data import load_builtin_dataset
    from textcls.families import FAMILIES

    print(label, flush=True)
    llama = FAMILIES["llama"]
    rounds = 3 if quick else 6
    tokenizer = llama_tokenizer()
    train = load_builtin_dataset(corpus)["train"]
    batches = length_grouped_batches(tokenizer, train["text"], train["label"],
                                     llama.training_defaults["per_device_train_batch_size"], rounds + 1,
                                     max_length=llama.max_seq_length)
    num_labels = train.features["label"].num_classes
    models = {name: lora_at_defaults(quick, num_labels=num_labels, **variant.get("lora", {}))[0].to(DEVICE).train()
              for name, variant in variants.items()}
    optimizers = {name: adamw(model, llama.lora_training_defaults["learning_rate"]) for name, model in models.items()}
    steps = {name: iter([packed(b) for b in batches] if variant.get("packed") else batches)
             for name, variant in variants.items()}
    measured = alternate(
        {name: (lambda name=name: train_step(models[name], optimizers[name], next(steps[name]),
                                             bf16=variants[name].get("bf16")))
         for name in models},
        rounds=rounds,
    )
    a_name, b_name = variants
    return comparison(label, "real tokens/s", a_name, b_name, measured, "tokens", target,
                      batch_size=len(batches[0]["labels"]), max_length=llama.max_seq_length, corpus=corpus,
                      padding_share=round(1 - sum(b["attention_mask"].sum().item() for b in batches)
                                          / sum(b["attention_mask"].numel() for b in batches), 3))


def bench_bf16_step(quick: bool) -> dict:
    """(g) A LoRA training step under bf16 autocast vs in float32."""
    return lora_step_comparison("(g) LoRA train step, bf16", quick, TARGETS["g"],
                                {"bf16 autocast": dict(bf16=True), "float32": dict(bf16=False)})


def bench_lora_dropout_step(quick: bool) -> dict:
    """(h) A LoRA training step without dropout on the adapters' input (the Llama default) vs with the
    earlier default's 0.05, in the precision a plain run uses here (float32 on the CPU)."""
    return lora_step_comparison("(h) LoRA train step, lora_dropout 0", quick, TARGETS["h"],
                                {"lora_dropout 0": dict(lora=dict(lora_dropout=0.0)),
                                 "lora_dropout 0.05": dict(lora=dict(lora_dropout=0.05))})


def bench_padding_free_step(quick: bool) -> dict:
    """(i) A LoRA training step on padding-free batches (`--padding_free`) vs the same texts padded, on long
    topic documents and on short snippets. Packing skips the padding, but sdpa then attends over the whole
    row under a block-diagonal mask (a varlen kernel, flash_attention_2, does not); on the GPU bench/gpu.py's
    `packed` variant measures whole runs."""
    return {corpus: lora_step_comparison(f"(i) LoRA train step, padding-free, {corpus}", quick, TARGETS["i"],
                                         {"padding-free": dict(packed=True), "padded": {}}, corpus=corpus)
            for corpus in ("20newsgroups", "movie-snippets")}


# ----------------------------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    rows = []
    for r in results:
        key = r.get("key") or ("tokens" if "tokens" in r["unit"] else r["unit"].split("/")[0])
        ratio = paired_ratio(r["raw"], r["a"], r["b"], key)
        rows.append([r["comparison"], r["unit"], f"{r['a']} {r['a_rate']:.1f}", f"{r['b']} {r['b_rate']:.1f}",
                     f"**{ratio:.2f}x**", f">= {r['target']}x", "met" if ratio >= r["target"] else "MISSED", r["rounds"]])
        if "epoch_target_s" in r:  # (e): the absolute target on the same measurement
            rows.append([f"{r['comparison']}: one epoch of {r['train_samples']} samples", "seconds",
                         f"{r['a']} {r['epoch_seconds']:.0f}", "", "", f"< {r['epoch_target_s']} s",
                         "met" if r["epoch_seconds"] < r["epoch_target_s"] else "MISSED", r["rounds"]])
    return markdown_table(["comparison", "unit", "A (median rate)", "B (median rate)", "A/B (median of paired ratios)",
                           "target", "", "rounds"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized: tiny random Llama, small subsets")
    parser.add_argument("--only", default="abcdefghi", help="which comparisons to run (letters a-i)")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    results_path = RESULTS_DIR / ("speed-quick.json" if args.quick else "speed.json")
    saved = load_json(results_path, {"results": {}})
    saved.setdefault("machines", {})  # a results file from before machines were kept per comparison has none
    machine = machine_info()
    print(f"device: {machine['device']}, torch threads: {torch.get_num_threads()}", flush=True)
    jobs = {
        "a": lambda: bench_llama_step(args.quick),
        "b": lambda: {"pipeline": bench_input_pipeline(args.quick)},
        "c": lambda: {kind: bench_inference(kind, args.quick) for kind in (*ACCURACY_RUNS, "llama")},
        "d": lambda: {family: bench_trainer_vs_loop(family, args.quick) for family in ("textcnn", "dpcnn", "fasttext", "textrnn")},
        "e": lambda: bench_minilm(args.quick),
        "f": lambda: {"lora": bench_lora_evaluation(args.quick)},
        "g": lambda: {"lora": bench_bf16_step(args.quick)},
        "h": lambda: {"lora": bench_lora_dropout_step(args.quick)},
        "i": lambda: bench_padding_free_step(args.quick),
    }
    for letter in args.only:
        saved["results"][letter] = jobs[letter]()
        saved["machines"][letter] = machine  # comparisons are rerun one by one, on whatever machine and load
        save_json(results_path, saved)  # after each comparison: a crash later keeps the earlier numbers

    flat = [r for letter in sorted(saved["results"]) for r in saved["results"][letter].values()]
    caveat = ("\n\nquick mode: a tiny random Llama and a few hundred texts check that every comparison runs; "
              "its ratios say nothing about the targets (see bench/RESULTS.md)") if args.quick else ""
    print("\n" + table(flat) + caveat + f"\n\nresults: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
