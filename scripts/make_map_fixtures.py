#!/usr/bin/env python3
"""Reference for `fit map`: an affine map between two layers' `resid_post`, fitted with numpy's
least squares on pairs of states computed by Hugging Face transformers on the same GGUF.

Writes Tests/InterpretabilityTests/Fixtures/map.json. The texts are the first 160 sentences of
the built-in text sample (read from Sources/Interpretability/TextSample.swift), run eight at a time
as Periscope runs them; a pair is position p of the source layer and position p of the target
layer, every position but each passage's first. The first 80% of the passages fit, the rest are
held out. The ridge problem (centred, bias not shrunk, equal widths fitting W − I) is solved as
plain least squares on the stacked system [Xc; sqrt(λ) I] B = [Yc − Xc; 0] with
numpy.linalg.lstsq, independently of the normal equations Periscope solves.

Run:  HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_map_fixtures.py
"""
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "InterpretabilityTests" / "Fixtures" / "map.json"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SOURCE_LAYER, TARGET_LAYER = 6, 12
SENTENCES, PASSAGE, SPLIT, RIDGE = 160, 8, 0.8, 1e-2
SHOWN = 4  # held-out rows whose predictions are stored


def sample_sentences():
    text = (ROOT / "Sources" / "Interpretability" / "TextSample.swift").read_text()
    body = text[text.index("[") + 1:text.rindex("]")]
    return [bytes(m, "utf-8").decode("unicode_escape") if "\\" in m else m
            for m in re.findall(r'^\s*"((?:[^"\\]|\\.)*)",\s*$', body, re.M)]


def main():
    torch.set_num_threads(1)
    home = Path(os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))) / "models"
    tokenizer = AutoTokenizer.from_pretrained(str(home), gguf_file=MODEL_FILE)
    model = AutoModelForCausalLM.from_pretrained(str(home), gguf_file=MODEL_FILE, torch_dtype=torch.float32)
    model.eval()
    sentences = sample_sentences()[:SENTENCES]
    passages = [" ".join(sentences[i:i + PASSAGE]) for i in range(0, len(sentences), PASSAGE)]
    xs, ys, counts = [], [], []
    for text in passages:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        # hidden_states[l + 1] is the output of block l (resid_post).
        xs.append(hidden[SOURCE_LAYER + 1][0, 1:].double().numpy())
        ys.append(hidden[TARGET_LAYER + 1][0, 1:].double().numpy())
        counts.append(len(ids) - 1)
    fit_texts = int(round(len(passages) * SPLIT))
    x, y = np.concatenate(xs[:fit_texts]), np.concatenate(ys[:fit_texts])
    hx, hy = np.concatenate(xs[fit_texts:]), np.concatenate(ys[fit_texts:])
    d = x.shape[1]
    mx, my = x.mean(0), (y - x).mean(0)
    xc, yc = x - mx, (y - x) - my
    lam = RIDGE * np.trace(xc.T @ xc) / d
    a = np.vstack([xc, np.sqrt(lam) * np.eye(d)])
    b = np.vstack([yc, np.zeros((d, d))])
    delta, *_ = np.linalg.lstsq(a, b, rcond=None)          # [d_in, d_out]
    w = np.eye(d) + delta.T                                 # [d_out, d_in]
    bias = my + mx - w @ mx
    pred = hx @ w.T + bias
    r2 = 1 - ((hy - pred) ** 2).sum() / ((hy - hy.mean(0)) ** 2).sum()
    cos = ((pred * hy).sum(1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(hy, axis=1))).mean()
    fixture = {
        "model": MODEL_FILE, "source_layer": SOURCE_LAYER, "target_layer": TARGET_LAYER,
        "sentences": SENTENCES, "passage": PASSAGE, "split": SPLIT, "ridge": RIDGE,
        "pairs_per_text": counts, "fitted": int(x.shape[0]), "held_out": int(hx.shape[0]),
        "lambda": float(lam), "r2": float(r2), "mean_cosine": float(cos),
        "weight_norm": float(np.linalg.norm(w)), "bias": [float(v) for v in bias],
        "held_out_predictions": [[float(v) for v in row] for row in pred[:SHOWN]],
    }
    OUT.write_text(json.dumps(fixture, separators=(",", ":")))
    print(f"wrote {OUT}: {x.shape[0]} fitted, {hx.shape[0]} held out, R² {r2:.4f}, cosine {cos:.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
