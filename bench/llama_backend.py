"""The llama.cpp backend's cost, part `backend` of `make bench`: the same cells on SmolLM2 run by
Periscope's own runtime, by libllama in the worker process (`on local`) and by two ggml-rpc-servers
on loopback (`on [a, b]`, layers 0–15 and 16–29), through one kernel, medians of `repeats` runs.

  run       a 32-token prompt pass that caches every layer's resid_pre, attn_out, resid_mid,
            mlp_out and resid_post (151 tensors read back), reported per token
  sweep     identity Patchscope over 30 layers, one generated token (the 30 patched runs batched)
  trace     activation patching, resid_pre × 30 layers × 10 positions

What a real network would add is estimated, not measured: the loopback cost over in-process,
divided by the run's 151 tensors, is the cost of one tensor's round trip on loopback; each other
workload's extra over in-process is counted in those round trips, and each round trip is charged
the assumed network's round-trip time plus its share of the bytes at the assumed bandwidth.
"""
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVER = ROOT / ".build-llama" / "bin" / "ggml-rpc-server"
# The assumed network between the kernel and the servers: a LAN.
RTT_MS = 0.5
GBIT_PER_S = 1.0
RUN_TENSORS = 151


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


def bench_backend(kernel_class, prompt32, repeats):
    if not SERVER.exists():
        print("\n## backend: skipped (no .build-llama/bin/ggml-rpc-server; `make llama`)")
        return {}
    threads = os.cpu_count() or 2
    procs, (a, b) = start_servers(2, threads)
    k = None
    try:
        k = kernel_class("periscope", env={"PERISCOPE_LLAMA_THREADS": str(threads)})
        k.cell(f'own = load "smollm2"\ninproc = load "smollm2" on local\nsplit = load "smollm2" on ["{a}", "{b}"]')
        k.cell(f'lp = prompt "{prompt32}"')
        k.cell('src = prompt "The Eiffel Tower is in the city of"')
        k.cell('clean = prompt "The Eiffel Tower is located in the city of"')
        k.cell('corrupt = prompt "The Colosseum is located in the city of"')
        workloads = {
            "run": "clear cache\nrun lp",
            "sweep": "patchscope src position 3 target identity layers all generate 1",
            "trace": 'trace clean corrupt answer " Paris" hook resid_pre layers all',
        }
        results = {}
        for model in ("own", "inproc", "split"):
            k.cell(f"use {model}")
            results[model] = {}
            for name, code in workloads.items():
                k.cell(code)   # warm-up
                results[model][name] = statistics.median(k.cell(code)[0] for _ in range(repeats))
    finally:
        if k is not None:
            k.close()
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)

    per_tensor = (results["split"]["run"] - results["inproc"]["run"]) / RUN_TENSORS
    # One resid_post row set of the run: 32 positions × 576 floats, there and (if written) back.
    bytes_per_trip = 32 * 576 * 4
    print(f"\n## backend (SmolLM2): own runtime vs libllama in-process vs 2 RPC servers on loopback "
          f"(seconds, medians of {repeats}; {threads} llama.cpp threads; shared machine)")
    print("| workload | own runtime | libllama in-process | 2 RPC servers, loopback | RPC / own | "
          f"+ a {RTT_MS} ms, {GBIT_PER_S:g} Gbit/s network (estimate) |")
    print("|---|---|---|---|---|---|")
    estimates = {}
    for name in workloads:
        own, local, split = (results[m][name] for m in ("own", "inproc", "split"))
        trips = max(0.0, (split - local) / per_tensor) if per_tensor > 0 else 0.0
        extra = trips * (RTT_MS / 1e3 + bytes_per_trip * 8 / (GBIT_PER_S * 1e9))
        estimates[name] = {"round_trips": trips, "added_s": extra}
        per = " per token" if name == "run" else ""
        scale = 1 / 32 if name == "run" else 1
        print(f"| {name}{per} | {own * scale * 1e3:.1f} ms | {local * scale * 1e3:.1f} ms | {split * scale * 1e3:.1f} ms | "
              f"{split / own:.2f} | +{extra * scale * 1e3:.0f} ms ({trips:.0f} round trips) |")
    print(f"one observed tensor costs {per_tensor * 1e3:.3f} ms on loopback over in-process; the network column "
          f"charges each round trip {RTT_MS} ms plus {bytes_per_trip // 1024} KiB at {GBIT_PER_S:g} Gbit/s (assumed, not measured)")
    return {"backend": {"seconds": results, "per_tensor_loopback_s": per_tensor, "network_estimate": estimates,
                        "assumed_rtt_ms": RTT_MS, "assumed_gbit_per_s": GBIT_PER_S}}
