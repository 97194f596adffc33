"""The llama.cpp backend through the installed kernel: SmolLM2 and Gemma 3 each split across two
ggml-rpc-server processes on loopback (free ports), held to Periscope's own runtime on the same
prompts; the verbs llama.cpp cannot serve are refused with the reason; an unreachable server, a
busy one, one of another protocol version and one killed mid-cell give clear errors and the kernel
keeps every other model and variable. The servers are the ones `make` builds into
.build-llama/bin; they are stopped by pid."""
import math
import re
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
from jupyter_client.manager import start_new_kernel

from conftest import PERISCOPE_HOME, ROOT, collect_iopub, displayed_payloads, payload_with, requires_model, run_cell

SERVER = ROOT / ".build-llama" / "bin" / "ggml-rpc-server"
GEMMA_PATH = PERISCOPE_HOME / "models" / "gemma-3-270m-q4_k_m.gguf"

# llama.cpp multiplies quantised weights by activations quantised to 8 bits and sums in its own
# order; Periscope's runtime keeps the activations in F32, so probabilities drift apart with prompt
# length: measured on SmolLM2 0.026 on the 9-token prompt's top token, 0.054 on the 22-token
# identity Patchscope prompt unpatched and 0.072 patched at layer 20 (0.788 against 0.716), where
# both runtimes move the same token by the same amount (+0.39, +0.37); on Gemma 3 0.023 on the top
# token of "The capital of Japan is".
PROB_TOLERANCE = 0.08
# Log-probabilities (occlusion, compare's KL) drift the same way: at most 0.28 nats measured.
NATS_TOLERANCE = 0.6

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
    """Four servers: SmolLM2 on the first two, Gemma 3 on the last two (a server serves one
    client at a time)."""
    logs = tmp_path_factory.mktemp("rpc")
    procs, ports = [], []
    try:
        for i in range(4):
            port = free_port()
            log = open(logs / f"server{i}.log", "w")
            procs.append(subprocess.Popen([str(SERVER), "-H", "127.0.0.1", "-p", str(port), "-t", "1"],
                                          stdout=log, stderr=subprocess.STDOUT))
            ports.append(port)
        for port in ports:
            wait_listening(port)
        yield procs, [f"127.0.0.1:{p}" for p in ports]
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)


@pytest.fixture(scope="module")
def session(servers):
    _, (a, b, _, _) = servers
    # One llama.cpp thread: its idle workers spin, which a busy test machine pays for many times over.
    os.environ.setdefault("PERISCOPE_LLAMA_THREADS", "1")
    km, kc = start_new_kernel(kernel_name="periscope", startup_timeout=60)
    try:
        ok(kc, f'm = load "smollm2"\np = prompt "The Eiffel Tower is in the city of"\nr = load "smollm2" on ["{a}", "{b}"]')
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def cell(kc, code, timeout=300):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    return reply["content"], outputs


def ok(kc, code):
    content, _ = cell(kc, code)
    assert content["status"] == "ok", (code, content.get("evalue"))


def error(kc, code):
    content, _ = cell(kc, code)
    assert content["status"] == "error", code
    return content["evalue"]


def payloads(kc, code):
    """Every vnd payload the cell displays (items of a group too), in order."""
    content, outputs = cell(kc, code)
    assert content["status"] == "ok", (code, content.get("evalue"))
    return displayed_payloads(outputs)


def part(kc, code, key):
    return payload_with(payloads(kc, code), key)


def both(kc, code, key, own="m", split="r"):
    """The payload with `key` on the own runtime's model and on the split one."""
    ok(kc, f"use {own}")
    mine = part(kc, code, key)
    ok(kc, f"use {split}")
    return mine, part(kc, code, key)


def card(kc, code):
    _, outputs = cell(kc, code)
    return "".join(o["content"]["data"]["text/plain"] for o in outputs if o["msg_type"] == "display_data")


def assert_probs_close(own, split):
    for x, y in zip(own, split):
        assert abs(x - y) < PROB_TOLERANCE, (own, split)


def probability(run, x):
    """p(answer) of a trace cell from its normalised effect."""
    return run["corrupt_metric"] + x * (run["clean_metric"] - run["corrupt_metric"])


