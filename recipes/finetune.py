"""Fine-tune and evaluate a TextCNN, DPCNN or Llama classifier with the Trainer.

    accelerate launch recipes/finetune.py                       # TextCNN on movie-snippets
    accelerate launch recipes/finetune.py --model_type llama --use_lora --max_steps 100
    python recipes/finetune.py --help                           # every flag, Trainer's included

Bad input ends with one line on stderr and exit code 2, as with `textcls train`; `--debug` or
TEXTCLS_DEBUG=1 shows the full traceback.
"""

import os
import sys

from textcls.cli import run_reporting_errors
from textcls.training import run

if __name__ == "__main__":
    argv = sys.argv[1:]
    debug = "--debug" in argv or os.environ.get("TEXTCLS_DEBUG", "") not in ("", "0")
    sys.exit(run_reporting_errors(lambda: run([arg for arg in argv if arg != "--debug"]), debug))
