"""`make bench`: Periscope side by side with its peers, in one run, reported as ratios of medians.

  kernel  trivial-cell round trip (p50/p90) through jupyter_client, Periscope vs ipykernel;
          kernel start to ready.
  model   load, 32-token prompt forward with every resid_post cached, decode tokens/s, resident
          memory after load + prompt: Periscope (through its kernel) vs llama.cpp (llama-cpp-python,
          2 threads) and transformers + torch on CPU (2 threads), same GGUF; on SmolLM2 Q4_1 and
          on a ~1B llama model with random weights in Q4_K_M (bench/make_random_llama.py, made
          once and cached under $PERISCOPE_HOME/bench). Peers run in the reference venv
          ($PERISCOPE_REFVENV, default ~/.cache/periscope/refvenv; `make refvenv` makes it).
  interp  logit lens, identity Patchscope sweep, activation patching vs nnsight (bench/interp_nnsight.py).
  lenses  `lenses` (logit lens, tuned lens, identity Patchscope against the model's own next token,
          every layer and position) over LENSES_PROMPTS sentences of the built-in text sample vs
          the same experiment written for nnsight (bench/lenses_nnsight.py); both sides read the
          same tuned lens, and their precision curves are compared.
  analysis  a probe over all 30 layers on 200 short examples (goal: within 10 s; no peer).
  gradients saliency of a 32-token prompt and integrated gradients with 32 steps vs torch autograd
          (bench/gradients_torch.py); attribution patching of every layer × position × {resid_pre,
          attn_out, mlp_out} on a 64-token pair vs exact patching of the same grid, with the
          Spearman rank correlation between the two.
  backend the llama.cpp backend: a prompt pass reading every layer, a Patchscope sweep and a trace
          on the own runtime, libllama in-process and two RPC servers on loopback
          (bench/llama_backend.py, which says what the network estimate assumes).

The machines are noisy: every number is a median of several runs after a warm-up.
"""
import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import time

from jupyter_client.manager import KernelManager

from llama_backend import bench_backend

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOME = pathlib.Path(os.environ.get("PERISCOPE_HOME", pathlib.Path.home() / ".cache" / "periscope"))
MODEL = HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
REFVENV = pathlib.Path(os.environ.get("PERISCOPE_REFVENV", HOME / "refvenv"))
# 32 tokens with SmolLM2's tokenizer (checked by the bench, which reads the ids back from the kernel).
PROMPT32 = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
            "It is named after the engineer Gustave Eiffel,")


class Kernel:
    def __init__(self, name, env=None):
        self.km = KernelManager(kernel_name=name)
        t = time.perf_counter()
        self.km.start_kernel(env={**os.environ, **(env or {})})
        # Start to ready = until the kernel answers kernel_info. The client connects only once the
        # shell port accepts connections: connecting earlier costs ZeroMQ's 100 ms reconnect
        # interval, which would measure the client, not the kernel (same treatment for ipykernel).
        while True:
            with socket.socket() as probe:
                if probe.connect_ex((self.km.ip, self.km.shell_port)) == 0:
                    break
            if time.perf_counter() - t > 60:
                raise RuntimeError(f"{name} never bound its shell port")
            time.sleep(0.002)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.ready_s = time.perf_counter() - t

    def cell(self, code, timeout=600):
        """Runs a cell; returns (seconds until idle, reply, outputs)."""
        t = time.perf_counter()
        msg_id = self.kc.execute(code)
        outputs, idle = [], False
        while not idle:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif msg["msg_type"] not in ("status", "execute_input"):
                outputs.append(msg)
        dt = time.perf_counter() - t
        reply = self.kc.get_shell_msg(timeout=timeout)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {code!r}: {reply['content'].get('evalue')}")
        return dt, reply, outputs

    def rss_mb(self):
        pid = self.km.provisioner.process.pid
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def vnd(outputs):
    for o in outputs:
        data = o["content"].get("data", {})
        if "application/vnd.periscope.v1+json" in data:
            return data["application/vnd.periscope.v1+json"]
    return None