def test_smollm2_split_matches_own_runtime(servers, session):
    _, (a, b, _, _) = servers
    _, kc = session
    text = card(kc, "show r")
    # The model card says where each layer range lives (llama.cpp's layer split of 30 blocks).
    assert "layers 0–15" in text and a in text and "layers 16–29" in text and b in text, text

    own, split = both(kc, "run p top 5", "top")
    assert split["top"]["ids"][0] == own["top"]["ids"][0]
    # The card counts what crossed to the servers: the run read every mapped point of 30 layers.
    passes, read = map(int, re.search(r"passes so far\s+(\d+) \((\d+) tensors read", card(kc, "show r")).groups())
    assert passes >= 1 and read >= 4 * 30, (passes, read)
    assert_probs_close(own["top"]["probs"], split["top"]["probs"])

    # The logit lens reads resid_post of every layer from the servers.
    own, split = both(kc, "lens p layers all positions -1 top 1", "top")
    own_top = [row[0][0] for row in own["top"]["ids"]]
    split_top = [row[0][0] for row in split["top"]["ids"]]
    assert sum(x == y for x, y in zip(own_top, split_top)) >= 27 and own_top[-5:] == split_top[-5:], (own_top, split_top)

    # A Patchscope writes a state into the split model's run at a layer on the second server.
    own, split = both(kc, "patch source p layer 20 position -1 into identity top 3", "mode")
    assert split["mode"] == "top" and split["ids"][0] == own["ids"][0], (own["tokens"], split["tokens"])
    assert_probs_close(own["probs"], split["probs"])

    # Activation patching (exact): every restored mlp_out written into the corrupt run, and the
    # stream entering the first blocks (block 0's is the embeddings, `embd`).
    ok(kc, 'clean = prompt "The capital of France is"\ncorrupt = prompt "The capital of Italy is"')
    # Ten layers × nine differing positions restored at the stream's entry: more sequences than one
    # llama.cpp pass takes (64), so they run in two.
    ok(kc, 'clean9 = prompt "The Eiffel Tower is located in the city of"\n'
           'corrupt9 = prompt "The Colosseum is located in the city of"')
    own, split = both(kc, 'trace clean corrupt answer " Paris" hook mlp_out layers 0..29', "values")
    worst = max(abs(x - y) for ro, rs in zip(own["values"], split["values"]) for x, y in zip(ro, rs))
    assert worst < 0.05, worst
    # Compared as p(answer): the normalised effects differ by up to 0.11 there.
    own, split = both(kc, 'trace clean9 corrupt9 answer " Paris" hook resid_pre layers 0..9', "values")
    worst = max(abs(probability(own, x) - probability(split, y))
                for ro, rs in zip(own["values"], split["values"]) for x, y in zip(ro, rs))
    assert worst < PROB_TOLERANCE, worst


def test_verbs_over_the_backend_match_own_runtime(session):
    _, kc = session
    ok(kc, 'q = prompt "The capital of France is"')
    own, split = both(kc, "generate q max 8", "ids")
    assert split["ids"] == own["ids"], (own["text"], split["text"])

    # A direction read from the servers points the same way as the own runtime's.
    own, split = both(kc, 'v = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 10\nv', "values")
    dot = sum(x * y for x, y in zip(own["values"], split["values"]))
    cosine = dot / math.sqrt(sum(x * x for x in own["values"]) * sum(y * y for y in split["values"]))
    assert cosine > 0.99, cosine

    # Steering writes v into the remote residual stream at every token while generating.
    own, split = both(kc, 'steer "I think dogs are" with v layer 10 scales [0, 4] generate 4', "continuations")
    assert split["ids"] == own["ids"], (own["continuations"], split["continuations"])

    ok(kc, 'd = dataset [["Paris", "city"], ["London", "city"], ["Tokyo", "city"], ["Berlin", "city"], '
           '["Madrid", "city"], ["Rome", "city"], ["cat", "animal"], ["dog", "animal"], ["horse", "animal"], '
           '["tiger", "animal"], ["mouse", "animal"], ["rabbit", "animal"]]')
    own, split = both(kc, "probe d layers 0..29 split 0.5 seed 1", "test_accuracy")
    # Six held-out prompts: accuracies move in steps of 1/6 where a prompt sits near the boundary.
    gaps = [abs(x - y) for x, y in zip(own["test_accuracy"], split["test_accuracy"])]
    assert max(gaps) < 0.17 and sum(gaps) / len(gaps) < 0.05, (own["test_accuracy"], split["test_accuracy"])

    own, split = both(kc, 'compare "The capital of Japan is" "The capital of France is" top 5', "kl_p1_p2")
    assert abs(own["kl_p1_p2"] - split["kl_p1_p2"]) < NATS_TOLERANCE
    assert abs(own["kl_p2_p1"] - split["kl_p2_p1"]) < NATS_TOLERANCE
    assert [m["id"] for m in own["movers"][:2]] == [m["id"] for m in split["movers"][:2]]

    own, split = both(kc, "stability q layers 0..3 noise 0.1 samples 4 seed 1", "kept")
    assert own["kept"] == split["kept"]
    assert_probs_close(own["mean_probability"], split["mean_probability"])

    own, split = both(kc, 'attribute q answer " Paris" method occlusion', "importance")
    assert own["ranking"][:2] == split["ranking"][:2], (own["importance"], split["importance"])
    worst = max(abs(x - y) for x, y in zip(own["importance"], split["importance"]))
    assert worst < NATS_TOLERANCE, (own["importance"], split["importance"])

    # A Patchscope sweep: each layer's state patched into the identity prompt, one llama.cpp batch.
    own, split = both(kc, "patchscope q position -1 target identity layers 20..29 generate 1", "first")
    own_top = [ids[0] for ids in own["first"]["ids"]]
    split_top = [ids[0] for ids in split["first"]["ids"]]
    assert sum(x == y for x, y in zip(own_top, split_top)) >= len(own_top) - 1, (own_top, split_top)


