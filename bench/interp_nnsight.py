#!/usr/bin/env python3
"""The nnsight side of the interpretability benchmark.

Three workloads, each written the way an nnsight 0.8 user would write it (one
`with model.trace(...)` / `model.generate(...)` block per forward, `.save()` for what must
outlive the block), on the same model Periscope runs: SmolLM2-135M-Instruct from its Q4_1
GGUF (or, with `--model gemma3-270m`, Gemma 3 270M from its Q4_K_M GGUF), dequantised to float32
by transformers, on 2 CPU threads.

  (a) logit lens: all layers (30; Gemma 18) x 32 positions, top-1 token and probability per cell;
  (b) identity Patchscope sweep: every source layer, 5 greedy tokens each;
  (c) activation patching: resid_pre, every layer x 10 positions, p(" Paris").

The token ids are those Periscope runs: Gemma's file asks for BOS, so its prompts start with it
(and its lens prompt is two words longer to make 32 tokens).

Prints one JSON object: the median wall time of >= 3 runs after a warm-up, per workload.

Run:  HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python bench/interp_nnsight.py [--runs 3]
(nnsight reads each `with` block's source from this file, so the blocks live here, not in
exec'd strings.)
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")
import nnsight  # noqa: E402
from nnsight import LanguageModel  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

# name → (file, whether prompts start with BOS, the 32-token lens prompt)
MODELS = {
    "smollm2": ("SmolLM2-135M-Instruct.Q4_1.gguf", False,
                "The Eiffel Tower is in the city of Paris, the capital of France. "
                "The Colosseum is in Rome, and the Brandenburg Gate is found in"),
    "gemma3-270m": ("gemma-3-270m-q4_k_m.gguf", True,
                    "The Eiffel Tower is in the city of Paris, the capital of France. "
                    "The Colosseum is in Rome, and the Brandenburg Gate is found in the city"),
}
MODEL_FILE, ADD_BOS, LENS_PROMPT = MODELS["smollm2"]
SOURCE = "The Eiffel Tower is in the city of"
SOURCE_POSITION = 3                     # " Tower"
IDENTITY = "cat -> cat; 1135 -> 1135; hello -> hello; ?"
NEW_TOKENS = 5
# 10 tokens each.
CLEAN = "The Eiffel Tower is located in the city of"
CORRUPT = "The Colosseum is located in the city of"
ANSWER = " Paris"


def load():
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    directory = Path(home) / "models"
    if not (directory / MODEL_FILE).exists():
        sys.exit(f"{directory / MODEL_FILE} is missing; `make model` fetches it.")
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=MODEL_FILE)
    hf = AutoModelForCausalLM.from_pretrained(str(directory), gguf_file=MODEL_FILE, dtype=torch.float32)
    hf.eval()
    # nnsight wraps the already-loaded transformers model and its tokenizer.
    return LanguageModel(hf, tokenizer=tokenizer), tokenizer


def ids(tokenizer, text):
    found = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if ADD_BOS:
        found = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), found], dim=1)
    return found


# MARK: - (a) Logit lens

def logit_lens(model, prompt_ids):
    """One trace; for every layer, apply the final norm and lm_head to the layer's output
    (nnsight's "apply modules out of order") and save the top-1 id and probability."""
    layers = model.model.layers
    cells = []                                   # the saved values; exists before the block
    with model.trace(prompt_ids):
        for layer in layers:
            probs = model.lm_head(model.model.norm(layer.output)).softmax(-1)
            top = probs.max(-1)
            cells.append((top.values.save(), top.indices.save()))
    return [(p[0].tolist(), i[0].tolist()) for p, i in cells]


# MARK: - (b) Identity Patchscope sweep

def patchscope(model, source_ids, target_ids, placeholder):
    """The source run once, saving every layer's output at the source position; then, as in
    the Patchscopes reference code, one generation per layer that writes the state into the
    same layer's output at the placeholder during the prompt pass (the first occurrence of the
    module; later steps see it only through the KV cache)."""
    layers = model.model.layers
    states = []
    with model.trace(source_ids):
        for layer in layers:
            states.append(layer.output[0, SOURCE_POSITION].save())
    generated = []
    for layer, state in zip(layers, states):
        with model.generate(target_ids, max_new_tokens=NEW_TOKENS, do_sample=False) as tracer:
            layer.output[0, placeholder] = state
            out = tracer.result.save()
        generated.append(out[0, target_ids.shape[1]:].tolist())
    return generated


def patchscope_batched(model, source_ids, target_ids, placeholder):
    """The same sweep with nnsight's batching: one generation with one invoke per layer, each
    invoke patching its own layer (all rows share every matrix product)."""
    layers = model.model.layers
    states = []
    with model.trace(source_ids):
        for layer in layers:
            states.append(layer.output[0, SOURCE_POSITION].save())
    with model.generate(max_new_tokens=NEW_TOKENS, do_sample=False) as tracer:
        for layer, state in zip(layers, states):
            with tracer.invoke(target_ids):
                layer.output[0, placeholder] = state
        with tracer.invoke():                    # an empty invoke sees the whole batch
            out = tracer.result.save()
    return [row[target_ids.shape[1]:].tolist() for row in out]


# MARK: - (c) Activation patching

def activation_patching(model, clean_ids, corrupt_ids, answer):
    """The nnsight tutorial's pattern: a clean trace saving every layer's input (resid_pre),
    then per layer one trace with an invoke per position that writes the clean input at that
    position into the corrupt run and saves p(answer). Per-layer traces keep the batch (and its
    [rows, 10, vocab] logits) to 10 rows."""
    layers = model.model.layers
    positions = clean_ids.shape[1]
    clean_inputs = []                            # saved values go in a list made before the block
    with model.trace(clean_ids):
        for layer in layers:
            clean_inputs.append(layer.input.save())
        clean_p = model.lm_head.output[0, -1].softmax(-1)[answer].save()
    with model.trace(corrupt_ids):
        corrupt_p = model.lm_head.output[0, -1].softmax(-1)[answer].save()
    matrix = []
    for layer, clean_input in zip(layers, clean_inputs):
        row = []
        with model.trace() as tracer:
            for position in range(positions):
                with tracer.invoke(corrupt_ids):
                    layer.input[0, position] = clean_input[0, position]
                    row.append(model.lm_head.output[0, -1].softmax(-1)[answer].save())
        matrix.append([float(p) for p in row])
    clean_p, corrupt_p = float(clean_p), float(corrupt_p)
    return [[(p - corrupt_p) / (clean_p - corrupt_p) for p in row] for row in matrix]


# MARK: - Timing

def timed(function, runs):
    function()                                   # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 4), "runs_s": [round(t, 4) for t in times]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["lens", "patchscope", "patchscope_batched", "patching"], action="append")
    parser.add_argument("--model", choices=sorted(MODELS), default="smollm2")
    args = parser.parse_args()
    global MODEL_FILE, ADD_BOS, LENS_PROMPT
    MODEL_FILE, ADD_BOS, LENS_PROMPT = MODELS[args.model]
    torch.set_num_threads(2)
    model, tokenizer = load()

    lens_ids = ids(tokenizer, LENS_PROMPT)
    source_ids, target_ids = ids(tokenizer, SOURCE), ids(tokenizer, IDENTITY)
    placeholder = ids(tokenizer, IDENTITY[: IDENTITY.rindex("?") + 1]).shape[1] - 1
    clean_ids, corrupt_ids = ids(tokenizer, CLEAN), ids(tokenizer, CORRUPT)
    answer = int(tokenizer(ANSWER, add_special_tokens=False)["input_ids"][0])
    assert lens_ids.shape[1] == 32, lens_ids.shape
    assert clean_ids.shape[1] == corrupt_ids.shape[1] == 10, (clean_ids.shape, corrupt_ids.shape)

    layer_count = len(model.model.layers)
    workloads = {
        "lens": lambda: logit_lens(model, lens_ids),
        "patchscope": lambda: patchscope(model, source_ids, target_ids, placeholder),
        "patchscope_batched": lambda: patchscope_batched(model, source_ids, target_ids, placeholder),
        "patching": lambda: activation_patching(model, clean_ids, corrupt_ids, answer),
    }
    report = {"tool": "nnsight", "nnsight": nnsight.__version__, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "runs": args.runs,
              "model": args.model, "shapes": {"lens": [layer_count, 32], "patchscope": [layer_count, NEW_TOKENS],
                                              "patching": [layer_count, 10]}}
    # Sanity: both Patchscope forms decode the same tokens.
    if not args.only or {"patchscope", "patchscope_batched"} <= set(args.only):
        report["patchscope_forms_agree"] = (patchscope(model, source_ids, target_ids, placeholder)
                                            == patchscope_batched(model, source_ids, target_ids, placeholder))
    for name, function in workloads.items():
        if args.only and name not in args.only:
            continue
        report[name] = timed(function, args.runs)
        print(f"{name}: {report[name]}", file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
