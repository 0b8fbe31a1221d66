"""Helpers shared by the benchmark scripts: where results go, and what machine produced them."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RUNS_DIR = BENCH_DIR / "runs"  # checkpoints of the accuracy runs (git-ignored); the speed bench reuses two

PACKAGES = ("textcls", "torch", "transformers", "datasets", "accelerate", "peft", "scikit-learn", "numpy")


def machine_info() -> dict:
    """CPU/GPU, core count, date and package versions: what a reader needs to compare numbers."""
    import torch

    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "versions": {},
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        info["cpu"] = fields.get("Model name", "").strip()
        info["lscpu"] = {k.strip(): fields[k].strip() for k in ("Architecture", "CPU(s)", "Thread(s) per core") if k in fields}
        # Whether bf16 runs fast on these cores (speed (g)): AVX2-only machines have neither.
        bf16 = [flag for flag in fields.get("Flags", "").split() if flag in ("avx512_bf16", "amx_bf16")]
        info["lscpu"]["bf16 instructions"] = " ".join(bf16) or "none"
    except (OSError, subprocess.CalledProcessError):
        info["cpu"] = platform.processor()
    for name in PACKAGES:
        try:
            info["versions"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return info


def load_json(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


def save_json(path: Path, data) -> None:
    """Write through a temp file: an interrupted run never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # per process: two benchmark calls may share a file
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def add_threads_argument(parser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's, one per core); 1 when other jobs share the cores")


def apply_threads(threads: int | None) -> None:
    if threads:
        # With a busy neighbour on the same cores, 2 OpenMP threads wait on each other at every op:
        # a TextCNN step measured 25x slower than with 1 thread.
        import torch

        torch.set_num_threads(threads)
