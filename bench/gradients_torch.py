"""The torch side of the gradient benchmark, run in the reference venv (never in CI). Prints one
JSON object on stdout.

Workloads (the same as Periscope's side in bench/run.py, same GGUF, transformers + torch autograd
on CPU, float32, 2 threads, weights without gradients):
  saliency  — one forward and one backward of log p(answer) to the input embeddings of a prompt.
  ig        — integrated gradients from the zero embedding, `steps` midpoint steps run as one batch
              (what Captum does with its default internal batch size), gradients summed over steps.
Medians of `--repeats` runs after one warm-up.
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--answer", type=int, required=True)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(2)
    directory, name = os.path.split(a.model)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    ids = torch.tensor([[int(i) for i in a.prompt_ids.split(",")]])
    x = model.model.embed_tokens(ids).detach()

    def saliency():
        e = x.clone().requires_grad_(True)
        logits = model(inputs_embeds=e).logits[:, -1, :]
        torch.log_softmax(logits, -1)[:, a.answer].sum().backward()
        return e.grad.norm(dim=-1)

    def integrated():
        alphas = (torch.arange(a.steps, dtype=torch.float32) + 0.5) / a.steps
        path = (alphas[:, None, None] * x).requires_grad_(True)
        logits = model(inputs_embeds=path).logits[:, -1, :]
        torch.log_softmax(logits, -1)[:, a.answer].sum().backward()
        return (x[0] * path.grad.mean(0)).sum(-1)

    print(json.dumps({
        "saliency_s": median_time(saliency, a.repeats),
        "ig_s": median_time(integrated, a.repeats),
        "tokens": ids.shape[1], "steps": a.steps, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