def test_generation_continues_from_llama_cpps_memory(session):
    """Each generated token is one llama.cpp step over the keys and values the earlier steps left
    (no hook needs the earlier positions run again): a wrong position, a stale row or a steered row
    kept for an unsteered run shows within a few tokens, so long continuations must stay the own
    runtime's token for token, plain, steered at every position, and in process."""
    _, kc = session
    ok(kc, 'g = prompt "The capital of France is"')
    own, split = both(kc, "generate g max 24", "ids")
    assert split["ids"] == own["ids"], (own["text"], split["text"])

    ok(kc, 'w = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 10')
    # The steered continuation first (it leaves the prompt at token 1), then the unsteered one.
    own, split = both(kc, "steer g with w layer 10 scales [1, 0] generate 16", "continuations")
    assert split["ids"] == own["ids"], (own["continuations"], split["continuations"])

    ok(kc, 'l = load "smollm2" on local')
    own, local = both(kc, "generate g max 24", "ids", split="l")
    assert local["ids"] == own["ids"], (own["text"], local["text"])
    ok(kc, "use m")


def test_what_llama_cpp_cannot_give_is_refused_with_the_reason(session):
    _, kc = session
    ok(kc, "use r")
    # `hooks` names the llama.cpp tensor behind each point, and marks the unreachable ones.
    table = part(kc, "hooks layer 3", "tensors")
    tensors = dict(zip(table["names"], table["tensors"]))
    assert tensors["blocks.3.hook_resid_post"] == "l_out-3"
    assert tensors["blocks.3.hook_resid_pre"] == "l_out-2"
    assert tensors["blocks.3.hook_resid_mid"] == "ffn_inp-3"
    assert tensors["blocks.3.hook_attn_out"] == "attn_out-3"
    assert tensors["blocks.3.hook_mlp_out"] == "ffn_out-3"
    assert tensors["blocks.3.attn.hook_pattern"] is None
    template = part(kc, "hooks", "tensors")
    template = dict(zip(template["names"], template["tensors"]))
    assert template["blocks.{l}.hook_resid_post"] == "l_out-{l}"
    assert template["blocks.{l}.hook_resid_pre"] == "l_out-{l-1}, block 0: embd"
    assert template["hook_embed"] == "embd" and template["blocks.{l}.attn.hook_z"] is None

    message = error(kc, "attention p layer 3 head 0")
    assert "hook_pattern" in message and "llama.cpp" in message and "without `on`" in message, message
    message = error(kc, 'export p hook "blocks.3.attn.hook_q" to "q.npy"')
    assert "hook_q" in message and "without `on`" in message, message
    for code in ['attribute p answer " Paris" method saliency',
                 'gradient p answer " Paris" hook "blocks.6.hook_resid_post"',
                 'trace clean corrupt answer " Paris" method attribution']:
        message = error(kc, code)
        assert "gradients" in message.lower() and "without `on`" in message, (code, message)


