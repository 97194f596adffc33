#!/usr/bin/env python3
"""Reference dump for the Transformer fidelity tests.

Runs Hugging Face transformers (PyTorch, CPU, float32) on the same GGUF file Periscope loads and
writes, for a handful of prompts, the token ids (from HF's own tokenizer, so the Swift test does not
depend on our tokenizer), the residual stream after every block, logits, and a greedy continuation.

Usage (from the repository root):
    HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_reference_fixtures.py

Output: Tests/TransformerTests/Fixtures/forward/reference.json (metadata, ids, top-k) and
reference.bin (little-endian float32 arrays addressed by offsets in the JSON).
"""
import sys

import numpy as np
import torch

from reference_fixtures import Fixture, capture_block_outputs, load_model

MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "The Eiffel Tower is in the city of",
    "def fibonacci(n):",
    "Once upon a time, there was a",
    "1, 2, 3, 4, 5,",
    "The opposite of hot is",
]
MAX_POSITIONS = 9  # prompts are short; residuals are stored for every position up to this many
# One longer prompt checks RoPE far from position 0; only a few layers' residuals are stored for it.
LONG_PROMPT = ("In the beginning of the twentieth century, physicists discovered that light behaves both "
               "as a wave and as a particle, and this strange duality led to the development of quantum "
               "mechanics, which describes")
LONG_LAYERS = [0, 14, 29]
# Every layer for the first two prompts; a spread of layers for the rest (keeps the fixture small).
SOME_LAYERS = [0, 3, 7, 11, 15, 19, 23, 27, 29]
TOP_K = 50
GENERATE = 10


def main() -> None:
    tok, model = load_model(MODEL_NAME)
    torch.set_grad_enabled(False)
    layers = model.model.layers
    captured = capture_block_outputs(layers)
    fixture = Fixture("forward")
    put = fixture.put

    cases = []
    for text in PROMPTS + [LONG_PROMPT]:
        long = text == LONG_PROMPT
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if not long:
            ids = ids[:MAX_POSITIONS]
        index = (PROMPTS + [LONG_PROMPT]).index(text)
        layer_ids = LONG_LAYERS if long else list(range(len(layers))) if index < 2 else SOME_LAYERS
        input_ids = torch.tensor([ids])
        captured.clear()
        out = model(input_ids, output_hidden_states=True)
        logits = out.logits[0].float().numpy()  # [T, vocab]
        resid = np.stack([captured[i][0].float().numpy() for i in layer_ids])  # [len(layer_ids), T, d]
        final_normed = out.hidden_states[-1][0].float().numpy()  # HF: last hidden state is after the final norm
        top_ids = np.argsort(-logits, axis=1)[:, :TOP_K]
        gen = model.generate(input_ids, max_new_tokens=GENERATE, do_sample=False, pad_token_id=tok.eos_token_id)
        cases.append({
            "text": text,
            "ids": ids,
            "layers": layer_ids,
            "residPost": put(resid),
            "lnFinal": put(final_normed),
            "lastLogits": put(logits[-1]),
            "topIds": top_ids.tolist(),
            "topLogits": np.take_along_axis(logits, top_ids, axis=1).tolist(),
            "logitNorms": np.linalg.norm(logits, axis=1).tolist(),
            "greedy": gen[0, len(ids):].tolist(),
        })
        print(text, ids, "->", tok.decode(gen[0, len(ids):]), file=sys.stderr)

    fixture.write({
        "model": MODEL_NAME,
        "generator": "scripts/make_reference_fixtures.py",
        "torch": torch.__version__,
        "cases": cases,
    })

if __name__ == "__main__":
    main()
