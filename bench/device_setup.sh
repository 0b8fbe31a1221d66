#!/usr/bin/env bash
# On a GPU machine, in the repository root: put bench/device_bundle.py's parts together, install its wheels,
# point textcls' cache at its corpora and GGUF, and run bench/gpu.py with the arguments given (results in $OUT).
#   bash bench/device_setup.sh --check            # a call before the last: bench/gpu.py --quick on what has arrived
#   bash bench/device_setup.sh --deadline_s 450   # the last call: every part is needed
set -euo pipefail
shopt -s nullglob
bundle=bench/runs/device
work=/tmp/textcls-bundle
out=${OUT:-bench/results}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch, pyarrow, fsspec, accelerate; print("torch", torch.__version__, "pyarrow", pyarrow.__version__,
"fsspec", fsspec.__version__, "accelerate", accelerate.__version__)'

manifests=("$bundle"/*/manifest.json)
if [ ${#manifests[@]} -eq 0 ]; then
  echo "device_setup: no bundle part under $bundle: run python bench/device_bundle.py and carry bench/runs/device/1" >&2
  exit 2
fi
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${manifests[0]}" "$1"; }
parts=$(field parts)
arrived=0  # parts 1..arrived are here
while [ "$arrived" -lt "$parts" ] && [ -f "$bundle/$((arrived + 1))/part-$((arrived + 1))" ]; do arrived=$((arrived + 1)); done

rm -rf "$work" && mkdir -p "$work"
install_wheels() {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" "$work"/wheels/*.whl
  export PYTHONPATH="$work/site:$PWD/src" TEXTCLS_CACHE="$work/cache" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
}

if [ "${1:-}" = "--check" ]; then
  echo "device_setup: parts 1-$arrived of $parts are here"
  [ "$arrived" -ge 1 ] || exit 2
  # The wheels and corpora lead the archive, so the first part unpacks them (the cut-off GGUF is not used).
  for n in $(seq 1 "$arrived"); do cat "$bundle/$n/part-$n"; done | { gzip -dc 2>/dev/null || true; } \
    | { tar -x -C "$work" 2>/dev/null || true; }
  install_wheels
  exec python3 bench/gpu.py --quick --no_inference --out "$out"
fi

if [ "$arrived" -lt "$parts" ]; then
  echo "device_setup: part $((arrived + 1)) of $parts is not on this machine (a fresh machine starts bare: carry the parts again, back to back)" >&2
  exit 2
fi
for n in $(seq 1 "$parts"); do cat "$bundle/$n/part-$n"; done > "$work/bundle.tar.gz"
echo "$(field sha256)  $work/bundle.tar.gz" | sha256sum --check --quiet \
  || { echo "device_setup: the parts do not add up to the bundle (sha256): make it again" >&2; exit 2; }
tar -xzf "$work/bundle.tar.gz" -C "$work"
install_wheels
exec python3 bench/gpu.py --out "$out" "$@"
