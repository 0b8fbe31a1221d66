"""Issue 12's GPU rows: SmolLM2-135M fine-tuned in bf16 (full and LoRA) on the full splits of the builtin corpora.

    python3 bench/gpu.py --out $OUT --deadline_s 450           # on a GPU machine (bench/device_setup.sh runs it)
    python3 bench/gpu.py --only lora --seeds 42 43 44           # a part of the plan (substring of corpus/mode)
    python bench/gpu.py --quick                                  # here: a tiny random Llama, measures nothing

Each run is `textcls.training.run` (what `textcls train` runs) at the Llama family's defaults with `--bf16 true`
(mixed precision; LoRA's frozen backbone is also stored in bf16, `--torch_dtype auto`), and records:
- test accuracy (best epoch chosen on validation, as the recipe does);
- training tokens/s: real (non-padding) tokens of the training split times epochs, over the time spent in the
  training epochs only (an `EpochClock` callback; the per-epoch validation pass and checkpoint saves excluded);
- MFU, model FLOPs utilisation: model FLOPs per second over the GPU's dense bf16 peak. Per sequence of s real
  tokens: k * N * s for the N weights of the backbone's linear layers (k = 6 for full fine-tuning: forward,
  input gradients, weight gradients; k = 4 under LoRA, whose frozen weights get no weight gradient) plus
  12 * layers * hidden * s^2 for attention (PaLM's accounting, Chowdhery et al. 2022, appendix B); padding
  and LoRA's own small matmuls are not counted (the head, a few thousand weights, is);
- peak GPU memory (`torch.cuda.max_memory_allocated`, above what was allocated before the run);
- each epoch's seconds (`epoch_s`): a `compile` run's first epoch holds the compilation.
`--variants 4bit` needs bitsandbytes and `--variants packed` flash-attn, which the device bundle does not carry:
where they are missing the runs are recorded with the recipe's one-line error.
First, `textcls predict` vs `pipeline` on the GPU (bench/speed.py's comparison (c)).

Results go to OUT/gpu.json after every run (a run cut off by the deadline keeps the ones before it; a measured
record is never replaced by a skipped or failed one) and a table to OUT/gpu.md; copy gpu.json to bench/results/
for bench/report.py. Before a run starts, its time is estimated from the finished runs (below), and a run
that would end after --deadline_s (seconds from this script's start) is skipped and listed as skipped.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
from accuracy import CORPORA  # noqa: E402
from llama_defaults import tiny_llama  # noqa: E402
from speed import bench_inference, sync  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from textcls.families import FAMILIES  # noqa: E402
from textcls.training import run as train_recipe  # noqa: E402

# Dense bf16 tensor-core peaks from NVIDIA's data sheets (FLOP/s), the first key found in the device name
# counts: the PCIe / NVL boards run lower clocks than the SXM ones.
BF16_PEAK = {"H100 PCIe": 756e12, "H200 NVL": 835e12, "H200": 989e12, "H100": 989e12, "A100": 312e12}
SAFETY = 1.2  # estimates are from a handful of runs: leave room before the deadline
QUICK_ROWS, QUICK_LENGTH = 64, 64  # --quick: training examples and tokens per example
MODES = {"lora": ["--use_lora"], "full": []}
# Besides the defaults: torch.compile, QLoRA, batches 8x the default's, whose matmuls are big enough
# to approach the GPU's peak (throughput only: the learning rate is not retuned for them), and padding-free
# batches (kept only if faster, issue 12) with the varlen attention kernel they need (under sdpa a step is
# slower: speed (i) in bench/RESULTS.md).
VARIANTS = {"": [], "compile": ["--torch_compile", "true"], "4bit": ["--load_in_4bit"],
            "batch128": ["--per_device_train_batch_size", "128"],
            "packed": ["--padding_free", "--attn_implementation", "flash_attention_2"]}


class EpochClock(TrainerCallback):
    """Seconds spent in the training epochs (GPU synchronised at each edge), and the FLOPs they did."""

    def __init__(self, lora: bool):
        self.lora, self.epoch_seconds, self.started = lora, [], None
        self.tokens_per_epoch = self.flops_per_epoch = 0

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        lengths = [len(ids) for ids in train_dataloader.dataset["input_ids"]]
        config = model.config
        # in x out, not weight.numel(): a 4-bit Linear stores two weights a byte. peft's copy of the head
        # (modules_to_save) leaves the original beside it: counted once.
        linear = sum(module.in_features * module.out_features for name, module in model.named_modules()
                     if isinstance(module, torch.nn.Linear) and "lora_" not in name and "original_module" not in name)
        weight_flops = (4 if self.lora else 6) * linear
        attention = 12 * config.num_hidden_layers * config.hidden_size
        self.tokens_per_epoch = sum(lengths)
        self.flops_per_epoch = sum(weight_flops * s + attention * s * s for s in lengths)

    def on_epoch_begin(self, args, state, control, **kwargs):
        sync()
        self.started = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        sync()
        self.epoch_seconds.append(time.perf_counter() - self.started)


def peak_flops(override: float | None) -> float | None:
    if override:
        return override * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((peak for key, peak in BF16_PEAK.items() if key in name), None)


def plan(args) -> list[dict]:
    runs = []
    for variant in args.variants:  # every corpus and mode at one seed before the next seed
        for seed in args.seeds:
            for mode in MODES:
                if variant == "4bit" and mode != "lora":
                    continue  # quantized weights cannot be fine-tuned
                for corpus in CORPORA:
                    name = "-".join(filter(None, (corpus, mode, variant, f"s{seed}")))
                    runs.append(dict(name=name, corpus=corpus, mode=mode, variant=variant, seed=seed))
    return [r for r in runs if not args.only or any(pattern in r["name"] for pattern in args.only)]


def run_argv(run: dict, model: str, output_dir: Path, quick: bool) -> list[str]:
    quick_args = ["--max_train_samples", str(QUICK_ROWS), "--max_eval_samples", "32", "--max_test_samples", "32",
                  "--num_train_epochs", "1", "--max_seq_length", str(QUICK_LENGTH)] if quick else []
    precision = ["--bf16", "true"] if torch.cuda.is_available() else []
    return ["--dataset", run["corpus"], "--model_type", "llama", "--model_name_or_path", model,
            *MODES[run["mode"]], *VARIANTS[run["variant"]], *precision, *quick_args, "--seed", str(run["seed"]),
            "--output_dir", str(output_dir), "--overwrite_output_dir", "--disable_tqdm", "true"]


def measure(run: dict, argv: list[str], peak: float | None) -> dict:
    clock = EpochClock(lora=run["mode"] == "lora")
    gpu = torch.cuda.is_available()
    if gpu:
        # accelerate's wrapped forward makes a reference cycle: the last run's model goes only with gc.
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated() if gpu else 0
    start = time.perf_counter()
    metrics = train_recipe(argv, callbacks=[clock])
    wall = time.perf_counter() - start
    epochs, seconds = len(clock.epoch_seconds), sum(clock.epoch_seconds)
    flops_per_s = clock.flops_per_epoch * epochs / seconds
    return dict(
        run, argv=argv, test_accuracy=metrics["test_accuracy"], eval_accuracy=metrics["eval_accuracy"],
        test_f1_macro=metrics["test_f1_macro"], epochs=epochs, epoch_s=clock.epoch_seconds, train_epoch_s=seconds,
        wall_s=wall, train_tokens_per_epoch=clock.tokens_per_epoch,
        tokens_per_s=clock.tokens_per_epoch * epochs / seconds, model_tflops_per_s=flops_per_s / 1e12,
        mfu=flops_per_s / peak if peak else None,
        peak_memory_gib=(torch.cuda.max_memory_allocated() - baseline) / 2**30 if gpu else None,
    )


def estimate_s(run: dict, done: list[dict], sizes: dict[str, dict]) -> float | None:
    """Seconds this run should take (wall, evaluation included), from the finished runs most like it.

    Small batches on a GPU are bound by kernel launches (time per step), long ones by FLOPs (time per
    token): the larger of the two estimates, times SAFETY. The basis is the finished runs of the same
    mode and variant, else of the same variant (a full fine-tune estimated from LoRA runs: x 1.5, 6 FLOPs
    a weight, not 4), else any; None before any run has finished.
    """
    basis, factor = [r for r in done if (r["mode"], r["variant"]) == (run["mode"], run["variant"])], 1.0
    if not basis:
        basis = [r for r in done if r["variant"] == run["variant"]] or done
        factor = 1.5 if run["mode"] == "full" else 1.0
    if not basis:
        return None
    batch = FAMILIES["llama"].training_defaults["per_device_train_batch_size"]
    size = lambda r: sizes[r["corpus"]][long_text_of(r["mode"])]  # noqa: E731
    steps = lambda r, epochs: math.ceil(size(r)["rows"] / batch) * epochs  # noqa: E731
    per_step = sum(r["wall_s"] for r in basis) / sum(steps(r, r["epochs"]) for r in basis)
    per_token = sum(r["wall_s"] for r in basis) / sum(size(r)["tokens"] * r["epochs"] for r in basis)
    epochs = basis[-1]["epochs"]
    return SAFETY * factor * max(per_step * steps(run, epochs), per_token * size(run)["tokens"] * epochs)


def long_text_of(mode: str) -> str:
    """How a run of this mode reads long texts at the Llama defaults (LoRA: in windows; full: truncated)."""
    defaults = FAMILIES["llama"].lora_training_defaults if mode == "lora" else {}
    return defaults.get("long_text", "truncate")


def corpus_sizes(model: str, quick: bool) -> dict[str, dict]:
    """Training examples and real tokens of each training split, per way of reading long texts, as the
    recipe makes them (truncated: one row per text; chunk: one row per window), for estimates before a run."""
    from transformers import AutoTokenizer

    from textcls.data import load_builtin_dataset
    from textcls.long_text import encode_windows, window_stride

    tokenizer = AutoTokenizer.from_pretrained(model)
    limit, max_length = (QUICK_ROWS, QUICK_LENGTH) if quick else (None, FAMILIES["llama"].max_seq_length)
    stride = window_stride(tokenizer, max_length, None)
    sizes = {}
    for corpus in CORPORA:
        texts = list(load_builtin_dataset(corpus)["train"]["text"][:limit])
        truncated = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        windows = encode_windows(tokenizer, texts, max_length, stride)[0]["input_ids"]
        sizes[corpus] = {mode: dict(rows=len(ids), tokens=sum(map(len, ids)))
                         for mode, ids in (("truncate", truncated), ("chunk", windows))}
    return sizes


def inference_line(inference: dict | None) -> str:
    if not inference:
        return ""
    return (f"\n\n`textcls predict` vs `pipeline(\"text-classification\")` on {inference['texts']} movie snippets, batch "
            f"{inference['batch_size']}: {inference['a_rate']:.0f} vs {inference['b_rate']:.0f} texts/s, "
            f"**{inference['ratio']:.2f}x** (labels agree on {100 * inference['label_agreement']:.1f}%)")


def table(records: list[dict]) -> str:
    cell = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    rows = [[r["name"], r.get("skipped") or r.get("error") or cell(r.get("test_accuracy"), ".4f"),
             cell(r.get("eval_accuracy"), ".4f"), cell(r.get("tokens_per_s"), ",.0f"),
             cell(r.get("mfu") and 100 * r["mfu"], ".1f"), cell(r.get("peak_memory_gib"), ".2f"),
             cell(r.get("train_epoch_s"), ".0f"), cell(r.get("wall_s"), ".0f")] for r in records]
    return markdown_table(["run", "test accuracy", "validation", "train tokens/s", "MFU %", "peak GiB",
                           "train epochs s", "wall s"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny random Llama on 64 examples: exercises the code")
    parser.add_argument("--only", action="append", default=[], help="runs whose name contains this (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--variants", nargs="+", default=[""], choices=list(VARIANTS),
                        help="'' (the defaults), compile (--torch_compile), 4bit (--load_in_4bit, LoRA only), "
                             "batch128 (--per_device_train_batch_size 128), packed (--padding_free, flash_attention_2)")
    parser.add_argument("--deadline_s", type=float, default=None, help="skip runs estimated to end after this")
    parser.add_argument("--peak_tflops", type=float, default=None, help="the GPU's dense bf16 peak, if not in BF16_PEAK")
    parser.add_argument("--no_inference", action="store_true", help="skip textcls predict vs pipeline")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    started = time.perf_counter()

    if args.quick:
        model = tiny_llama(RUNS_DIR / "gpu-quick", "movie-snippets")
    else:
        from textcls.resources import smollm2_checkpoint

        model = str(smollm2_checkpoint())  # converted from the GGUF once, before anything is timed
    results_path = args.out / ("gpu-quick.json" if args.quick else "gpu.json")
    results = load_json(results_path, {"records": []})
    results["machine"] = machine_info()
    peak = peak_flops(args.peak_tflops)
    sizes = corpus_sizes(model, args.quick)
    print(f"device {results['machine']['device']}, bf16 peak {peak}, training splits {sizes}", flush=True)
    if not args.no_inference:  # first: it takes seconds, and is the one GPU comparison with pipeline
        results["inference"] = bench_inference("llama", args.quick)
        save_json(results_path, results)

    done = []
    for run in plan(args):
        estimate = estimate_s(run, done, sizes)
        left = args.deadline_s - (time.perf_counter() - started) if args.deadline_s else math.inf
        if left <= 0 or (estimate or 0) > left:
            record = dict(run, skipped=f"skipped: ~{estimate or 0:.0f} s estimated, {max(left, 0):.0f} s left")
        else:
            with tempfile.TemporaryDirectory(prefix="gpu-run-") as folder:
                argv = run_argv(run, model, Path(folder) / run["name"], args.quick)
                try:
                    record = measure(run, argv, peak)
                    done.append(record)
                except Exception as error:  # one failed variant (torch.compile, 4-bit) must not end the others
                    record = dict(run, argv=argv, error=f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
        print(f"=== {record['name']}: " + ", ".join(f"{k} {v}" for k, v in record.items() if k not in ("argv", "name")),
              flush=True)
        kept = [r for r in results["records"] if r["name"] == run["name"] and "test_accuracy" in r]
        if "test_accuracy" in record or not kept:  # a skipped or failed run never hides an earlier measurement
            results["records"] = [r for r in results["records"] if r["name"] != run["name"]] + [record]
        save_json(results_path, results)

    report = table(results["records"]) + inference_line(results.get("inference"))
    (args.out / (results_path.stem + ".md")).write_text(report + "\n")
    print("\n" + report + f"\n\nresults: {results_path}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
