#!/usr/bin/env python3
"""Reference dump for the Gemma 3 fidelity tests.

Runs Hugging Face transformers (PyTorch, CPU, float32, eager attention) on the same GGUF file
Periscope loads (gemma-3-270m-q4_k_m.gguf) and writes, for a handful of prompts, the token ids
(from transformers' own tokenizer, BOS added), every block's resid_post at a few positions, the
final-norm output and the top logits there, every position's resid_post norm per block, and a
greedy continuation. One prompt is longer than the 512-token sliding window, so the local layers'
window and the two RoPE bases are checked far from position 0.

Usage (from the repository root, with the reference venv):
    HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_gemma3_reference_fixtures.py

Output: Tests/TransformerTests/Fixtures/gemma3/reference.json (metadata, ids, top-k, norms) and
reference.bin (little-endian float32 arrays addressed by offsets in the JSON), ~1 MB together.
"""
import sys

import numpy as np
import torch

from reference_fixtures import Fixture, capture_block_outputs, load_model

MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
PROMPTS = [
    "The capital of Japan is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "Once upon a time, there was a little fox who",
    "1, 2, 3, 4, 5,",
    "Les mathématiques sont la reine des sciences et l'arithmétique",
]
# Over 512 tokens: a numbered list of varied sentences, ending mid-sentence.
SENTENCES = [
    "the river runs past the old mill", "a clock ticks in the empty hall", "snow falls on the quiet town",
    "the baker wakes before the sun", "two ships pass in the night", "a child draws a purple horse",
    "the library keeps its oldest maps downstairs", "rain taps on the tin roof",
]
LONG_PROMPT = " ".join(f"{i + 1}. In story {i + 1}, {SENTENCES[i % len(SENTENCES)]}." for i in range(60)) \
    + " The last story ends when"
LAST_POSITIONS = 3          # short prompts: resid_post of the last few positions
TOP_K = 20
GENERATE = 10


def main() -> None:
    tok, model = load_model(MODEL_NAME, eager=True)
    torch.set_grad_enabled(False)
    cfg = model.config
    print(type(model).__name__, {k: getattr(cfg, k, None) for k in [
        "head_dim", "sliding_window", "layer_types", "rope_parameters", "rope_theta", "rope_local_base_freq",
        "query_pre_attn_scalar", "final_logit_softcapping", "attn_logit_softcapping", "hidden_activation",
        "rms_norm_eps", "tie_word_embeddings"]}, file=sys.stderr)

    layers = model.model.layers
    captured = capture_block_outputs(layers)
    fixture = Fixture("gemma3")
    put = fixture.put

    cases = []
    for text in PROMPTS + [LONG_PROMPT]:
        ids = tok(text)["input_ids"]
        t = len(ids)
        if text == LONG_PROMPT:
            assert t > 520, t
            positions = [100, 511, 512, t - 2, t - 1]
        else:
            positions = list(range(max(0, t - LAST_POSITIONS), t))
        input_ids = torch.tensor([ids])
        captured.clear()
        out = model.model(input_ids)
        normed = out.last_hidden_state[0]                                   # after the final norm
        logits = model.lm_head(normed[positions]).float().numpy()           # [P, vocab]
        if cfg.final_logit_softcapping is not None:
            c = cfg.final_logit_softcapping
            logits = np.tanh(logits / c) * c
        resid = np.stack([captured[i][0][positions].float().numpy() for i in range(len(layers))])  # [L, P, d]
        norms = np.stack([captured[i][0].norm(dim=-1).float().numpy() for i in range(len(layers))])  # [L, T]
        top_ids = np.argsort(-logits, axis=1)[:, :TOP_K]
        gen = model.generate(input_ids, max_new_tokens=GENERATE, do_sample=False, pad_token_id=tok.pad_token_id)
        cases.append({
            "text": text,
            "ids": ids,
            "positions": positions,
            "residPost": put(resid),
            "residNorms": put(norms),
            "lnFinal": put(normed[positions].float().numpy()),
            "topIds": top_ids.tolist(),
            "topLogits": np.take_along_axis(logits, top_ids, axis=1).tolist(),
            "logitNorms": np.linalg.norm(logits, axis=1).tolist(),
            "greedy": gen[0, t:].tolist(),
        })
        print(repr(text[:40]), t, "tokens ->", repr(tok.decode(gen[0, t:])), file=sys.stderr)

    fixture.write({
        "model": MODEL_NAME,
        "generator": "scripts/make_gemma3_reference_fixtures.py",
        "torch": torch.__version__,
        "cases": cases,
    })

if __name__ == "__main__":
    main()
