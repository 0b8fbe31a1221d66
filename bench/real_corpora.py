"""Real-corpora benchmark (issue 11): class weights, long texts, tuning on validation.

    python bench/real_corpora.py            # all three experiments -> bench/results/real_corpora.json
    python bench/real_corpora.py --quick    # CI-sized: small subsets, 1 epoch -> bench/results/real_corpora-quick.json
    python bench/real_corpora.py --only class-weights     # one experiment (substring of experiment/corpus/name)
    python bench/real_corpora.py --threads 1              # when other jobs share the cores (see bench/notes.md)

The experiments:
- class-weights: TextCNN on reuters-r8 with `--class_weight none / sqrt_balanced / balanced`, checkpoints
  selected on validation macro-F1 (and the unweighted default, selected on accuracy), against TF-IDF+LR's
  macro-F1. Target: a weighted TextCNN reaches TF-IDF+LR's macro-F1 without losing more than a point of
  accuracy.
- long-text: 20newsgroups at `--max_seq_length 128` for both, `--long_text truncate` vs `chunk`, per CNN
  family. Target: chunking beats truncation.
- tuned: each CNN family tuned by `textcls tune` (10-minute search budget) vs the same family at its
  defaults, on the three builtin corpora. Target: the tuned family beats its defaults on validation and
  on test.

Like bench/accuracy.py, every run goes through the functions behind the command line
(`textcls.training.run`, `textcls.tuning.tune`), results are saved after every run, and finished runs
are skipped on the next call (--rerun to redo them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
from accuracy import CORPORA, run_tfidf  # noqa: E402

# Imported once, up front: a long benchmark must not pick up a half-edited package midway.
from textcls.training import run as train_recipe  # noqa: E402
from textcls.tuning import tune as tune_recipe  # noqa: E402

SEED = 42
TUNE_BUDGET_S = 600
LONG_TEXT_LENGTH = 128  # 20newsgroups posts average ~269 tokens: truncation at 128 cuts most of them
QUICK_SIZE = ["--max_train_samples", "400", "--max_eval_samples", "100", "--max_test_samples", "200",
              "--max_seq_length", "128", "--num_train_epochs", "1"]


def plan(quick: bool) -> list[dict]:
    """The runs: experiment, name, corpus, kind (train / tune / tfidf), recipe flags."""
    size = QUICK_SIZE if quick else []
    runs = []

    # class-weights: reuters-r8, 8 topics from 2,840 to 41 training documents per class.
    corpus = "reuters-r8"
    runs.append(dict(experiment="class-weights", name="tfidf-lr", corpus=corpus, kind="tfidf", argv=[], quick=quick))
    for mode in ("rand", "non-static"):
        base = ["--model_type", "textcnn", "--embedding_mode", mode, *size]
        runs.append(dict(experiment="class-weights", name=f"textcnn-{mode}", corpus=corpus, kind="train", argv=base))
        for weight in ("none", "sqrt_balanced", "balanced"):
            runs.append(dict(experiment="class-weights", name=f"textcnn-{mode}-{weight}-f1", corpus=corpus,
                             kind="train", argv=[*base, "--class_weight", weight, "--metric_for_best_model", "f1_macro"]))

    # long-text: the same window length for both; chunking sees the rest of each post.
    corpus = "20newsgroups"
    length = [*size, "--max_seq_length", str(LONG_TEXT_LENGTH)]
    for family, flags in (("textcnn", ["--model_type", "textcnn"]),
                          ("textcnn-non-static", ["--model_type", "textcnn", "--embedding_mode", "non-static"]),
                          ("dpcnn", ["--model_type", "dpcnn", "--num_filters", "100"])):  # 100 channels: CPU time
        for mode in ("truncate", "chunk"):
            runs.append(dict(experiment="long-text", name=f"{family}-{mode}", corpus=corpus, kind="train",
                             argv=[*flags, *length, "--long_text", mode]))

    # tuned vs defaults: every CNN family on every builtin corpus.
    budget = ["--n_trials", "2", "--time_budget", "60"] if quick else ["--n_trials", "100", "--time_budget", str(TUNE_BUDGET_S)]
    for corpus in CORPORA:
        for family in ("textcnn", "dpcnn"):
            flags = ["--model_type", family, *size]
            if family == "dpcnn" and corpus != "movie-snippets":
                flags += ["--num_filters", "100"]  # as in bench/accuracy.py: 250 channels on long documents is CPU hours
            runs.append(dict(experiment="tuned", name=f"{family}-defaults", corpus=corpus, kind="train", argv=flags))
            runs.append(dict(experiment="tuned", name=f"{family}-tuned", corpus=corpus, kind="tune",
                             argv=[*flags, *budget]))
    return runs


def run_one(run: dict, output_dir: Path) -> dict:
    if run["kind"] == "tfidf":
        return run_tfidf(run)
    argv = ["--dataset", run["corpus"], *run["argv"], "--seed", str(SEED), "--output_dir", str(output_dir),
            "--overwrite_output_dir", "--disable_tqdm", "true"]
    if run["kind"] == "train":
        metrics = train_recipe(argv)
        return dict(argv=argv, **{k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
    summary = tune_recipe(argv)
    metrics = summary["final_metrics"]
    return dict(
        argv=argv,
        command=summary["command"],
        trials=summary["trials"],
        search_seconds=summary["search_seconds"],
        best_params=summary["best_params"],
        **{k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
    )


def cell(record: dict | None, key: str) -> str:
    return f"{record[key]:.4f}" if record and key in record else ""


def tables(records: list[dict]) -> str:
    by_key = {(r["experiment"], r["corpus"], r["name"]): r for r in records}
    out = []
    for experiment in ("class-weights", "long-text", "tuned"):
        rows = []
        for (exp, corpus, name), r in sorted(by_key.items()):
            if exp != experiment:
                continue
            row = [corpus, name, cell(r, "test_accuracy"), cell(r, "test_f1_macro"), cell(r, "eval_accuracy"),
                   cell(r, "eval_f1_macro"), f"{r.get('train_runtime', 0):.0f}"]
            if experiment == "tuned":
                row.append(f"{r['trials']} trials, {r['search_seconds']:.0f} s" if "trials" in r else "")
            rows.append(row)
        if rows:
            header = ["corpus", "model", "test accuracy", "test macro-F1", "val accuracy", "val macro-F1", "train time (s)"]
            out.append(f"### {experiment}\n\n" + markdown_table(header + (["search"] if experiment == "tuned" else []), rows))
    return "\n\n".join(out)


def targets(records: list[dict]) -> list[str]:
    """Issue 11's targets as met / missed lines; variants compete on validation, never on test."""
    by_key = {(r["experiment"], r["corpus"], r["name"]): r for r in records}
    lines = []
    tfidf = by_key.get(("class-weights", "reuters-r8", "tfidf-lr"))
    weighted = [r for (e, _, n), r in by_key.items() if e == "class-weights" and n.endswith("balanced-f1")]
    best = unweighted = None
    if tfidf and weighted:
        best = max(weighted, key=lambda r: r["eval_f1_macro"])
        # the same embedding mode at the recipe defaults: "textcnn-non-static-sqrt_balanced-f1" -> "textcnn-non-static"
        unweighted = by_key.get(("class-weights", "reuters-r8", best["name"].rsplit("-", 2)[0]))
    if best and unweighted:
        drop = unweighted["test_accuracy"] - best["test_accuracy"]
        ok = best["test_f1_macro"] >= tfidf["test_f1_macro"] and drop <= 0.01
        lines.append(f"- reuters-r8: weighted TextCNN ({best['name']}) macro-F1 {best['test_f1_macro']:.4f} vs TF-IDF+LR "
                     f"{tfidf['test_f1_macro']:.4f}, accuracy {best['test_accuracy']:.4f} vs unweighted "
                     f"{unweighted['test_accuracy']:.4f} ({-100 * drop:+.1f} points; target >= -1.0): "
                     f"{'met' if ok else 'MISSED'}")
    for (e, corpus, name), chunk in sorted(by_key.items()):
        if e == "long-text" and name.endswith("-chunk"):
            truncate = by_key.get((e, corpus, name[: -len("chunk")] + "truncate"))
            if truncate:
                ok = chunk["test_accuracy"] > truncate["test_accuracy"]
                lines.append(f"- {corpus}: {name} {chunk['test_accuracy']:.4f} vs truncate {truncate['test_accuracy']:.4f} "
                             f"at max_seq_length {LONG_TEXT_LENGTH}: {'met' if ok else 'MISSED'}")
    for (e, corpus, name), tuned in sorted(by_key.items()):
        if e == "tuned" and name.endswith("-tuned"):
            defaults = by_key.get((e, corpus, name[: -len("tuned")] + "defaults"))
            if defaults:
                ok = (tuned["eval_accuracy"] > defaults["eval_accuracy"]
                      and tuned["test_accuracy"] > defaults["test_accuracy"])
                lines.append(f"- {corpus}: {name} validation {tuned['eval_accuracy']:.4f} / test {tuned['test_accuracy']:.4f} "
                             f"vs defaults {defaults['eval_accuracy']:.4f} / {defaults['test_accuracy']:.4f}: "
                             f"{'met' if ok else 'MISSED'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized runs into a separate results file")
    parser.add_argument("--only", action="append", default=[],
                        help="run only experiment/corpus/name containing this (repeatable)")
    parser.add_argument("--rerun", action="store_true", help="redo runs that already have results")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)

    results_path = RESULTS_DIR / ("real_corpora-quick.json" if args.quick else "real_corpora.json")
    results = load_json(results_path, {"machine": None, "records": []})
    results["machine"] = machine_info()
    done = {(r["experiment"], r["corpus"], r["name"]) for r in results["records"]}
    runs_root = RUNS_DIR / ("real-corpora-quick" if args.quick else "real-corpora")

    for run in plan(args.quick):
        key = (run["experiment"], run["corpus"], run["name"])
        label = "/".join(key)
        if args.only and not any(pattern in label for pattern in args.only):
            continue
        if key in done and not args.rerun:
            continue
        print(f"=== {label}", flush=True)
        start = time.perf_counter()
        record = run_one(run, runs_root / run["experiment"] / run["corpus"] / run["name"])
        record.update(experiment=run["experiment"], corpus=run["corpus"], name=run["name"], seed=SEED,
                      wall_s=time.perf_counter() - start)
        # Re-read before writing: two calls with disjoint --only may run side by side on one file.
        results["records"] = [r for r in load_json(results_path, {"records": []})["records"]
                              if (r["experiment"], r["corpus"], r["name"]) != key]
        results["records"].append(record)
        save_json(results_path, results)
        print(f"=== {label}: test accuracy {record['test_accuracy']:.4f}, wall {record['wall_s']:.0f} s", flush=True)

    caveat = " (quick mode: small subsets and 1 epoch, so these say nothing about the targets)" if args.quick else ""
    print("\n" + tables(results["records"]) + f"\n\nTargets{caveat}:\n" + "\n".join(targets(results["records"])))
    print(f"\nresults: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
