"""The llama.cpp backend through the installed kernel: SmolLM2 split across two ggml-rpc-server
processes on loopback (free ports), held equal to Periscope's own runtime on run, lens and patch;
an unreachable server and a server killed mid-session give clear errors and lose nothing else.
The servers are the ones `make` builds into .build-llama/bin; they are stopped by pid."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest
from jupyter_client.manager import start_new_kernel

from conftest import ROOT, requires_model, run_cell

VND = "application/vnd.periscope.v1+json"
SERVER = ROOT / ".build-llama" / "bin" / "ggml-rpc-server"

# llama.cpp multiplies Q4_1 weights by activations quantised to Q8_1 and sums in its own order;
# Periscope's runtime keeps the activations in F32, so probabilities drift apart with prompt
# length: measured 0.026 on the 9-token prompt's top token, 0.054 on the 22-token identity
# Patchscope prompt unpatched and 0.072 patched at layer 20 (0.788 against 0.716), where both
# runtimes move the same token by the same amount (+0.39, +0.37).
PROB_TOLERANCE = 0.08

pytestmark = [requires_model(),
              pytest.mark.skipif(not SERVER.exists(), reason="ggml-rpc-server not built: run `make llama`")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"ggml-rpc-server did not listen on {port}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    logs = tmp_path_factory.mktemp("rpc")
    procs, ports = [], []
    try:
        for i in range(2):
            port = free_port()
            log = open(logs / f"server{i}.log", "w")
            procs.append(subprocess.Popen([str(SERVER), "-H", "127.0.0.1", "-p", str(port), "-t", "1"],
                                          stdout=log, stderr=subprocess.STDOUT))
            ports.append(port)
        for port in ports:
            wait_listening(port)
        yield procs, ports
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)


@pytest.fixture(scope="module")
def session(servers):
    _, ports = servers
    # One llama.cpp thread: its idle workers spin, which a busy test machine pays for many times over.
    os.environ.setdefault("PERISCOPE_LLAMA_THREADS", "1")
    km, kc = start_new_kernel(kernel_name="periscope", startup_timeout=60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def cell(kc, code, timeout=120):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    return reply["content"], outputs


def result(kc, code):
    content, outputs = cell(kc, code)
    assert content["status"] == "ok", (code, content.get("evalue"))
    data = [m for m in outputs if m["msg_type"] == "execute_result"][-1]["content"]["data"]
    payload = data[VND]
    return json.loads(payload) if isinstance(payload, str) else payload, data["text/plain"], outputs


def both(kc, code):
    """The cell's payload on the own runtime (model `m`) and on the split model (`r`)."""
    cell(kc, "use m")
    own = result(kc, code)[0]
    cell(kc, "use r")
    split = result(kc, code)[0]
    return own, split


def test_split_model_matches_own_runtime_then_survives_a_dead_server(servers, session):
    procs, ports = servers
    _, kc = session
    a, b = (f"127.0.0.1:{p}" for p in ports)

    # An address where nothing listens: a clear error, nothing loaded.
    content, _ = cell(kc, f'load "smollm2" on ["127.0.0.1:{free_port()}"]')
    assert content["status"] == "error" and "No ggml-rpc-server answers" in content["evalue"]

    content, _ = cell(kc, 'm = load "smollm2"\np = prompt "The Eiffel Tower is in the city of"')
    assert content["status"] == "ok", content
    content, outputs = cell(kc, f'r = load "smollm2" on ["{a}", "{b}"]\nshow r')
    assert content["status"] == "ok", content.get("evalue")
    card = "".join(o["content"]["data"]["text/plain"] for o in outputs if o["msg_type"] == "display_data")
    # The model card says where each layer range lives (llama.cpp's layer split of 30 blocks).
    assert "layers 0–15" in card and a in card and "layers 16–29" in card and b in card, card

    own, split = both(kc, "run p top 5")
    assert split["top"]["ids"][0] == own["top"]["ids"][0]
    for x, y in zip(own["top"]["probs"], split["top"]["probs"]):
        assert abs(x - y) < PROB_TOLERANCE, (own["top"], split["top"])

    # The logit lens reads resid_post of every layer from the servers.
    own, split = both(kc, "lens p layers all positions -1 top 1")
    own_top = [row[0][0] for row in own["top"]["ids"]]
    split_top = [row[0][0] for row in split["top"]["ids"]]
    agree = sum(x == y for x, y in zip(own_top, split_top))
    assert agree >= 27 and own_top[-5:] == split_top[-5:], (own_top, split_top)

    # A Patchscope writes a state into the split model's run at a layer on the second server.
    own, split = both(kc, 'patch source p layer 20 position -1 into identity top 3')
    assert split["mode"] == "top" and split["ids"][0] == own["ids"][0], (own["tokens"], split["tokens"])
    for x, y in zip(own["probs"], split["probs"]):
        assert abs(x - y) < PROB_TOLERANCE, (own, split)

    # Activation patching (exact): every restored resid_post written into the corrupt run.
    cell(kc, 'clean = prompt "The capital of France is"\ncorrupt = prompt "The capital of Italy is"')
    own, split = both(kc, 'trace clean corrupt answer " Paris" hook mlp_out layers 0..29')
    worst = max(abs(x - y) for ro, rs in zip(own["values"], split["values"]) for x, y in zip(ro, rs))
    assert worst < 0.05, worst

    # Gradients need the own runtime: a clear refusal.
    content, _ = cell(kc, 'use r\nattribute p answer " Paris" method saliency')
    assert content["status"] == "error" and "gradients" in content["evalue"].lower(), content.get("evalue")

    # One server dies: the split model fails with a clear error; everything else stays.
    os.kill(procs[1].pid, signal.SIGKILL)
    procs[1].wait(timeout=10)
    content, _ = cell(kc, 'use r\nrun "The capital of France is"')
    assert content["status"] == "error" and "llama.cpp stopped" in content["evalue"], content.get("evalue")
    content, _ = cell(kc, 'run "The capital of Italy is"')
    assert content["status"] == "error" and "load` again" in content["evalue"], content.get("evalue")
    data, text, _ = result(kc, 'use m\nrun p top 3')
    assert data["top"]["ids"][0] == own_top[-1]
    content, outputs = cell(kc, "print p")
    assert content["status"] == "ok"
