"""Evaluate a saved checkpoint on a dataset split: metrics table, JSON and a confusion-matrix PNG.

    python recipes/evaluate_checkpoint.py --model runs/textcnn-movie-snippets --dataset movie-snippets --split test

Same flags as `textcls evaluate`. Bad input ends with one line on stderr and exit code 2;
`--debug` or TEXTCLS_DEBUG=1 shows the full traceback.
"""

import argparse
import os
import sys

from textcls.cli import add_evaluate_arguments, run_reporting_errors
from textcls.evaluation import evaluate_checkpoint
from textcls.reporting import format_metrics_table


def evaluate_and_print(args: dict) -> None:
    # The flags are evaluate_checkpoint's arguments under their command-line names.
    metrics = evaluate_checkpoint(args.pop("model"), text_columns=args.pop("text_column"), **args)
    print(format_metrics_table(metrics))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_evaluate_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks.")
    args = vars(parser.parse_args())
    debug = args.pop("debug") or os.environ.get("TEXTCLS_DEBUG", "") not in ("", "0")
    sys.exit(run_reporting_errors(lambda: evaluate_and_print(args), debug))
