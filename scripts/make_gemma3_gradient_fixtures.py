#!/usr/bin/env python3
"""Reference gradients for the Gemma 3 backward pass.

Runs Hugging Face transformers (PyTorch autograd, CPU, float32, eager attention) on the same GGUF
file Periscope loads (gemma-3-270m-q4_k_m.gguf) and writes, with token ids from transformers' own
tokenizer (BOS added, as Periscope's prompts do), the gradient of log p(answer) (or of
logit(answer) − logit(against)) at the last position with respect to the scaled token embeddings
(hook_embed) and to chosen blocks' inputs (resid_pre). One prompt is longer than the 512-token
sliding window, so the window and the local RoPE base are reversed far from position 0; for it
only a few positions are stored.

Usage (from the repository root, with the reference venv):
    HF_HUB_OFFLINE=1 python scripts/make_gemma3_gradient_fixtures.py

Output: Tests/TransformerTests/Fixtures/gemma3/gradients.json and gradients.bin (little-endian
float32 arrays addressed by offsets in the JSON).
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
SENTENCES = [
    "the river runs past the old mill", "a clock ticks in the empty hall", "snow falls on the quiet town",
    "the baker wakes before the sun", "two ships pass in the night", "a child draws a purple horse",
    "the library keeps its oldest maps downstairs", "rain taps on the tin roof",
]
LONG_PROMPT = " ".join(f"{i + 1}. In story {i + 1}, {SENTENCES[i % len(SENTENCES)]}." for i in range(33)) \
    + " The last story ends when the"
# (prompt, answer or None for the model's own top token, against or None, layers, positions or "all")
CASES = [
    ("The capital of Japan is", " Tokyo", None, "all", "all"),
    ("When Mary and John went to the store, John gave a drink to", " Mary", " John", [0, 5, 11, 17], "all"),
    (LONG_PROMPT, None, None, [0, 4, 5, 17], "long"),
]


def main() -> None:
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    model_dir = os.path.join(home, "models")
    if not os.path.exists(os.path.join(model_dir, MODEL_NAME)):
        sys.exit(f"{MODEL_NAME} not found in {model_dir}; run `make model` first")
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=MODEL_NAME)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=MODEL_NAME, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    layers = model.model.layers
    embed = model.model.embed_tokens          # scales by √d_model itself: its output is hook_embed

    def single(text):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, f"{text!r} is {len(ids)} tokens"
        return ids[0]

    captured = {}

    def pre_hook(index):
        def hook(_module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            if hidden.requires_grad:
                hidden.retain_grad()
            captured[index] = hidden
        return hook

    for i, layer in enumerate(layers):
        layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True)

    out_dir = os.path.join(os.path.dirname(__file__), "..", "Tests", "TransformerTests", "Fixtures", "gemma3")
    os.makedirs(out_dir, exist_ok=True)
    blob = bytearray()

    def put(array) -> dict:
        array = np.ascontiguousarray(np.asarray(array), dtype="<f4")
        entry = {"offset": len(blob), "shape": list(array.shape)}
        blob.extend(array.tobytes())
        return entry

    cases = []
    for text, answer_text, against_text, which, where in CASES:
        ids = tok(text)["input_ids"]
        t = len(ids)
        if where == "long":
            assert t > 540, t
            positions = [0, 1, 100, t - 513, t - 512, t - 2, t - 1]
        else:
            positions = list(range(t))
        captured.clear()
        x = embed(torch.tensor([ids])).detach().requires_grad_(True)
        last = model(inputs_embeds=x).logits[:, -1, :]
        answer = single(answer_text) if answer_text else int(last[0].argmax())
        against = single(against_text) if against_text else None
        if against is not None:
            kind, value = "logit_difference", last[:, answer] - last[:, against]
        else:
            kind, value = "log_probability", torch.log_softmax(last, dim=-1)[:, answer]
        value.sum().backward()
        layer_ids = list(range(len(layers))) if which == "all" else which
        resid = np.stack([captured[l].grad[0][positions].numpy() for l in layer_ids])   # [layers, P, d]
        cases.append({
            "text": text, "ids": ids, "answer": answer, "against": against, "metric": kind,
            "value": float(value.item()), "positions": positions,
            "embed": put(x.grad[0][positions].numpy()),
            "layers": layer_ids,
            "residPre": put(resid),
        })
        print(f"{text[:40]!r} ({t} tokens): {kind} of {answer} = {value.item():.4f}", file=sys.stderr)

    meta = {"model": MODEL_NAME, "generator": "scripts/make_gemma3_gradient_fixtures.py", "torch": torch.__version__,
            "gradients": cases}
    with open(os.path.join(out_dir, "gradients.json"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(out_dir, "gradients.bin"), "wb") as f:
        f.write(bytes(blob))
    print(f"wrote {len(blob)} bytes of float32 data", file=sys.stderr)


if __name__ == "__main__":
    main()
