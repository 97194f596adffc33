#!/usr/bin/env python3
"""Reference gradients for the backward-pass fidelity tests.

Runs Hugging Face transformers (PyTorch autograd, CPU, float32) on the same GGUF file Periscope
loads and writes, with token ids from HF's own tokenizer:

- the gradient of log p(answer) (or of logit(answer) − logit(against)) at the last position with
  respect to the token embeddings and to every block's input (resid_pre);
- attribution patching: (clean − corrupt activation) · ∂p(answer)/∂activation on the corrupt run,
  summed over d_model, for resid_pre, attn_out and mlp_out at every layer and position;
- integrated gradients from the all-zero embedding baseline with a midpoint sum of a few steps:
  per-token scores, their sum and the metric's change (the completeness gap).

Usage (from the repository root):
    HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_gradient_fixtures.py

Output: Tests/TransformerTests/Fixtures/gradients/reference.json and reference.bin (little-endian
float32 arrays addressed by offsets in the JSON).
"""
import sys

import numpy as np
import torch

from reference_fixtures import Fixture, load_model

MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# (prompt, answer, against or None, layers whose resid_pre gradient is stored)
GRADIENT_CASES = [
    ("The Eiffel Tower is in the city of", " Paris", None, "all"),
    ("When Mary and John went to the store, John gave a drink to", " Mary", " John", [0, 9, 19, 29]),
]
PATCHING_PAIR = ("The Eiffel Tower is in the city of", "The Colosseum is in the city of", " Paris")
IG_CASE = ("The Eiffel Tower is in the city of", " Paris", 8)


def main() -> None:
    tok, model = load_model(MODEL_NAME, eager=True)
    for p in model.parameters():
        p.requires_grad_(False)
    layers = model.model.layers
    embed = model.model.embed_tokens

    def ids_of(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    def single(text):
        ids = ids_of(text)
        assert len(ids) == 1, f"{text!r} is {len(ids)} tokens"
        return ids[0]

    # Hooks that capture each block's input, attention output and MLP output, keeping their grads.
    captured = {}

    def capture(name):
        def keep(t):
            if t.requires_grad:
                t.retain_grad()
            captured[name] = t
        return keep

    def pre_hook(index):
        def hook(_module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            capture(("resid_pre", index))(hidden)
        return hook

    def out_hook(kind, index):
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, (tuple, list)) else output
            capture((kind, index))(hidden)
        return hook

    for i, layer in enumerate(layers):
        layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True)
        layer.self_attn.register_forward_hook(out_hook("attn_out", i))
        layer.mlp.register_forward_hook(out_hook("mlp_out", i))

    def run(embeddings):
        captured.clear()
        return model(inputs_embeds=embeddings).logits[:, -1, :]

    def metric(last, answer, against, kind):
        if kind == "logit_difference":
            return last[:, answer] - last[:, against]
        logp = torch.log_softmax(last, dim=-1)[:, answer]
        return logp if kind == "log_probability" else logp.exp()

    fixture = Fixture("gradients")
    put = fixture.put

    gradient_cases = []
    for text, answer_text, against_text, which in GRADIENT_CASES:
        ids = ids_of(text)
        answer = single(answer_text)
        against = single(against_text) if against_text else None
        kind = "logit_difference" if against is not None else "log_probability"
        x = embed(torch.tensor([ids])).detach().requires_grad_(True)
        value = metric(run(x), answer, against, kind)
        value.sum().backward()
        layer_ids = list(range(len(layers))) if which == "all" else which
        grads = np.stack([captured[("resid_pre", l)].grad[0].numpy() for l in layer_ids])
        gradient_cases.append({
            "text": text, "ids": ids, "answer": answer, "against": against, "metric": kind,
            "value": float(value.item()),
            "embed": put(x.grad[0].numpy()),
            "layers": layer_ids,
            "residPre": put(grads),
        })
        print(f"{text!r}: {kind} {value.item():.4f}", file=sys.stderr)

    # Attribution patching on the corrupt run, metric p(answer).
    clean_text, corrupt_text, answer_text = PATCHING_PAIR
    clean_ids, corrupt_ids = ids_of(clean_text), ids_of(corrupt_text)
    assert len(clean_ids) == len(corrupt_ids), "the patching pair needs equal lengths"
    answer = single(answer_text)
    with torch.no_grad():
        clean_value = metric(run(embed(torch.tensor([clean_ids]))), answer, None, "probability").item()
        clean_acts = {k: v.detach().clone() for k, v in captured.items()}
    x = embed(torch.tensor([corrupt_ids])).detach().requires_grad_(True)
    corrupt_value = metric(run(x), answer, None, "probability")
    corrupt_value.sum().backward()
    grids = {}
    for kind in ("resid_pre", "attn_out", "mlp_out"):
        grid = []
        for l in range(len(layers)):
            act = captured[(kind, l)]
            grid.append(((clean_acts[(kind, l)] - act.detach()) * act.grad)[0].sum(-1).numpy())
        grids[kind] = put(np.stack(grid))   # [L, T]
    patching = {
        "clean": clean_text, "corrupt": corrupt_text, "cleanIds": clean_ids, "corruptIds": corrupt_ids,
        "answer": answer, "metric": "probability", "cleanValue": clean_value,
        "corruptValue": float(corrupt_value.item()), "grids": grids,
    }

    # Integrated gradients from the zero embedding, midpoint sum of `steps` steps, log p(answer).
    text, answer_text, steps = IG_CASE
    ids, answer = ids_of(text), single(answer_text)
    x = embed(torch.tensor([ids])).detach()
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    path = (alphas[:, None, None] * x).requires_grad_(True)   # [steps, T, d]
    values = metric(run(path), answer, None, "log_probability")
    values.sum().backward()
    mean_grad = path.grad.mean(0)                              # [T, d]
    scores = (x[0] * mean_grad).sum(-1).numpy()                # [T]
    with torch.no_grad():
        at_input = metric(run(x), answer, None, "log_probability").item()
        at_baseline = metric(run(torch.zeros_like(x)), answer, None, "log_probability").item()
    integrated = {
        "text": text, "ids": ids, "answer": answer, "metric": "log_probability", "steps": steps,
        "baseline": "zero", "scores": scores.tolist(), "valueAtInput": at_input, "valueAtBaseline": at_baseline,
    }
    print(f"IG: sum {scores.sum():.4f} vs change {at_input - at_baseline:.4f}", file=sys.stderr)

    fixture.write({
        "model": MODEL_NAME, "generator": "scripts/make_gradient_fixtures.py", "torch": torch.__version__,
        "gradients": gradient_cases, "patching": patching, "integratedGradients": integrated,
    })

if __name__ == "__main__":
    main()
