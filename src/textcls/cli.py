"""The `textcls` command: train, tune, evaluate, predict, download.

Problems with the user's input end the command with one line on stderr and exit code 2; the
full traceback is shown with `--debug` or `TEXTCLS_DEBUG=1`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from .errors import TextclsError, TrainingInterrupted


def read_texts(source: str, text_column: str) -> list[str]:
    """Texts from '-' (stdin, one per line, blank lines skipped) or a file, read as train/evaluate read theirs."""
    if source == "-":
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    from .data import load_texts

    return load_texts(source, text_column)


def write_predictions(texts, predictions, output: str | None, output_format: str) -> None:
    stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if output_format == "jsonl":
            for text, prediction in zip(texts, predictions):
                stream.write(json.dumps({"text": text, **prediction}, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(stream)
            writer.writerow(["text", "label", "score"])
            for text, prediction in zip(texts, predictions):
                label, score = prediction["label"], prediction["score"]
                if isinstance(label, list):  # multi-label: ';'-joined
                    label, score = ";".join(label), ";".join(f"{s:.6f}" for s in score)
                else:
                    score = f"{score:.6f}"
                writer.writerow([text, label, score])
    finally:
        if output:
            stream.close()


def command_predict(args) -> None:
    from .inference import label_predictions, load_checkpoint, predict_logits
    from .run_folder import check_writable_file
    from .validation import check_inference_arguments

    check_inference_arguments(args)
    if args.output:  # before the (slow) predictions, not after them
        check_writable_file(Path(args.output), "--output")
    texts = read_texts(args.input, args.text_column)
    if not texts:
        raise TextclsError(f"No texts to classify in {args.input}.")
    model, tokenizer = load_checkpoint(args.model, trust_remote_code=args.trust_remote_code)
    logits = predict_logits(
        model,
        tokenizer,
        texts,
        batch_size=args.batch_size,
        max_length=args.max_seq_length,
        progress=True,
        long_text=args.long_text,
        chunk_stride=args.chunk_stride,
    )
    output_format = args.format or ("jsonl" if args.output and args.output.endswith((".jsonl", ".json")) else "csv")
    predictions = label_predictions(model, logits, args.multi_label_threshold)
    write_predictions(texts, predictions, args.output, output_format)


def command_evaluate(args) -> None:
    from .evaluation import evaluate_checkpoint
    from .reporting import format_metrics_table
    from .run_folder import check_writable_folder
    from .validation import check_inference_arguments

    check_inference_arguments(args)
    if args.output_dir:
        check_writable_folder(Path(args.output_dir), "--output_dir")
    elif os.path.isdir(args.model):  # the results go next to the checkpoint
        check_writable_folder(Path(args.model), "--model")
    metrics = evaluate_checkpoint(
        args.model,
        split=args.split,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        trust_remote_code=args.trust_remote_code,
        multi_label_threshold=args.multi_label_threshold,
        long_text=args.long_text,
        chunk_stride=args.chunk_stride,
        dataset=args.dataset,
        train_file=args.train_file,
        validation_file=args.validation_file,
        test_file=args.test_file,
        text_columns=args.text_column,
        label_column=args.label_column,
    )
    print(format_metrics_table(metrics))


def command_download(args) -> None:
    from . import resources

    for name in args.names:
        if name == "all":
            resources.download_all()
        else:
            resources.download(name)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="A checkpoint folder or Hub id.")
    parser.add_argument("--dataset", help="Builtin corpus, save_to_disk folder, data file or Hub dataset.")
    parser.add_argument("--train_file")
    parser.add_argument("--validation_file")
    parser.add_argument("--test_file")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--text_column", nargs="+", default=["text"])
    parser.add_argument("--label_column", default="label")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_seq_length", type=int)
    parser.add_argument("--output_dir", help="Where the JSON and PNG go (default: the checkpoint folder).")
    parser.add_argument("--trust_remote_code", action="store_true", help="Run code shipped with a checkpoint.")
    add_prediction_arguments(parser)


def add_prediction_arguments(parser: argparse.ArgumentParser) -> None:
    """Settings a checkpoint records from training; a flag given here wins over the checkpoint's."""
    parser.add_argument(
        "--multi_label_threshold",
        type=float,
        help="Multi-label: one probability threshold for every label (default: the checkpoint's, else 0.5).",
    )
    parser.add_argument(
        "--long_text",
        help="truncate, or chunk: average the logits of overlapping windows (default: as the model was trained).",
    )
    parser.add_argument("--chunk_stride", type=int, help="--long_text chunk: tokens shared by consecutive windows.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textcls", description="Hugging Face-compatible text classification.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("train", help="Fine-tune a model (same arguments as recipes/finetune.py).", add_help=False)
    commands.add_parser(
        "tune",
        help="Search hyperparameters on validation (train's arguments + --n_trials, --time_budget), then train the best.",
        add_help=False,
    )

    evaluate = commands.add_parser("evaluate", help="Evaluate a checkpoint on a dataset split.")
    add_evaluate_arguments(evaluate)

    predict = commands.add_parser("predict", help="Classify texts from a file or stdin.")
    predict.add_argument("--model", required=True, help="A checkpoint folder or Hub id.")
    predict.add_argument("input", help="A .txt (one text per line), .csv, .tsv, .json, .jsonl or .parquet file, or -.")
    predict.add_argument("--text_column", default="text")
    predict.add_argument("--output", "-o", help="Write here instead of stdout (.csv or .jsonl).")
    predict.add_argument("--format", choices=["csv", "jsonl"])
    predict.add_argument("--batch_size", type=int, default=64)
    predict.add_argument("--max_seq_length", type=int)
    predict.add_argument("--trust_remote_code", action="store_true")
    add_prediction_arguments(predict)

    download = commands.add_parser("download", help="Fetch builtin corpora, word vectors and pretrained models (SmolLM2, MiniLM) into the cache.")
    download.add_argument("names", nargs="+", help="all, or names: movie-snippets, 20newsgroups, ...")
    return parser


MAX_ERROR_LINE = 300  # fits a terminal or two; our messages are written to stay under it, this is the backstop


def print_error(message: str) -> None:
    line = "textcls: error: " + " ".join(message.split())
    print(line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 4] + " ...", file=sys.stderr)


def run_reporting_errors(function, debug: bool) -> int:
    """Run `function`; a TextclsError, or an OSError about a file, becomes one line on stderr and exit code 2."""
    try:
        function()
    except TextclsError as error:
        if debug:
            raise
        print_error(str(error))
        # 130 is the shell's code for "ended by Ctrl-C"; the message says how to resume.
        return 130 if isinstance(error, TrainingInterrupted) else 2
    except OSError as error:
        # The OS refused a file the up-front checks could not foresee (permissions, a full disk): name it.
        if debug or error.filename is None:
            raise
        print_error(f"{error.filename}: {error.strerror or error}")
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("TEXTCLS_DEBUG", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]
    if argv and argv[0] == "train":
        from .training import run

        return run_reporting_errors(lambda: run(argv[1:]), debug)
    if argv and argv[0] == "tune":
        from .tuning import tune

        return run_reporting_errors(lambda: tune(argv[1:]), debug)
    args = build_parser().parse_args(argv)
    handlers = {"evaluate": command_evaluate, "predict": command_predict, "download": command_download}
    return run_reporting_errors(lambda: handlers[args.command](args), debug)


if __name__ == "__main__":
    sys.exit(main())
