"""The peers' side of the model benchmark, run in the reference venv (torch, transformers,
llama-cpp-python; never in CI). Prints one JSON object on stdout.

Workloads (the same as Periscope's side in bench/run.py, same GGUF file):
  load      — from file to ready (llama.cpp: Llama(); transformers: from_pretrained, dequantising)
  prompt32  — one forward pass over a 32-token prompt. transformers: output_hidden_states=True,
              i.e. every resid_post kept, as Periscope's `run` caches them. llama.cpp: eval() of the
              prompt (it cannot keep hidden states; this is its fastest path).
  decode    — greedy single-stream decoding of 64 tokens after the prompt, tokens/s.
  rss       — resident memory with the model loaded (VmRSS of this process; measured per peer in a
              fresh process).
Both use 2 threads. Medians of `--repeats` runs after one warm-up.
"""
import argparse
import json
import os
import statistics
import sys
import time


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_llama_cpp(path, prompt_ids, repeats):
    from llama_cpp import Llama
    t = time.perf_counter()
    llm = Llama(model_path=path, n_threads=2, n_threads_batch=2, n_ctx=512, n_batch=512, verbose=False)
    load = time.perf_counter() - t

    def prompt():
        llm.reset()
        llm.eval(prompt_ids)

    prompt_s = median_time(prompt, repeats)

    def decode():
        llm.reset()
        llm.eval(prompt_ids)
        n = 64
        t = time.perf_counter()
        for _ in range(n):
            tok = int(llm.scores[llm.n_tokens - 1].argmax())
            llm.eval([tok])
        return n / (time.perf_counter() - t)

    decode()
    tps = statistics.median(decode() for _ in range(repeats))
    return {"load_s": load, "prompt32_s": prompt_s, "decode_tok_s": tps, "rss_mb": rss_mb()}


def bench_transformers(path, prompt_ids, repeats):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    d, f = os.path.split(path)
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.eval()
    load = time.perf_counter() - t
    ids = torch.tensor([prompt_ids])

    def prompt():
        with torch.no_grad():
            model(ids, output_hidden_states=True)

    prompt_s = median_time(prompt, repeats)

    def decode():
        with torch.no_grad():
            t = time.perf_counter()
            out = model.generate(ids, max_new_tokens=64, min_new_tokens=64, do_sample=False)
            dt = time.perf_counter() - t
        return (out.shape[1] - ids.shape[1]) / dt

    decode()
    tps = statistics.median(decode() for _ in range(repeats))
    return {"load_s": load, "prompt32_s": prompt_s, "decode_tok_s": tps, "rss_mb": rss_mb()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=["llama_cpp", "transformers"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    ids = [int(x) for x in a.prompt_ids.split(",")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    fn = bench_llama_cpp if a.peer == "llama_cpp" else bench_transformers
    json.dump(fn(a.model, ids, a.repeats), sys.stdout)


if __name__ == "__main__":
    main()
