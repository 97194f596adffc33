#!/usr/bin/env python3
"""Reference dump for the Transformer fidelity tests.

Runs Hugging Face transformers (PyTorch, CPU, float32) on the same GGUF file Periscope loads and
writes, for a handful of prompts, the token ids (from HF's own tokenizer, so the Swift test does not
depend on our tokenizer), the residual stream after every block, logits, and a greedy continuation.

Usage (from the repository root):
    HF_HUB_OFFLINE=1 ~/.cache/periscope/refvenv/bin/python scripts/make_reference_fixtures.py

Output: Tests/TransformerTests/Fixtures/forward/reference.json (metadata, ids, top-k) and
reference.bin (little-endian float32 arrays addressed by offsets in the JSON).
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

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
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    model_dir = os.path.join(home, "models")
    if not os.path.exists(os.path.join(model_dir, MODEL_NAME)):
        sys.exit(f"{MODEL_NAME} not found in {model_dir}; run `make model` first")
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=MODEL_NAME)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=MODEL_NAME, dtype=torch.float32)
    model.eval()

    # Capture each block's output (resid_post) directly, independent of how hidden_states is assembled.
    captured = {}

    def make_hook(index):
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, (tuple, list)) else output
            captured[index] = hidden.detach().clone()
        return hook

    layers = model.model.layers
    for i, layer in enumerate(layers):
        layer.register_forward_hook(make_hook(i))

    out_dir = os.path.join(os.path.dirname(__file__), "..", "Tests", "TransformerTests", "Fixtures", "forward")
    os.makedirs(out_dir, exist_ok=True)
    blob = bytearray()

    def put(array: np.ndarray) -> dict:
        array = np.ascontiguousarray(array, dtype="<f4")
        entry = {"offset": len(blob), "shape": list(array.shape)}
        blob.extend(array.tobytes())
        return entry

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

    meta = {
        "model": MODEL_NAME,
        "generator": "scripts/make_reference_fixtures.py",
        "torch": torch.__version__,
        "cases": cases,
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(out_dir, "reference.bin"), "wb") as f:
        f.write(bytes(blob))
    print(f"wrote {len(blob)} bytes of float32 data for {len(cases)} prompts", file=sys.stderr)


if __name__ == "__main__":
    main()
