"""Pack what bench/gpu.py needs and a GPU machine lacks into parts that the device tool can carry, one per call.

    python bench/device_bundle.py     # here, with network: -> bench/runs/device/1/, 2/, ... and the calls to make

The GPU machines lent to this project have torch, accelerate, pyarrow and scikit-learn, but an older
transformers than pyproject.toml pins, no datasets / evaluate / gguf and no network, and a call to one
carries at most 64 MiB of files (working tree included). The bundle is those wheels (the versions installed here,
so the GPU runs what CI tests) and the cached corpora and SmolLM2 GGUF, as one .tar.gz cut into parts small
enough to carry beside the working tree. Each call carries one part folder; the parts already sent stay on
the machine while it is warm (it goes back after about 30 s idle, so make the calls back to back).
Every call runs bench/device_setup.sh: before the last one it unpacks what has arrived and runs
bench/gpu.py --quick on the GPU (a minute, to find a CUDA-only failure cheaply); the last call checks that
every part arrived, unpacks, installs and runs bench/gpu.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, RUNS_DIR  # noqa: E402

from textcls.resources import cache_dir, resource_files  # noqa: E402

BUNDLE_DIR = RUNS_DIR / "device"  # git-ignored, so only `carry` takes it to the GPU machine
CARRY_LIMIT = 64 * 2**20  # the device tool's limit for the working tree plus carried paths, per call
# Missing on the GPU machine or older there than pyproject.toml needs; the rest of our dependencies are there.
WHEELS = ("transformers", "datasets", "evaluate", "peft", "gguf", "dill", "multiprocess")
RESOURCES = ("movie-snippets", "reuters-r8", "20newsgroups", "smollm2-135m")
GPU_PYTHON = "3.12"  # the GPU machine's python3 (KINDS.md)


def download_wheels(folder: Path) -> list[Path]:
    pins = [f"{name}=={metadata.version(name)}" for name in WHEELS]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version",
         GPU_PYTHON, "--implementation", "cp", "--platform", "manylinux_2_28_x86_64", "--platform",
         "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-d", str(folder), *pins],
        check=True,
    )
    return sorted(folder.glob("*.whl"))


def working_tree_bytes() -> int:
    """What travels with every call besides `carry`: tracked files and untracked ones git does not ignore."""
    root = BENCH_DIR.parent
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, check=True).stdout.decode().split("\0")
    paths = [root / name for name in listed if name]
    return sum(path.stat().st_size for path in paths if path.is_file())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        wheels = download_wheels(Path(tmp))
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz", compresslevel=6) as tar:
            for wheel in wheels:
                tar.add(wheel, arcname=f"wheels/{wheel.name}")
            # Both topic corpora come from one package folder: each folder once.
            folders = dict.fromkeys(next(iter(resource_files(name).values())).parent for name in RESOURCES)
            for folder in folders:
                tar.add(folder, arcname=f"cache/{folder.relative_to(cache_dir())}")
    data = archive.getvalue()
    room = CARRY_LIMIT - working_tree_bytes() - 2**20  # a MiB of slack for files written meanwhile
    if room <= 0:
        sys.exit(f"device_bundle: the working tree alone is over the {CARRY_LIMIT // 2**20} MiB a call carries")
    count = math.ceil(len(data) / room)
    part_bytes = math.ceil(len(data) / count)  # equal parts: each with the same slack
    parts = [data[start:start + part_bytes] for start in range(0, len(data), part_bytes)]
    shutil.rmtree(BUNDLE_DIR, ignore_errors=True)
    manifest = dict(parts=len(parts), bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                    wheels=[w.name for w in wheels], resources=list(RESOURCES))
    for number, part in enumerate(parts, start=1):
        folder = BUNDLE_DIR / str(number)
        folder.mkdir(parents=True)
        (folder / f"part-{number}").write_bytes(part)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(data) / 2**20:.1f} MiB in {len(parts)} parts under {BUNDLE_DIR} ({', '.join(manifest['wheels'])})\n")
    print("Device calls, back to back (the machine goes back after ~30 s idle):")
    for number in range(1, len(parts)):
        print(f"  run carry=[\"bench/runs/device/{number}\"] timeout_s=240 command=\"bash bench/device_setup.sh --check\"")
    print(f"  run carry=[\"bench/runs/device/{len(parts)}\"] timeout_s=590 "
          "command=\"bash bench/device_setup.sh --deadline_s 450\"   # arguments after the script go to bench/gpu.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
