"""Fine-tune and evaluate a TextCNN, DPCNN or Llama classifier with the Trainer.

    accelerate launch recipes/finetune.py                       # TextCNN on movie-snippets
    accelerate launch recipes/finetune.py --model_type llama --use_lora --max_steps 100
    python recipes/finetune.py --help                           # every flag, Trainer's included
"""

import sys
from pathlib import Path

# Python puts this folder first on sys.path, and its evaluate.py would shadow the `evaluate` library.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from textcls.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
