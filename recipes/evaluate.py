"""Evaluate a saved checkpoint on a dataset split: metrics table, JSON and a confusion-matrix PNG.

    python recipes/evaluate.py --model runs/textcnn-movie-snippets --dataset movie-snippets --split test
"""

import sys
from pathlib import Path

# Python puts this folder first on sys.path, and its evaluate.py would shadow the `evaluate` library.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from textcls.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
