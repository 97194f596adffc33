#!/usr/bin/env python3
"""The nnsight side of the `lenses` benchmark: the Patchscopes paper's §4.1 experiment written as
an nnsight 0.8 user would write it, on SmolLM2-135M-Instruct from its Q4_1 GGUF (dequantised to
float32 by transformers, 2 CPU threads).

For every text: one trace saves every layer's output, the model's own next token at each
position, and the logit lens and tuned lens top-1 of every (layer, position) (final norm and
lm_head applied to the layer's output, the tuned lens after its translator). Then, per layer,
one trace over the identity prompt ("cat -> cat; 1135 -> 1135; hello -> hello; ?") batched
once per position of the text, writing that position's state over the placeholder (the last
token) at the same layer and reading the next token. Precision@1 per layer and method is the
share of positions whose read-out is the model's own next token.

The tuned lens is the one Periscope fitted and keeps in the model cache
($PERISCOPE_HOME/models/tuned/<sha256 of the GGUF>-*.tunedlens), so both sides read the same
translators and their curves can be compared.

Reads the texts (one per line) from --texts; prints one JSON object with the median wall time of
the runs after a warm-up, and the precision curves of the last run.

Run:  $PERISCOPE_HOME/refvenv/bin/python bench/lenses_nnsight.py --texts FILE [--runs 3]
"""
import argparse
import glob
import hashlib
import json
import os
import statistics
import struct
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")
import nnsight  # noqa: E402
from nnsight import LanguageModel  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
IDENTITY = "cat -> cat; 1135 -> 1135; hello -> hello; ?"


def models_directory():
    return Path(os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))) / "models"


def load():
    directory = models_directory()
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=MODEL_FILE)
    hf = AutoModelForCausalLM.from_pretrained(str(directory), gguf_file=MODEL_FILE, dtype=torch.float32)
    hf.eval()
    return LanguageModel(hf, tokenizer=tokenizer), tokenizer


def tuned_lens(layers, width):
    """Periscope's tuned lens file: "PSTUNED1", layers, width, samples (u32 LE), then per layer the
    weight [d, d] and bias [d] as float32."""
    digest = hashlib.sha256((models_directory() / MODEL_FILE).read_bytes()).hexdigest()
    found = glob.glob(str(models_directory() / "tuned" / f"{digest}-*.tunedlens"))
    if not found:
        sys.exit("no tuned lens in the model cache: run `lens p tuned` (or `lenses`) in Periscope first")
    data = Path(found[0]).read_bytes()
    assert data[:8] == b"PSTUNED1"
    count, d, _ = struct.unpack_from("<3I", data, 8)
    assert (count, d) == (layers, width), (count, d)
    values = np.frombuffer(data, dtype="<f4", offset=20)
    out = []
    for layer in range(count):
        base = layer * (d * d + d)
        weight = torch.from_numpy(values[base:base + d * d].reshape(d, d).copy())
        bias = torch.from_numpy(values[base + d * d:base + d * d + d].copy())
        out.append((weight, bias))
    return out


def lenses(model, texts, translators, target_ids, placeholder):
    layers = model.model.layers
    hits = np.zeros((3, len(layers)), dtype=np.int64)
    positions = 0
    for text_ids in texts:
        count = text_ids.shape[1]
        states, logit_top, tuned_top = [], [], []
        with model.trace(text_ids):
            for layer, (weight, bias) in zip(layers, translators):
                hidden = layer.output[0]
                states.append(hidden.save())
                logit_top.append(model.lm_head(model.model.norm(hidden)).argmax(-1).save())
                tuned_top.append(model.lm_head(model.model.norm(hidden @ weight.T + bias)).argmax(-1).save())
            own = model.lm_head.output[0].argmax(-1).save()
        identity_top = []
        batch = target_ids.repeat(count, 1)
        for layer, state in zip(layers, states):
            with model.trace(batch):
                layer.output[:, placeholder] = state
                identity_top.append(model.lm_head.output[:, -1].argmax(-1).save())
        for l in range(len(layers)):
            hits[0, l] += int((logit_top[l] == own).sum())
            hits[1, l] += int((tuned_top[l] == own).sum())
            hits[2, l] += int((identity_top[l] == own).sum())
        positions += count
    return (hits / positions).tolist(), positions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, tokenizer = load()
    texts = [line for line in Path(args.texts).read_text().splitlines() if line.strip()]
    encoded = [tokenizer(t, add_special_tokens=False, return_tensors="pt")["input_ids"] for t in texts]
    target_ids = tokenizer(IDENTITY, add_special_tokens=False, return_tensors="pt")["input_ids"]
    placeholder = target_ids.shape[1] - 1
    translators = tuned_lens(len(model.model.layers), model.config.hidden_size)

    def run():
        return lenses(model, encoded, translators, target_ids, placeholder)

    run()                                        # warm-up
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        precision, positions = run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"tool": "nnsight", "nnsight": nnsight.__version__, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "texts": len(texts), "positions": positions,
                      "median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
                      "precision": {"logit lens": precision[0], "tuned lens": precision[1],
                                    "identity Patchscope": precision[2]}}))


if __name__ == "__main__":
    main()
