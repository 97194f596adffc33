#!/usr/bin/env python3
"""Reference fixtures for Tests/InterpretabilityTests, computed with Hugging Face transformers.

Loads the bundled default model (SmolLM2-135M-Instruct, Q4_1 GGUF, dequantised to float32 by
transformers) and writes one compact JSON file, `Tests/InterpretabilityTests/Fixtures/interp.json`,
holding for a few prompts:

- the token ids from Hugging Face's tokenizer (so the Swift tests do not depend on our tokenizer);
- the logit lens (final RMSNorm + lm_head on each block's output, i.e. `resid_post`): top-1 id,
  its probability and the runner-up's probability, per layer x position;
- attention patterns (query x key probabilities) of every head at two layers;
- two identity-Patchscope sweeps (a subject token, and a factual prompt's last token): for each source layer L, `resid_post` of block L at the source
  position written into the target's `resid_post` of block L at the placeholder during the prompt
  pass, then 5 greedy tokens where later steps see the patch only through the KV cache;
- activation patching for a clean/corrupt pair: restore the clean activation (resid_pre, attn_out,
  mlp_out) at each (layer, position) into the corrupt run; p(answer), normalised, and the logit
  difference answer - against.

Run:  HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_interp_fixtures.py [--patchscope-only]
(`make refvenv` makes the venv.)
The model is read from $PERISCOPE_HOME/models (default ~/.cache/periscope/models).
"""
import json
import os
import sys
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "InterpretabilityTests" / "Fixtures" / "interp.json"

LENS_PROMPTS = [
    "The Eiffel Tower is in the city of",
    "The capital of France is Paris. The capital of Germany is",
]
ATTENTION_PROMPT = "The Eiffel Tower is in the city of"
ATTENTION_LAYERS = [0, 15]

PATCHSCOPE_SOURCE = "The Eiffel Tower is in the city of"
PATCHSCOPE_SOURCE_POSITION = 3  # " Tower"
IDENTITY_TARGET = "cat -> cat; 1135 -> 1135; hello -> hello; ?"
PATCHSCOPE_NEW_TOKENS = 5
# The paper's next-token reading: the last position of a factual prompt through the identity
# target (placeholder last) names the answer from a middle layer on.
NEXT_TOKEN_SOURCE = "The Colosseum is located in the city of"

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"
ANSWER = " Paris"
AGAINST = " Rome"


def r(x, digits=6):
    """Rounds floats to keep the JSON small while staying far inside the tests' tolerance."""
    if isinstance(x, (list, tuple)):
        return [r(v, digits) for v in x]
    return float(f"{float(x):.{digits}g}")


def model_dir() -> Path:
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    return Path(home) / "models"


def load():
    directory = model_dir()
    if not (directory / MODEL_FILE).exists():
        sys.exit(f"{directory / MODEL_FILE} is missing; `make model` fetches it.")
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=MODEL_FILE)
    model = AutoModelForCausalLM.from_pretrained(
        str(directory), gguf_file=MODEL_FILE, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return tokenizer, model


def ids_of(tokenizer, text):
    # SmolLM2's tokenizer adds no BOS; keep exactly what it produces.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# MARK: - Logit lens

def logit_lens(model, ids):
    """Top-1 id, its probability and the runner-up probability for every layer x position."""
    layers = model.model.layers
    captured = [None] * len(layers)
    handles = []
    for index, layer in enumerate(layers):
        def hook(_module, _args, output, index=index):
            captured[index] = output[0] if isinstance(output, tuple) else output
        handles.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        final = model(torch.tensor([ids])).logits[0]
        top1, p1, p2 = [], [], []
        for hidden in captured:
            probs = torch.softmax(model.lm_head(model.model.norm(hidden[0])), dim=-1)
            values, indices = probs.topk(2, dim=-1)
            top1.append(indices[:, 0].tolist())
            p1.append(r(values[:, 0].tolist()))
            p2.append(r(values[:, 1].tolist()))
    for handle in handles:
        handle.remove()
    final_top = torch.softmax(final, dim=-1).topk(2, dim=-1)
    return {"top1": top1, "prob": p1, "prob2": p2,
            "final_top1": final_top.indices[:, 0].tolist()}


# MARK: - Attention

def attention(model, ids, layers):
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_attentions=True)
    return {str(layer): [r(out.attentions[layer][0, h].tolist(), 5)
                         for h in range(out.attentions[layer].shape[1])] for layer in layers}


