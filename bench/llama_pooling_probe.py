"""Which token states of a frozen SmolLM2 carry the topic? A linear probe on three poolings (issue 12).

    python bench/llama_pooling_probe.py                       # 20newsgroups, first 2,000 train / 500 validation
    python bench/llama_pooling_probe.py --corpus reuters-r8 --threads 1
    python bench/llama_pooling_probe.py --max_seq_length 512  # do more tokens carry more of the topic?
    python bench/llama_pooling_probe.py --prompt_suffix $'\n\nThis text is about'   # each text ends with a prompt
    python bench/llama_pooling_probe.py --quick               # 40 / 20 examples: exercises the code, measures little

The pretrained backbone (no fine-tuning, no LoRA) reads each text cut to max_seq_length - 1 tokens with the
eos token appended, once (with --prompt_suffix, the text is cut shorter and the suffix's tokens come
between it and the eos token, as `--prompt_suffix` makes the recipe's inputs end, textcls.prompt_suffix);
the states are pooled three ways, through the model's own pooling (models/modeling_textcls_llama.py):
`last` (the last token before the eos, what the classifier pools by default: the text's, or the
suffix's), `eos` (the appended eos token) and `mean` (the mean over the text's own tokens). Each pooling gets
a standardised logistic regression on the training states, its C picked from 0.01, 0.1, 1 on validation
accuracy, which is reported: optimistic for all three alike, so for comparing poolings, not as a result
against TF-IDF. Results: bench/results/llama_pooling_probe.json (--quick: llama_pooling_probe-quick.json).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, add_threads_argument, apply_threads, load_json, machine_info, save_json  # noqa: E402

POOLINGS = ("last", "eos", "mean")


def pooled_states(model, tokenizer, texts: list[str], max_length: int, prompt_suffix: str = "",
                  batch_size: int = 16) -> dict:
    """`{pooling: [n_texts, hidden]}` from one forward pass per batch, shortest texts batched together."""
    import numpy as np
    import torch

    from textcls.models.modeling_textcls_llama import pool_states

    eos = tokenizer.eos_token_id
    suffix = tokenizer(prompt_suffix, add_special_tokens=False)["input_ids"] if prompt_suffix else []
    text_length = max_length - 1 - len(suffix)
    encoded = [
        tokenizer(text, truncation=True, max_length=text_length, add_special_tokens=False)["input_ids"] + suffix + [eos]
        for text in texts
    ]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    pooled = {name: [None] * len(encoded) for name in POOLINGS}
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        seq_len = max(len(encoded[i]) for i in rows)
        input_ids = torch.full((len(rows), seq_len), eos)
        with_eos = torch.zeros((len(rows), seq_len), dtype=torch.bool)
        for r, i in enumerate(rows):
            input_ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
            with_eos[r, : len(encoded[i])] = True
        before_eos = with_eos.clone()
        before_eos[torch.arange(len(rows)), with_eos.sum(-1) - 1] = False  # every token but the appended eos
        text_only = before_eos.clone()
        for r, i in enumerate(rows):
            text_only[r, len(encoded[i]) - 1 - len(suffix) :] = False
        with torch.no_grad():
            states = model(input_ids=input_ids, attention_mask=with_eos.long()).last_hidden_state
        by_pooling = dict(last=pool_states(states, before_eos, "last"), eos=pool_states(states, with_eos, "last"),
                          mean=pool_states(states, text_only, "mean"))
        for name, values in by_pooling.items():
            for r, i in enumerate(rows):
                pooled[name][i] = values[r].numpy()
    return {name: np.stack(values) for name, values in pooled.items()}


def probe(train: dict, train_labels, validation: dict, validation_labels) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = {}
    for name in POOLINGS:
        best = None
        for c in (0.01, 0.1, 1.0):
            classifier = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
            accuracy = accuracy_score(validation_labels, classifier.fit(train[name], train_labels).predict(validation[name]))
            if best is None or accuracy > best[0]:
                best = (accuracy, c)
        scores[name] = dict(validation_accuracy=best[0], C=best[1])
    return scores


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="20newsgroups")
    parser.add_argument("--model_name_or_path", default="smollm2-135m")
    parser.add_argument("--max_train_samples", type=int, default=2000)
    parser.add_argument("--max_eval_samples", type=int, default=500)
    parser.add_argument("--max_seq_length", type=int, default=None, help="default: the Llama family's")
    parser.add_argument("--prompt_suffix", default="", help="words between each text and the eos token (default none)")
    parser.add_argument("--quick", action="store_true")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)

    import torch
    from transformers import AutoModel, AutoTokenizer

    from textcls.data import load_builtin_dataset
    from textcls.families import FAMILIES

    llama = FAMILIES["llama"]
    max_length = args.max_seq_length or llama.max_seq_length
    n_train, n_validation = (40, 20) if args.quick else (args.max_train_samples, args.max_eval_samples)
    path = llama.resolve_checkpoint(args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    data = load_builtin_dataset(args.corpus)
    train, validation = data["train"].select(range(n_train)), data["validation"].select(range(n_validation))
    start = time.perf_counter()
    states = {name: pooled_states(model, tokenizer, part["text"], max_length, args.prompt_suffix)
              for name, part in (("train", train), ("validation", validation))}
    seconds = time.perf_counter() - start
    scores = probe(states["train"], train["label"], states["validation"], validation["label"])
    for name, score in scores.items():
        print(f"{args.corpus} {args.prompt_suffix!r} {name:>4}: validation {score['validation_accuracy']:.4f} (C={score['C']})")
    record = dict(corpus=args.corpus, model=args.model_name_or_path, max_seq_length=max_length,
                  prompt_suffix=args.prompt_suffix, quick=args.quick,
                  train_samples=n_train, validation_samples=n_validation, forward_seconds=round(seconds, 1),
                  scores=scores, machine=machine_info())
    results_file = RESULTS_DIR / f"llama_pooling_probe{'-quick' if args.quick else ''}.json"
    same_run = ("corpus", "model", "max_seq_length", "prompt_suffix")  # one record per corpus, model, length, suffix
    results = [r for r in load_json(results_file, []) if any(r.get(k, "") != record[k] for k in same_run)]
    save_json(results_file, results + [record])


if __name__ == "__main__":
    main()