@pytest.mark.skipif(not GEMMA_PATH.exists(), reason="Gemma 3 not fetched: run `make model`")
def test_gemma3_split_matches_own_runtime(servers, session):
    _, (_, _, c, d) = servers
    _, kc = session
    ok(kc, 'g = load "gemma3-270m"\nj = prompt "The capital of Japan is"')
    text = card(kc, f'gr = load "gemma3-270m" on ["{c}", "{d}"]\nshow gr')
    assert "layers 0–9" in text and c in text and "layers 10–17" in text and d in text, text

    own, split = both(kc, "run j top 5", "top", own="g", split="gr")
    assert split["top"]["ids"][0] == own["top"]["ids"][0]
    assert_probs_close(own["top"]["probs"], split["top"]["probs"])

    own, split = both(kc, "lens j layers all positions -1 top 1", "top", own="g", split="gr")
    own_top = [row[0][0] for row in own["top"]["ids"]]
    split_top = [row[0][0] for row in split["top"]["ids"]]
    assert sum(x == y for x, y in zip(own_top, split_top)) >= 16 and own_top[-3:] == split_top[-3:], (own_top, split_top)

    own, split = both(kc, "patchscope j position -1 target identity layers all generate 1", "first", own="g", split="gr")
    own_top = [ids[0] for ids in own["first"]["ids"]]
    split_top = [ids[0] for ids in split["first"]["ids"]]
    assert sum(x == y for x, y in zip(own_top, split_top)) >= 16, (own_top, split_top)

    # Generation steps over llama.cpp's memory, whose sliding-window layers keep a window of their
    # own. Twelve tokens: after " New York." the two runtimes part at a near tie, in a fresh pass too.
    own, split = both(kc, "generate j max 12", "ids", own="g", split="gr")
    assert split["ids"] == own["ids"], (own["text"], split["text"])

    # Exact activation patching at Gemma's resid_pre (the scaled embeddings, then l_out of the
    # block before) and attn_out (its post-attention norm's output). The effects are compared as
    # p(answer): normalised by the clean p (0.248 against 0.277) they differ by up to 0.24 where
    # restoring lifts p past the clean run's (1.98 against 1.83 at layer 13).
    ok(kc, 'jc = prompt "The capital of Japan is"\nfc = prompt "The capital of France is"')
    for hook in ["resid_pre", "attn_out"]:
        own, split = both(kc, f'trace jc fc answer " Tokyo" hook {hook} layers all', "values", own="g", split="gr")
        worst = max(abs(probability(own, x) - probability(split, y))
                    for ro, rs in zip(own["values"], split["values"]) for x, y in zip(ro, rs))
        assert worst < PROB_TOLERANCE, (hook, worst)
        if hook == "resid_pre":
            # The same position carries the stream's effect in every layer (" Japan", then " is").
            assert [max(range(len(r)), key=r.__getitem__) for r in own["values"]] == \
                [max(range(len(r)), key=r.__getitem__) for r in split["values"]]


def hello_answer(version):
    """llama.cpp's answer to HELLO: its size (u64), major, minor, patch, padding, 24 capability bytes."""
    return struct.pack("<Q", 28) + bytes(version) + b"\0" + bytes(24)


def test_server_faults_leave_the_session_whole(servers, session):
    procs, (a, b, c, d) = servers
    _, kc = session

    # Nothing listens: a clear error, nothing loaded.
    message = error(kc, f'load "smollm2" on ["127.0.0.1:{free_port()}"]')
    assert "No ggml-rpc-server answers" in message, message

    # A server this session's split model holds: one client at a time, so say so at once.
    message = error(kc, f'load "gemma3-270m" on ["{a}"]')
    assert "serves one client at a time" in message and "`smollm2@llama.cpp`" in message, message

    # A server of another protocol version (a socket answering HELLO as a 6.1.0 server would).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_hello():
        conn, _ = listener.accept()
        with conn:
            conn.recv(1 + 8 + 24)
            conn.sendall(hello_answer([6, 1, 0]))
    thread = threading.Thread(target=answer_hello, daemon=True)
    thread.start()
    message = error(kc, f'load "smollm2" on ["127.0.0.1:{listener.getsockname()[1]}"]')
    thread.join(timeout=10)
    listener.close()
    assert "speaks RPC protocol 6.1.0" in message and "7.0.0" in message, message

    # A real server busy with another client (this test holds it after a HELLO of its own).
    spare_port = free_port()
    spare = subprocess.Popen([str(SERVER), "-H", "127.0.0.1", "-p", str(spare_port), "-t", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(spare_port)
        holder = socket.create_connection(("127.0.0.1", spare_port))
        holder.sendall(bytes([14]) + struct.pack("<Q", 24) + bytes(24))
        assert holder.recv(36)[8] == 7
        message = error(kc, f'load "smollm2" on ["127.0.0.1:{spare_port}"]')
        assert "serving another client" in message, message
        holder.close()
    finally:
        os.kill(spare.pid, signal.SIGTERM)
        spare.wait(timeout=10)

    # A server killed mid-cell: the cell fails with llama.cpp's reason; everything else stays.
    ok(kc, "use r")
    msg_id = kc.execute("patchscope p position -1 target identity layers all generate 3")
    time.sleep(2)
    os.kill(procs[1].pid, signal.SIGKILL)
    procs[1].wait(timeout=10)
    reply = kc.get_shell_msg(timeout=120)
    collect_iopub(kc, msg_id, timeout=60)
    assert reply["content"]["status"] == "error" and "llama.cpp stopped" in reply["content"]["evalue"], reply["content"]
    message = error(kc, 'run "The capital of Italy is"')
    assert "load` again" in message, message
    own = part(kc, "use m\nrun p top 3", "top")
    assert own["top"]["ids"][0] == part(kc, "run p top 1", "top")["top"]["ids"][0]
    ok(kc, "print p\nprint v\nprint d")
    if GEMMA_PATH.exists():
        # The other split model runs on its own servers as before.
        assert part(kc, "use gr\nrun j top 1", "top")["top"]["ids"]
