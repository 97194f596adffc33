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
import sys

import numpy as np
import torch

from reference_fixtures import Fixture, load_model

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
    tok, model = load_model(MODEL_NAME, eager=True)
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

    fixture = Fixture("gemma3", stem="gradients")
    put = fixture.put
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
    fixture.write(meta)


if __name__ == "__main__":
    main()
