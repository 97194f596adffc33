#!/usr/bin/env python3
"""Reference values for Tests/integration/test_model_verbs.py, computed once with Hugging Face
transformers (PyTorch, CPU, float32) on the same GGUF file Periscope loads.

For a few factual prompts: HF's token ids, the top-1 next token (id, text, probability) and the
runner-up probability (so the test can tell a real disagreement from a near tie); a greedy
continuation; and the token ids of a chat-template prompt.

Usage (from the repository root):
    HF_HUB_OFFLINE=1 $PERISCOPE_HOME/refvenv/bin/python scripts/make_model_verbs_reference.py
Output: Tests/integration/model_verbs_reference.json
"""
import json
import os
import pathlib
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FACTUAL = [
    "The Eiffel Tower is in the city of",
    "The capital of France is",
    "The capital of Japan is",
    "Water is made of hydrogen and",
    "The first president of the United States was George",
    "Monday, Tuesday, Wednesday,",
]
GREEDY_PROMPT = "The Eiffel Tower is in the city of"
GREEDY_TOKENS = 12
CHAT_PROMPT = "What is the capital of France?"
OUT = pathlib.Path(__file__).resolve().parents[1] / "Tests" / "integration" / "model_verbs_reference.json"


def main() -> None:
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    model_dir = os.path.join(home, "models")
    if not os.path.exists(os.path.join(model_dir, MODEL_NAME)):
        sys.exit(f"{MODEL_NAME} not found in {model_dir}; run `make model` first")
    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=MODEL_NAME)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=MODEL_NAME, dtype=torch.float32)
    model.eval()

    factual = []
    for text in FACTUAL:
        ids = tok(text)["input_ids"]
        logits = model(torch.tensor([ids])).logits[0, -1]
        probs = torch.softmax(logits.double(), dim=-1)
        top = torch.topk(probs, 2)
        factual.append({
            "text": text,
            "ids": ids,
            "top1_id": int(top.indices[0]),
            "top1_token": tok.decode([int(top.indices[0])]),
            "top1_prob": float(top.values[0]),
            "top2_prob": float(top.values[1]),
        })

    ids = tok(GREEDY_PROMPT)["input_ids"]
    out = model.generate(torch.tensor([ids]), max_new_tokens=GREEDY_TOKENS, do_sample=False)
    greedy = {"text": GREEDY_PROMPT, "ids": ids, "new_ids": [int(t) for t in out[0, len(ids):]]}

    chat_ids = tok.apply_chat_template([{"role": "user", "content": CHAT_PROMPT}], add_generation_prompt=True,
                                       tokenize=True)
    if isinstance(chat_ids, dict) or hasattr(chat_ids, "keys"):
        chat_ids = chat_ids["input_ids"]
    chat = {"text": CHAT_PROMPT, "ids": [int(t) for t in chat_ids]}

    OUT.write_text(json.dumps({"model": MODEL_NAME, "factual": factual, "greedy": greedy, "chat": chat}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
