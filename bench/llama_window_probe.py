"""How should a long text's windows vote? Window logits of a finished `--long_text chunk` run, pooled five ways.

    python bench/llama_window_probe.py                        # 20newsgroups at the Llama defaults, validation
    python bench/llama_window_probe.py --split test           # the same on the whole test split (~40 min, 2 cores)
    python bench/llama_window_probe.py --run bench/runs/llama-defaults-bf16/20newsgroups/lora-prompt-suffix

The run's saved (merged) model reads every window of each text once, in bf16 autocast as the recipe
evaluated it (`--no_bf16`: float32); the window logits are kept beside the model
(`window_logits-<corpus>-<split>-<n>.npz`, remade when the model is), so a second call only pools. Today `textcls.long_text` averages
the windows' logits; the other rules keep a window that is sure of a wrong class from outvoting the
rest (`mean-probs`, `vote`), let the surest window decide (`surest`), or read only the start of the
text (`first`, which holds a post's subject line). Averaging log-probabilities is not a rule of its
own: it differs from averaging logits by one constant per window, so its argmax is the same.
Rules are compared on validation (choose there, never on test). Results:
bench/results/llama_window_probe.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, RUNS_DIR, add_threads_argument, apply_threads, load_json, machine_info, save_json  # noqa: E402

DEFAULT_RUN = RUNS_DIR / "llama-defaults-bf16" / "20newsgroups" / "lora-defaults"


def pooled_predictions(window_logits, document, num_texts: int) -> dict:
    """`{rule: [num_texts] predicted class}` for every pooling rule."""
    import torch

    from textcls.long_text import mean_per_document

    logits, document = torch.from_numpy(window_logits), torch.from_numpy(document)
    probs = logits.softmax(-1)
    counts = torch.bincount(document, minlength=num_texts)
    mean_probs = mean_per_document(probs, document, num_texts)
    votes = mean_per_document(torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(probs.dtype),
                              document, num_texts)
    first = torch.full((num_texts,), -1)
    surest = torch.zeros(num_texts, dtype=torch.long)
    surest_prob = torch.full((num_texts,), -1.0)
    for window, text in enumerate(document.tolist()):  # windows come in text order (long_text.encode_windows)
        if first[text] < 0:
            first[text] = window
        if probs[window].max() > surest_prob[text]:
            surest_prob[text], surest[text] = probs[window].max(), window
    rules = {
        "mean-logits": mean_per_document(logits, document, num_texts),  # what textcls.long_text does
        "mean-probs": mean_probs,
        # two classes' shares of the votes differ by 1/count or more; the mean probability / (count + 1) is less,
        # so it only breaks ties
        "vote": votes + mean_probs / (counts[:, None] + 1),
        "surest": logits[surest],
        "first": logits[first],
    }
    return {rule: scores.argmax(-1).numpy() for rule, scores in rules.items()}


def window_logits_of(run: Path, cache: Path, texts: list[str], bf16: bool, batch_size: int):
    """(window logits, window -> text index, seconds of the forward pass): from `cache` when it was made from
    the model now in `run` (its weights' modification time), else one pass of that model over the windows."""
    import numpy as np
    import torch

    from textcls.inference import encoded_logits, load_checkpoint
    from textcls.long_text import encode_windows, long_text_settings

    weights_time = max(path.stat().st_mtime for path in run.glob("*.safetensors"))
    if cache.is_file():
        saved = np.load(cache)
        if float(saved["weights_time"]) == weights_time:
            return saved["logits"], saved["document"], float(saved["seconds"])
    model, tokenizer = load_checkpoint(str(run), device="cpu")
    mode, max_length, stride = long_text_settings(model.config, tokenizer)
    if mode != "chunk":
        sys.exit(f"{run} was trained with --long_text {mode}: one window per text, nothing to pool.")
    windows, document = encode_windows(tokenizer, texts, max_length, stride)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
        logits = encoded_logits(model, tokenizer, windows["input_ids"], batch_size, progress=True)
    seconds = time.perf_counter() - start
    document = np.asarray(document)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")  # an interrupted pass leaves no half cache
    np.savez(tmp, logits=logits, document=document, seconds=seconds, weights_time=weights_time)
    os.replace(tmp, cache)
    return logits, document, seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="a finished recipe run folder")
    parser.add_argument("--corpus", default="20newsgroups")
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--max_samples", type=int, default=None,
                        help="first N texts of the split (default: 500 of validation, all of test)")
    parser.add_argument("--no_bf16", action="store_true", help="float32 instead of bf16 autocast")
    parser.add_argument("--batch_size", type=int, default=32)
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)

    import numpy as np

    from transformers import AutoConfig

    from textcls.data import load_text_classification_data
    from textcls.evaluation import model_label_space

    run = args.run.resolve()
    n = args.max_samples or (500 if args.split == "validation" else None)
    limit = "max_eval_samples" if args.split == "validation" else "max_test_samples"
    # the model's label ids, as `textcls evaluate` reads data (a run trained with --label_names may order them apart)
    data = load_text_classification_data(args.corpus, **{limit: n}, **model_label_space(AutoConfig.from_pretrained(run)))
    split = data.dataset[args.split]
    cache = run / f"window_logits-{args.corpus}-{args.split}-{len(split)}{'-fp32' if args.no_bf16 else ''}.npz"
    logits, document, seconds = window_logits_of(run, cache, split["text"], not args.no_bf16, args.batch_size)
    labels = np.asarray(split["label"])
    window_counts = np.bincount(document, minlength=len(labels))
    several = int((window_counts > 1).sum())
    accuracy = {rule: round(float((predicted == labels).mean()), 4)
                for rule, predicted in pooled_predictions(logits, document, len(labels)).items()}
    for rule, value in accuracy.items():
        print(f"{args.corpus} {args.split} ({len(labels)} texts, {several} with 2+ windows) {rule:>11}: {value:.4f}")
    record = dict(run=str(run.relative_to(RUNS_DIR)) if run.is_relative_to(RUNS_DIR) else str(run),
                  corpus=args.corpus, split=args.split, texts=len(labels), windows=int(len(document)),
                  texts_with_several_windows=several, bf16=not args.no_bf16, accuracy=accuracy,
                  forward_seconds=round(seconds, 1), machine=machine_info())
    results_file = RESULTS_DIR / "llama_window_probe.json"
    same = ("run", "corpus", "split", "texts", "bf16")  # one record per run, split and precision
    results = [r for r in load_json(results_file, []) if any(r.get(k) != record[k] for k in same)]
    save_json(results_file, results + [record])


if __name__ == "__main__":
    main()
