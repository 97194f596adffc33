"""The llama.cpp backend's cost, part `backend` of `make bench`: the same cells on SmolLM2 run by
Periscope's own runtime, by libllama in the worker process (`on local`) and by two ggml-rpc-servers
on loopback (`on [a, b]`, layers 0–15 and 16–29), through one kernel, medians of `repeats` runs
after a warm-up, reported per unit of work:

  run     a 32-token prompt pass caching every layer's resid_post (and the other mapped points:
          resid_mid, attn_out, mlp_out, the embeddings, the final norm), per prompt token
  sweep   identity Patchscope of one source position at 6 layers, one token generated for each,
          per patched layer
  trace   activation patching, resid_pre × 6 layers × all 10 positions (60 restorations in one
          batch), per restoration

The sizes keep the part to about 2 minutes at the default 5 repeats on 2 busy cores (the full
30-layer sweep and trace took over 14 minutes). llama.cpp runs one thread in the worker and in each
server: with two, its spinning threads lose more to other work on a shared 2-core machine than
they gain. The own runtime uses its usual worker pool.

What a real network would add is estimated from what the loopback run measured, not measured on
a network. Each tensor the kernel reads is a synchronous GET_TENSOR (the graph pieces before it go
ahead asynchronously), so a pass costs one round trip per tensor read — the model card's count —
plus two per pass (the logits, and the residual stream handed from the first server to the second
through the client). The bytes are the TCP payload both ways on the servers' sockets (`ss -ti`),
mostly the serialized graph pieces sent up and the tensors and logits sent back. The estimate
charges each round trip RTT_MS and the bytes at GBIT_PER_S; loopback's own ~0.05 ms round trip is
not subtracted.
"""
import os
import pathlib
import re
import signal
import socket
import statistics
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVER = ROOT / ".build-llama" / "bin" / "ggml-rpc-server"
# The assumed network between the kernel and the servers: a LAN.
RTT_MS = 0.2
GBIT_PER_S = 1.0
LAYERS = "[0, 6, 12, 18, 24, 29]"
WORKLOADS = {
    # name: (cell, units the cell does, unit)
    "run": ("clear cache\nrun lp", 32, "prompt token"),
    "sweep": (f"patchscope src position 3 target identity layers {LAYERS} generate 1", 6, "patched layer"),
    "trace": (f'trace clean corrupt answer " Paris" hook resid_pre layers {LAYERS}', 60, "restoration"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_servers(n, threads):
    procs, endpoints = [], []
    for _ in range(n):
        port = free_port()
        procs.append(subprocess.Popen([str(SERVER), "-H", "127.0.0.1", "-p", str(port), "-t", str(threads)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        endpoints.append(f"127.0.0.1:{port}")
    for e in endpoints:
        port = int(e.rsplit(":", 1)[1])
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
    return procs, endpoints


def socket_bytes(ports):
    """TCP payload bytes sent plus received on the established connections of these server ports."""
    total = 0
    for port in ports:
        try:
            out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        total += sum(int(x) for x in re.findall(r"\bbytes_(?:sent|received):(\d+)", out))
    return total


def traffic(kernel, model):
    """(passes, tensors read) so far, from the model card."""
    _, _, outputs = kernel.cell(f"show {model}")
    for o in outputs:
        text = o["content"].get("data", {}).get("text/plain", "")
        m = re.search(r"passes so far\s+(\d+) \((\d+) tensors read", text)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise RuntimeError(f"the card of {model} shows no passes")


def bench_backend(kernel_class, prompt32, repeats):
    if not SERVER.exists():
        print("\n## backend: skipped (no .build-llama/bin/ggml-rpc-server; `make llama`)")
        return {}
    procs, (a, b) = start_servers(2, 1)
    ports = [int(e.rsplit(":", 1)[1]) for e in (a, b)]
    k = None
    results, wire = {}, {}
    try:
        k = kernel_class("periscope", env={"PERISCOPE_LLAMA_THREADS": "1"})
        k.cell(f'own = load "smollm2"\ninproc = load "smollm2" on local\nsplit = load "smollm2" on ["{a}", "{b}"]')
        k.cell(f'lp = prompt "{prompt32}"')
        k.cell('src = prompt "The Eiffel Tower is in the city of"')
        k.cell('clean = prompt "The Eiffel Tower is located in the city of"')
        k.cell('corrupt = prompt "The Colosseum is located in the city of"')
        for model in ("own", "inproc", "split"):
            k.cell(f"use {model}")
            results[model] = {}
            for name, (code, _, _) in WORKLOADS.items():
                if model == "split":
                    # The warm-up run also counts what crosses the wire.
                    passes0, read0 = traffic(k, "split")
                    bytes0 = socket_bytes(ports)
                    k.cell(code)
                    bytes1 = socket_bytes(ports)
                    passes1, read1 = traffic(k, "split")
                    wire[name] = {"passes": passes1 - passes0, "tensors_read": read1 - read0,
                                  "bytes": None if bytes0 is None or bytes1 is None else bytes1 - bytes0}
                else:
                    k.cell(code)   # warm-up
                results[model][name] = statistics.median(k.cell(code)[0] for _ in range(repeats))
    finally:
        if k is not None:
            k.close()
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)

    print(f"\n## backend (SmolLM2 Q4_1): own runtime vs libllama in-process vs 2 RPC servers on loopback "
          f"(ms per unit, medians of {repeats}; llama.cpp at 1 thread per process; shared machine)")
    print("| workload (unit) | own runtime | libllama in-process | 2 RPC servers, loopback | loopback / own | "
          "passes, tensors read | round trips | bytes on the wire | "
          f"+ {RTT_MS} ms RTT, {GBIT_PER_S:g} Gbit/s (estimate) |")
    print("|---|---|---|---|---|---|---|---|---|")
    estimates = {}
    for name, (_, units, unit) in WORKLOADS.items():
        own, local, split = (results[m][name] for m in ("own", "inproc", "split"))
        w = wire[name]
        trips = w["tensors_read"] + 2 * w["passes"]
        sent = w["bytes"] or 0
        extra = trips * RTT_MS / 1e3 + sent * 8 / (GBIT_PER_S * 1e9)
        estimates[name] = {"round_trips": trips, "bytes": w["bytes"], "added_s": extra}
        print(f"| {name} ({unit}) | {own / units * 1e3:.1f} | {local / units * 1e3:.1f} | {split / units * 1e3:.1f} | "
              f"{split / own:.1f} | {w['passes']}, {w['tensors_read']} | {trips} | "
              f"{'n/a' if w['bytes'] is None else f'{sent / 1e6:.1f} MB'} | "
              f"+{extra / units * 1e3:.1f} ({(split + extra) / own:.1f}× own) |")
    print("per layer, the run reads 4 tensors (resid_mid, attn_out, mlp_out, resid_post): 4 round trips; "
          "a sweep or trace reads only the layers it patches. The network column charges each round trip "
          f"{RTT_MS} ms and the bytes at {GBIT_PER_S:g} Gbit/s (assumed, not measured)")
    return {"backend": {"seconds": results, "wire": wire, "network_estimate": estimates,
                        "assumed_rtt_ms": RTT_MS, "assumed_gbit_per_s": GBIT_PER_S}}
