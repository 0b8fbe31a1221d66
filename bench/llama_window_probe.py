"""How should a long text's windows vote? Window logits of a finished `--long_text chunk` run, pooled five ways.

    python bench/llama_window_probe.py                        # 20newsgroups at the Llama defaults, validation
    python bench/llama_window_probe.py --split test           # the same on the whole test split (~40 min, 2 cores)
    python bench/llama_window_probe.py --run bench/runs/llama-defaults-bf16/20newsgroups/lora-prompt-suffix

The run's saved (merged) model reads every window of each text once, in bf16 autocast as the recipe
evaluated it (`--no_bf16`: float32); the window logits are kept beside the model
(`window_logits-<split>-<n>.npz`), so a second call only pools. Today `textcls.long_text` averages
the windows' logits; the other rules keep a window that is sure of a wrong class from outvoting the
rest (`mean-probs`, `vote`), let the surest window decide (`surest`), or read only the start of the
text (`first`, which holds a post's subject line). Averaging log-probabilities is not a rule of its
own: it differs from averaging logits by one constant per window, so its argmax is the same.
Rules are compared on validation (choose there, never on test). Results:
bench/results/llama_window_probe.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, RUNS_DIR, add_threads_argument, apply_threads, load_json, machine_info, save_json  # noqa: E402

DEFAULT_RUN = RUNS_DIR / "llama-defaults-bf16" / "20newsgroups" / "lora-defaults"


def per_text(values, document, num_texts: int):
    """`[num_texts, ...]` sums of window rows, and each text's number of windows."""
    import numpy as np

    sums = np.zeros((num_texts, *values.shape[1:]), dtype=np.float64)
    np.add.at(sums, document, values)
    return sums, np.bincount(document, minlength=num_texts)


def pooled_predictions(window_logits, document, num_texts: int) -> dict:
    """`{rule: [num_texts] predicted class}` for every pooling rule."""
    import numpy as np
    from scipy.special import softmax

    probs = softmax(window_logits, axis=-1)
    logit_sums, counts = per_text(window_logits, document, num_texts)
    prob_sums, _ = per_text(probs, document, num_texts)
    votes, _ = per_text(np.eye(window_logits.shape[-1])[window_logits.argmax(-1)], document, num_texts)
    first = np.zeros(num_texts, dtype=int) - 1
    surest = np.zeros(num_texts, dtype=int)
    surest_prob = np.full(num_texts, -1.0)
    for window, text in enumerate(document):  # windows come in text order (textcls.long_text.encode_windows)
        if first[text] < 0:
            first[text] = window
        if probs[window].max() > surest_prob[text]:
            surest_prob[text], surest[text] = probs[window].max(), window
    return {
        "mean-logits": logit_sums.argmax(-1),  # textcls.long_text today (division by the count changes no argmax)
        "mean-probs": prob_sums.argmax(-1),
        "vote": (votes + prob_sums / (counts[:, None] + 1)).argmax(-1),  # ties go to the larger mean probability
        "surest": window_logits[surest].argmax(-1),
        "first": window_logits[first].argmax(-1),
    }


def window_logits_of(run: Path, texts: list[str], name: str, bf16: bool, batch_size: int):
    """(window logits, window -> text index): from the cache beside the model, else one pass over the windows."""
    import contextlib

    import numpy as np
    import torch

    from textcls.inference import encoded_logits, load_checkpoint
    from textcls.long_text import encode_windows, long_text_settings

    cache = run / f"window_logits-{name}-{len(texts)}{'' if bf16 else '-fp32'}.npz"
    if cache.is_file():
        saved = np.load(cache)
        return saved["logits"], saved["document"], None
    model, tokenizer = load_checkpoint(str(run), device="cpu")
    mode, max_length, stride = long_text_settings(model.config, tokenizer)
    if mode != "chunk":
        sys.exit(f"{run} was trained with --long_text {mode}: it has one window per text, nothing to pool.")
    windows, document = encode_windows(tokenizer, texts, max_length, stride)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
        logits = encoded_logits(model, tokenizer, windows["input_ids"], batch_size, progress=True)
    seconds = time.perf_counter() - start
    document = np.asarray(document)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")  # an interrupted pass leaves no half cache
    np.savez(tmp, logits=logits, document=document)
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

    from textcls.data import load_text_classification_data

    n = args.max_samples or (500 if args.split == "validation" else None)
    data = load_text_classification_data(args.corpus, **{"max_eval_samples" if args.split == "validation"
                                                         else "max_test_samples": n})
    split = data.dataset[args.split]
    logits, document, seconds = window_logits_of(args.run, split["text"], args.split, not args.no_bf16, args.batch_size)
    labels = np.asarray(split["label"])
    windows = np.bincount(document, minlength=len(labels))
    accuracy = {rule: round(float((predicted == labels).mean()), 4)
                for rule, predicted in pooled_predictions(logits, document, len(labels)).items()}
    for rule, value in accuracy.items():
        print(f"{args.corpus} {args.split} ({len(labels)} texts, {int((windows > 1).sum())} with 2+ windows) "
              f"{rule:>11}: {value:.4f}")
    run = args.run.resolve()
    record = dict(run=str(run.relative_to(RUNS_DIR)) if run.is_relative_to(RUNS_DIR) else str(run), corpus=args.corpus, split=args.split, texts=len(labels),
                  windows=int(len(document)), texts_with_several_windows=int((windows > 1).sum()),
                  bf16=not args.no_bf16, accuracy=accuracy, machine=machine_info())
    results_file = RESULTS_DIR / "llama_window_probe.json"
    same = ("run", "corpus", "split", "texts", "bf16")  # one record per run, split and precision
    earlier = load_json(results_file, [])
    kept = [r for r in earlier if any(r.get(k) != record[k] for k in same)]
    replaced = [r for r in earlier if r not in kept]
    # a pass from the cache pools only: the forward time stays the one measured when the cache was made
    record["forward_seconds"] = round(seconds, 1) if seconds is not None else (
        replaced[0].get("forward_seconds") if replaced else None)
    save_json(results_file, kept + [record])


if __name__ == "__main__":
    main()