def bench_kernel(n):
    rows = {}
    for name, code in (("periscope", "1"), ("python3", "1")):
        starts = []
        for _ in range(5):
            k = Kernel(name)
            starts.append(k.ready_s)
            k.close()
        k = Kernel(name)
        for _ in range(20):
            k.cell(code)
        times = [k.cell(code)[0] for _ in range(n)]
        k.close()
        rows[name] = {"p50_ms": 1e3 * percentile(times, 0.5), "p90_ms": 1e3 * percentile(times, 0.9),
                      "ready_s": statistics.median(starts)}
    ratio = rows["periscope"]["p50_ms"] / rows["python3"]["p50_ms"]
    print("\n## kernel: trivial cell round trip through jupyter_client")
    print(f"| kernel | p50 ms | p90 ms | start→ready s (median of 5) |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        label = "periscope" if name == "periscope" else "ipykernel"
        print(f"| {label} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['ready_s']:.3f} |")
    print(f"ratio periscope/ipykernel p50 = {ratio:.2f} (target ≤ 0.33)")
    return {"kernel": rows, "kernel_p50_ratio": ratio}


def run_peer(label, script, *args):
    """Runs bench/`script` in the reference venv; returns the JSON object on its last line of output,
    or None (saying why) when the venv is missing or the script fails."""
    py = REFVENV / "bin" / "python"
    if not py.exists():
        print(f"  (skipping {label}: no reference venv at {REFVENV}; `make refvenv`)")
        return None
    out = subprocess.run([str(py), str(ROOT / "bench" / script), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  ({label} failed: {out.stderr.strip().splitlines()[-3:]})")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer(name, model, ids, repeats):
    return run_peer(name, "model_peers.py", name, "--model", model, "--prompt-ids", ",".join(map(str, ids)),
                    "--repeats", repeats)


def random_llama():
    """The ~1B random-weight llama model (made once by bench/make_random_llama.py in the reference
    venv, cached under $PERISCOPE_HOME/bench), or None without the reference venv."""
    path = HOME / "bench" / "random-llama-1b.Q4_K_M.gguf"
    if path.exists():
        return path
    py = REFVENV / "bin" / "python"
    if not py.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  (making {path.name} once: random F16 weights, quantised by llama.cpp)")
    subprocess.run([str(py), str(ROOT / "bench" / "make_random_llama.py"), "--tokenizer-from", str(MODEL),
                    "--out", str(path)], check=True)
    return path


def machine_peaks():
    """Read bandwidth and F32 FMA peak of both cores (bench/machine_peaks.c), or None without a C compiler."""
    exe = ROOT / ".build" / "machine_peaks"
    try:
        # clang: the source uses its vector extensions (as the kernels do).
        subprocess.run(["clang", "-O2", "-pthread", str(ROOT / "bench" / "machine_peaks.c"), "-o", str(exe)], check=True)
        return json.loads(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        return None


def model_costs(path):
    """Bytes of weights read and FLOPs per generated token: every matrix but the embedding table
    (one row of it is read), which counts when it doubles as the output matrix."""
    import gguf
    tensors = {t.name: t for t in gguf.GGUFReader(str(path)).tensors}
    read, macs = 0, 0
    for name, t in tensors.items():
        if len(t.shape) < 2 or (name == "token_embd.weight" and "output.weight" in tensors):
            continue
        read += int(t.n_bytes)
        macs += int(t.n_elements)
    return read, 2 * macs


def report_costs(model, ours, peaks):
    read, flops = model_costs(model)
    line = f"per token: {read / 2**20:.0f} MB of weights read, {flops / 1e9:.2f} GFLOP"
    bw = read * ours["decode_tok_s"] / 1e9
    gf = 32 * flops / ours["prompt32_s"] / 1e9
    line += f"; decode moves {bw:.1f} GB/s, the prompt runs {gf:.1f} GFLOP/s"
    if peaks:
        line += (f" (machine, 2 threads, measured now: {peaks['read_gb_s']:.1f} GB/s read, "
                 f"{peaks['f32_fma_gflops']:.0f} GFLOP/s F32 FMA peak: {100 * bw / peaks['read_gb_s']:.0f}% and "
                 f"{100 * gf / peaks['f32_fma_gflops']:.0f}%)")
    print(line)


def bench_periscope(load_arg, repeats, env=None):
    """Periscope's side of one model: load, 32-token prompt, decode tok/s, RSS; and the prompt's ids."""
    ours = {}
    loads = []
    for _ in range(3):
        k = Kernel("periscope", env)
        dt, _, _ = k.cell(f"m = load {json.dumps(load_arg)}")
        loads.append(dt)
        k.close()
    k = Kernel("periscope", env)
    k.cell(f"m = load {json.dumps(load_arg)}")
    ours["load_s"] = statistics.median(loads)
    k.cell(f"p = prompt {json.dumps(PROMPT32)}")
    _, _, out = k.cell("tokens p")
    ids = [int(i) for i in vnd(out)["ids"]] if vnd(out) and "ids" in vnd(out) else None
    # `run` caches p's activations and a second `run` would only read the cache: clear it first
    # (the clear itself is a dictionary removal).
    run_times = [k.cell("clear cache p\nrun p")[0] for _ in range(repeats + 1)][1:]
    ours["prompt32_s"] = statistics.median(run_times)
    # Resident memory after loading and a 32-token prompt (the cached activations included).
    ours["rss_mb"] = k.rss_mb()
    # Decode speed as `generate` measures it over its single-token steps (prompt pass excluded).
    speeds = []
    for _ in range(repeats + 1):
        _, _, out = k.cell("generate p max 64")
        speeds.append(float(vnd(out)["decode_tokens_per_second"]))
    ours["decode_tok_s"] = statistics.median(speeds[1:])
    k.close()
    return ours, ids


def bench_one_model(title, load_arg, model, repeats, peers, targets, variants=(("periscope", None),)):
    """Every Periscope variant (a name and the kernel's environment) and the peers on one model."""
    size_mb = os.path.getsize(model) / 2**20
    print(f"\n## model: {title} ({size_mb:.0f} MB file)")
    rows = {}
    for name, env in variants:
        rows[name], ids = bench_periscope(load_arg, repeats, env)
        print(f"  {name}: {json.dumps(rows[name])}", flush=True)
    ours = rows["periscope"]
    print(f"  prompt of {len(ids) if ids else '?'} tokens")
    if ids:
        for name in peers:
            r = peer(name, model, ids, repeats)
            if r:
                rows[name] = r
    print("| engine | load s | prompt32 ms | decode tok/s | RSS MB |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['load_s']:.3f} | {1e3 * r['prompt32_s']:.1f} | {r['decode_tok_s']:.1f} | {r['rss_mb']:.0f} |")
    print(f"periscope RSS after load + prompt = file + {ours['rss_mb'] - size_mb:.0f} MB")
    if "llama_cpp" in rows:
        l = rows["llama_cpp"]
        for name, _ in variants:
            r = rows[name]
            prompt, decode = r["prompt32_s"] / l["prompt32_s"], l["decode_tok_s"] / r["decode_tok_s"]
            print(f"{name}: prompt time ratio /llama.cpp = {prompt:.2f} (target ≤ {targets[0]}); "
                  f"64-token decode time ratio = {decode:.2f} (target ≤ {targets[1]}), speed ratio {1 / decode:.2f}; "
                  f"RSS ratio = {r['rss_mb'] / l['rss_mb']:.2f}")
    try:
        report_costs(model, ours, machine_peaks())
    except ImportError:
        pass
    return rows


GEMMA = HOME / "models" / "gemma-3-270m-q4_k_m.gguf"
# Every model also runs with 8-bit activations (llama.cpp's arithmetic, opt-in).
WITH_INT8 = (("periscope", None), ("periscope int8", {"PERISCOPE_ACTIVATIONS": "int8"}))


def bench_gemma_model(repeats):
    """The second bundled model against the same peers as the default, with the 1B model's targets
    (at most llama.cpp's time for the prompt and for decode)."""
    return {"model_gemma3-270m": bench_one_model("Gemma 3 270M Q4_K_M", "gemma3-270m", GEMMA, repeats,
                                                 ("llama_cpp", "transformers"), (1.0, 1.0), WITH_INT8)}


def bench_model(repeats):
    results = {"model": bench_one_model("SmolLM2-135M-Instruct Q4_1", "smollm2", MODEL, repeats,
                                        ("llama_cpp", "transformers"), (0.62, 0.7), WITH_INT8)}
    big = random_llama()
    if big is None:
        print("  (skipping the 1B model: no reference venv to make it)")
        return results
    results["model_1b"] = bench_one_model("random llama 1.2B Q4_K_M", str(big), big, repeats, ("llama_cpp",), (1.0, 1.0),
                                          WITH_INT8)
    return results


def bench_interp(repeats, model="smollm2"):
    """The same workloads and prompts as bench/interp_nnsight.py (which documents the nnsight side)."""
    gemma = model == "gemma3-270m"
    layers = 18 if gemma else 30
    k = Kernel("periscope")
    k.cell(f'm = load "{model}"')
    k.cell('lp = prompt "The Eiffel Tower is in the city of Paris, the capital of France. '
           'The Colosseum is in Rome, and the Brandenburg Gate is found in' + (' the city"' if gemma else '"'))
    k.cell('src = prompt "The Eiffel Tower is in the city of"')
    k.cell('clean = prompt "The Eiffel Tower is located in the city of"')
    k.cell('corrupt = prompt "The Colosseum is located in the city of"')
    # nnsight's source position counts the same tokens (Gemma's BOS included).
    lens_name, sweep_name, patch_name = (f"logit_lens {layers}x32", f"patchscope sweep {layers} layers x 5 tokens",
                                         f"activation_patching {layers}x10")
    workloads = {  # name → (our cell, nnsight's key(s))
        lens_name: ("lens lp layers all positions all", ["lens"]),
        sweep_name: ("patchscope src position 3 target identity layers all generate 5",
                     ["patchscope", "patchscope_batched"]),
        patch_name: ('trace clean corrupt answer " Paris" hook resid_pre layers all', ["patching"]),
    }
    ours = {}
    for name, (code, _) in workloads.items():
        k.cell(code)  # warm-up (also fills the activation cache, as a user's first call would)
        ours[name] = statistics.median(k.cell(code)[0] for _ in range(repeats))
    k.close()
    theirs = run_peer("nnsight", "interp_nnsight.py", "--runs", max(3, repeats), "--model", model) or {}
    print(f"\n## interp ({model}): Periscope vs nnsight (seconds, medians)")
    print("| workload | periscope | nnsight | ratio | target |")
    print("|---|---|---|---|---|")
    targets = {lens_name: 0.5, sweep_name: 0.1, patch_name: 0.1}
    for name, (_, keys) in workloads.items():
        for key in keys:
            b = theirs.get(key, {}).get("median_s")
            a = ours[name]
            ratio = f"{a / b:.3f}" if b else "—"
            print(f"| {name} (nnsight: {key}) | {a:.3f} | {b if b is None else f'{b:.3f}'} | {ratio} | ≤ {targets[name]} |")
    return {f"interp_{model}" if gemma else "interp": {"periscope": ours, "nnsight": theirs}}


def sample_sentences(n):
    """The first n sentences of the built-in text sample (Sources/Interpretability/TextSample.swift)."""
    import re
    source = (ROOT / "Sources" / "Interpretability" / "TextSample.swift").read_text()
    return [json.loads(m) for m in re.findall(r'^\s+("(?:[^"\\]|\\.)*"),$', source, re.M)][:n]


def bench_lenses(repeats, prompts):
    """`lenses` over `prompts` sentences, Periscope vs bench/lenses_nnsight.py, medians."""
    import tempfile
    texts = sample_sentences(prompts)
    k = Kernel("periscope")
    k.cell('m = load "smollm2"')
    cell = "lenses " + json.dumps(texts)
    k.cell(cell)  # warm-up; fits the tuned lens into the model cache if it is not there yet
    times, last = [], None
    for _ in range(repeats):
        dt, _, out = k.cell(cell)
        times.append(dt)
        last = vnd(out)
    k.close()
    ours = {"median_s": statistics.median(times), "runs_s": times}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(texts))
    theirs = run_peer("nnsight", "lenses_nnsight.py", "--texts", f.name, "--runs", max(1, min(repeats, 3))) or {}
    os.unlink(f.name)
    print(f"\n## lenses over {len(texts)} prompts (smollm2): Periscope vs nnsight (seconds, medians)")
    print("| workload | periscope | nnsight | ratio | target |")
    print("|---|---|---|---|---|")
    a, b = ours["median_s"], theirs.get("median_s")
    ratio = f"{a / b:.3f}" if b else "—"
    their = f"{b:.2f}" if b else "—"
    print(f"| lenses, {len(texts)} prompts, 30 layers x 3 read-outs | {a:.2f} | {their} | {ratio} | ≤ 0.1 |")
    if theirs.get("precision") and last:
        ours_p = dict(zip(last["methods"], last["precision"]))
        gaps = {m: max(abs(a - b) for a, b in zip(ours_p[m], theirs["precision"][m])) for m in ours_p}
        print("largest per-layer precision gap (Periscope vs nnsight): "
              + ", ".join(f"{m} {g:.3f}" for m, g in gaps.items()))
        ours["precision"] = ours_p
    return {"lenses": {"periscope": ours, "nnsight": theirs}}


def probe_examples(n=200):
    """n short labelled sentences, two classes (positive / negative), generated deterministically."""
    import random
    rng = random.Random(0)
    subjects = ["The film", "This meal", "Our trip", "The book", "That concert", "The hotel", "His speech",
                "The game", "Her painting", "The service"]
    good = ["was wonderful", "felt delightful", "was a joy", "made me happy", "was excellent"]
    bad = ["was terrible", "felt awful", "was a disaster", "made me sad", "was dreadful"]
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        rows.append([f"{rng.choice(subjects)} {rng.choice(good if i % 2 == 0 else bad)}.", label])
    return rows


def bench_analysis(repeats):
    """A probe over all 30 layers on 200 short examples: the target is 10 s (no peer)."""
    k = Kernel("periscope")
    k.cell('m = load "smollm2"')
    k.cell("d = dataset " + json.dumps(probe_examples()))
    times = [k.cell("probe d layers all")[0] for _ in range(max(3, repeats))]
    k.close()
    median = statistics.median(times)
    print("\n## analysis: probe over all 30 layers on 200 short examples")
    print(f"median {median:.2f} s over {len(times)} runs (goal ≤ 10 s)")
    return {"probe_200x30_s": median}


# A 64-token prompt pair (checked by the bench): a neutral preamble, then clean/corrupt subjects.
PREAMBLE = ("Travel notes from a long summer, written down in the evenings after walking around old cities, "
            "looking at churches, bridges, markets and museums, and eating far too much bread and cheese. "
            "We kept a notebook of the places we liked best and of the trains we missed. ")


def spearman(a, b):
    def ranks(x):
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        for rank, i in enumerate(order):
            r[i] = float(rank)
        return r
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return num / den


def bench_gradients(repeats):
    k = Kernel("periscope")
    k.cell('m = load "smollm2"')
    k.cell(f"p = prompt {json.dumps(PROMPT32)}")
    _, _, out = k.cell("tokens p")
    ids = [int(i) for i in vnd(out)["ids"]]
    answer_text = " Paris"
    _, _, out = k.cell(f"tokens {json.dumps(answer_text)}")
    answer = int(vnd(out)["ids"][0])
    ours = {}
    code = f'attribute p answer {json.dumps(answer_text)} method saliency'
    k.cell(code)
    ours["saliency_s"] = statistics.median(k.cell(code)[0] for _ in range(repeats))
    code = f'attribute p answer {json.dumps(answer_text)} method integrated_gradients steps 32'
    _, _, out = k.cell(code)
    strip = (vnd(out).get("items") or [vnd(out)])[0]
    ours["ig_completeness_gap"] = strip.get("completeness_gap")
    ours["ig_s"] = statistics.median(k.cell(code)[0] for _ in range(repeats))

    # Attribution patching vs exact patching on a 64-token pair.
    clean_text = PREAMBLE + "The Eiffel Tower is located in the city of"
    corrupt_text = PREAMBLE + "The Colosseum is located in the city of"
    k.cell(f"clean = prompt {json.dumps(clean_text)}")
    k.cell(f"corrupt = prompt {json.dumps(corrupt_text)}")
    _, _, out = k.cell("tokens clean")
    length = len(vnd(out)["ids"])
    estimate, exact, t_attr, t_exact = [], [], [], []
    for hook in ("resid_pre", "attn_out", "mlp_out"):
        base = f'trace clean corrupt answer " Paris" hook {hook} layers all'
        k.cell(base + " method attribution")
        times = []
        for _ in range(repeats):
            dt, _, out = k.cell(base + " method attribution")
            times.append(dt)
        t_attr.append(statistics.median(times))
        estimate += [v for row in vnd(out)["raw"] for v in row]
        dt, _, out = k.cell(base)
        t_exact.append(dt)
        exact += [v for row in vnd(out)["raw"] for v in row]
    k.close()
    rho = spearman(estimate, exact)
    ours.update({"attribution_patching_s": sum(t_attr), "exact_patching_s": sum(t_exact), "spearman": rho,
                 "pair_tokens": length})

    theirs = run_peer("torch", "gradients_torch.py", "--model", MODEL, "--prompt-ids", ",".join(map(str, ids)),
                      "--answer", answer, "--steps", 32, "--repeats", repeats)
    print(f"\n## gradients: {len(ids)}-token prompt; attribution patching on a {length}-token pair (seconds, medians)")
    print("| workload | periscope | peer | ratio | target |")
    print("|---|---|---|---|---|")
    for key, name, target in (("saliency_s", "saliency, 32 tokens", "≤ 1.0"), ("ig_s", "integrated gradients, 32 steps", "≤ 0.5")):
        b = theirs.get(key) if theirs else None
        print(f"| {name} | {ours[key]:.3f} | torch {b if b is None else f'{b:.3f}'} | "
              f"{'—' if not b else f'{ours[key] / b:.3f}'} | {target} |")
    print(f"| attribution patching, 30 layers × {length} positions × 3 hooks | {ours['attribution_patching_s']:.3f} | "
          f"exact patching {ours['exact_patching_s']:.3f} (one run) | {ours['attribution_patching_s'] / ours['exact_patching_s']:.4f} | ≤ 0.033 |")
    print(f"Spearman rank correlation, attribution vs exact over the {len(exact)} cells: {rho:.3f}")
    print(f"integrated gradients' completeness gap (zero baseline, 32 steps): {ours['ig_completeness_gap']}")
    return {"gradients": {"periscope": ours, "torch": theirs}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="kernel,model,interp,lenses,analysis,gradients,model-gemma,interp-gemma,backend")
    ap.add_argument("--lenses-prompts", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cells", type=int, default=200)
    a = ap.parse_args()
    results = {}
    parts = a.parts.split(",")
    if "kernel" in parts:
        results.update(bench_kernel(a.cells))
    if "model" in parts:
        results.update(bench_model(a.repeats))
    if "interp" in parts:
        results.update(bench_interp(a.repeats))
    if "lenses" in parts:
        results.update(bench_lenses(a.repeats, a.lenses_prompts))
    if "model-gemma" in parts:
        results.update(bench_gemma_model(a.repeats))
    if "interp-gemma" in parts:
        results.update(bench_interp(a.repeats, "gemma3-270m"))
    if "analysis" in parts:
        results.update(bench_analysis(a.repeats))
    if "gradients" in parts:
        results.update(bench_gradients(a.repeats))
    if "backend" in parts:
        results.update(bench_backend(Kernel, PROMPT32, a.repeats))
    (ROOT / ".build").mkdir(exist_ok=True)
    (ROOT / ".build" / "bench-results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