# MARK: - Patchscope

def resid_post_all(model, ids):
    """resid_post of every block for a prompt: list of [positions, d_model] tensors."""
    layers = model.model.layers
    captured = [None] * len(layers)
    handles = [layer.register_forward_hook(
        lambda _m, _a, output, index=index: captured.__setitem__(index, (output[0] if isinstance(output, tuple) else output)[0].clone()))
        for index, layer in enumerate(layers)]
    with torch.no_grad():
        model(torch.tensor([ids]))
    for handle in handles:
        handle.remove()
    return captured


def patched_greedy(model, target_ids, layer, position, vector, new_tokens, first_probs=None):
    """Greedy generation with `vector` written into resid_post of `layer` at `position` during the
    prompt pass only; later steps see the patch through the KV cache. Appends p(first token) to
    `first_probs` when given."""
    def hook(_module, _args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        if hidden.shape[1] > position:  # the prompt pass, not a one-token decode step
            hidden[0, position] = vector
        return output
    handle = model.model.layers[layer].register_forward_hook(hook)
    generated = []
    with torch.no_grad():
        out = model(torch.tensor([target_ids]), use_cache=True)
        handle.remove()
        for _ in range(new_tokens):
            next_id = int(out.logits[0, -1].argmax())
            if first_probs is not None and not generated:
                first_probs.append(float(torch.softmax(out.logits[0, -1].double(), -1)[next_id]))
            generated.append(next_id)
            if len(generated) == new_tokens:
                break
            out = model(torch.tensor([[next_id]]), past_key_values=out.past_key_values, use_cache=True)
    return generated


def patchscope_sweep(model, tokenizer, source=PATCHSCOPE_SOURCE, source_position=PATCHSCOPE_SOURCE_POSITION):
    source_ids = ids_of(tokenizer, source)
    source_position = source_position % len(source_ids)
    target_ids = ids_of(tokenizer, IDENTITY_TARGET)
    # The placeholder is "?": its last token in the target prompt.
    prefix_ids = ids_of(tokenizer, IDENTITY_TARGET[: IDENTITY_TARGET.rindex("?") + 1])
    placeholder = len(prefix_ids) - 1
    assert target_ids[: len(prefix_ids)] == prefix_ids
    source_states = resid_post_all(model, source_ids)
    first_probs = []
    generated = [patched_greedy(model, target_ids, layer, placeholder,
                                source_states[layer][source_position], PATCHSCOPE_NEW_TOKENS, first_probs)
                 for layer in range(len(model.model.layers))]
    return {"source": source, "source_ids": source_ids,
            "source_position": source_position,
            "target": IDENTITY_TARGET, "target_ids": target_ids, "placeholder_position": placeholder,
            "new_tokens": PATCHSCOPE_NEW_TOKENS, "generated": generated, "first_prob": r(first_probs),
            "generated_text": [tokenizer.decode(g) for g in generated]}


# MARK: - Activation patching

def capture_site(model, hook, layer, ids):
    """The clean activation at one hook site of one layer: [positions, d_model]."""
    block = model.model.layers[layer]
    box = {}
    if hook == "resid_pre":
        handle = block.register_forward_pre_hook(lambda _m, args: box.__setitem__("x", args[0][0].clone()))
    else:
        module = block.self_attn if hook == "attn_out" else block.mlp
        handle = module.register_forward_hook(
            lambda _m, _a, out: box.__setitem__("x", (out[0] if isinstance(out, tuple) else out)[0].clone()))
    with torch.no_grad():
        model(torch.tensor([ids]))
    handle.remove()
    return box["x"]


def patched_logits(model, hook, layer, corrupt_ids, clean_act):
    """Last-position logits of the corrupt run, one batch row per restored position."""
    positions = len(corrupt_ids)
    block = model.model.layers[layer]

    def restore(hidden):
        for row in range(positions):
            hidden[row, row] = clean_act[row]

    if hook == "resid_pre":
        def pre(_m, args):
            hidden = args[0].clone()
            restore(hidden)
            return (hidden,) + tuple(args[1:])
        handle = block.register_forward_pre_hook(pre)
    else:
        module = block.self_attn if hook == "attn_out" else block.mlp

        def post(_m, _a, out):
            hidden = out[0] if isinstance(out, tuple) else out
            restore(hidden)
            return out
        handle = module.register_forward_hook(post)
    with torch.no_grad():
        logits = model(torch.tensor([corrupt_ids] * positions)).logits[:, -1]
    handle.remove()
    return logits


def activation_patching(model, tokenizer):
    clean_ids, corrupt_ids = ids_of(tokenizer, CLEAN), ids_of(tokenizer, CORRUPT)
    assert len(clean_ids) == len(corrupt_ids), (len(clean_ids), len(corrupt_ids))
    answer, against = ids_of(tokenizer, ANSWER), ids_of(tokenizer, AGAINST)
    assert len(answer) == 1 and len(against) == 1
    answer, against = answer[0], against[0]
    with torch.no_grad():
        clean_logits = model(torch.tensor([clean_ids])).logits[0, -1]
        corrupt_logits = model(torch.tensor([corrupt_ids])).logits[0, -1]
    p_clean = float(torch.softmax(clean_logits, -1)[answer])
    p_corrupt = float(torch.softmax(corrupt_logits, -1)[answer])
    d_clean = float(clean_logits[answer] - clean_logits[against])
    d_corrupt = float(corrupt_logits[answer] - corrupt_logits[against])
    result = {"clean": CLEAN, "corrupt": CORRUPT, "clean_ids": clean_ids, "corrupt_ids": corrupt_ids,
              "answer": ANSWER, "answer_id": answer, "against": AGAINST, "against_id": against,
              "p_clean": r(p_clean, 8), "p_corrupt": r(p_corrupt, 8),
              "logit_diff_clean": r(d_clean, 8), "logit_diff_corrupt": r(d_corrupt, 8), "hooks": {}}
    for hook in ["resid_pre", "attn_out", "mlp_out"]:
        probs, normalised, diffs = [], [], []
        for layer in range(len(model.model.layers)):
            clean_act = capture_site(model, hook, layer, clean_ids)
            logits = patched_logits(model, hook, layer, corrupt_ids, clean_act)
            p = torch.softmax(logits, -1)[:, answer]
            probs.append(r(p.tolist(), 7))
            normalised.append(r(((p - p_corrupt) / (p_clean - p_corrupt)).tolist(), 7))
            diffs.append(r((logits[:, answer] - logits[:, against]).tolist(), 7))
        result["hooks"][hook] = {"prob": probs, "normalised": normalised, "logit_diff": diffs}
        print(f"patching {hook} done", file=sys.stderr)
    return result


def main():
    torch.set_num_threads(2)
    tokenizer, model = load()
    if "--patchscope-only" in sys.argv:
        # Recomputes only the Patchscope sweeps, keeping the other sections of the file as they are.
        fixtures = json.loads(OUT.read_text())
        fixtures["patchscope"] = patchscope_sweep(model, tokenizer)
        fixtures["patchscope_next_token"] = patchscope_sweep(model, tokenizer, NEXT_TOKEN_SOURCE, -1)
        print("patchscope (next token):", fixtures["patchscope_next_token"]["generated_text"], file=sys.stderr)
        OUT.write_text(json.dumps(fixtures, separators=(",", ":")))
        return
    fixtures = {"model": MODEL_FILE, "lens": [], "attention": {}}
    for prompt in LENS_PROMPTS:
        ids = ids_of(tokenizer, prompt)
        fixtures["lens"].append({"prompt": prompt, "ids": ids, **logit_lens(model, ids)})
    attention_ids = ids_of(tokenizer, ATTENTION_PROMPT)
    fixtures["attention"] = {"prompt": ATTENTION_PROMPT, "ids": attention_ids,
                             "layers": attention(model, attention_ids, ATTENTION_LAYERS)}
    fixtures["patchscope"] = patchscope_sweep(model, tokenizer)
    print("patchscope:", fixtures["patchscope"]["generated_text"], file=sys.stderr)
    fixtures["patchscope_next_token"] = patchscope_sweep(model, tokenizer, NEXT_TOKEN_SOURCE, -1)
    print("patchscope (next token):", fixtures["patchscope_next_token"]["generated_text"], file=sys.stderr)
    fixtures["patching"] = activation_patching(model, tokenizer)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixtures, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
