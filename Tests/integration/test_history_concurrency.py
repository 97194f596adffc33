"""History shared by several kernels and kept through a kernel killed mid-cell, through real
jupyter_client kernel managers (each test has its own PERISCOPE_HOME, so its own history file)."""
import json
import os
import signal
import time

from jupyter_client.manager import KernelManager

from conftest import KERNEL_NAME, TIMEOUT, run_cell


def start(home):
    km = KernelManager(kernel_name=KERNEL_NAME)
    km.start_kernel(env={**os.environ, "PERISCOPE_HOME": str(home)})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def history_tail(kc, n):
    msg_id = kc.history(hist_access_type="tail", n=n, output=False, raw=True)
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return [tuple(h) for h in reply["content"]["history"]]


def records(path):
    """Every line of the history file, parsed (a line that is not JSON fails the test)."""
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_kernels_writing_one_history_file_keep_whole_lines(tmp_path):
    kernels = [start(tmp_path) for _ in range(4)]
    cells = 40
    pad = "x" * 5000  # long sources: a line larger than a page
    try:
        # Every kernel gets its whole queue at once, so all four write at the same time.
        sent = []
        for k, (_, kc) in enumerate(kernels):
            sent.append([kc.execute(f'v{k}_{j} = "{pad}"') for j in range(cells)])
        for (_, kc), ids in zip(kernels, sent):
            seen = set()
            while len(seen) < cells:
                reply = kc.get_shell_msg(timeout=TIMEOUT)
                if reply["parent_header"].get("msg_id") in ids:
                    assert reply["content"]["status"] == "ok"
                    seen.add(reply["parent_header"]["msg_id"])
    finally:
        for km, kc in kernels:
            stop(km, kc)

    lines = records(tmp_path / "history.jsonl")
    markers = [r["session"] for r in lines if "line" not in r]
    assert len(markers) == len(set(markers)) == 4, "each kernel took its own session number"
    for k in range(4):
        mine = [r for r in lines if r.get("source", "").startswith(f"v{k}_")]
        assert [r["source"].split(" = ")[0] for r in mine] == [f"v{k}_{j}" for j in range(cells)]
        assert len({r["session"] for r in mine}) == 1
        assert [r["line"] for r in mine] == list(range(1, cells + 1))


def test_kernel_killed_mid_cell_restarts_with_history(tmp_path):
    km, kc = start(tmp_path)
    try:
        for code in ("first = 1", "second = 2"):
            reply, _ = run_cell(kc, code)
            assert reply["content"]["status"] == "ok"
        kc.execute("sleep 30")
        time.sleep(1.0)
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive()
        # A kernel killed inside a write leaves the last line torn.
        with open(tmp_path / "history.jsonl", "a") as f:
            f.write('{"line": 4, "session": 1, "sour')
        kc.stop_channels()
        km.restart_kernel(now=True)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        assert history_tail(kc, 10) == [(1, 1, "first = 1"), (1, 2, "second = 2"), (1, 3, "sleep 30")]
        reply, _ = run_cell(kc, "third = 3")
        assert reply["content"]["status"] == "ok"
        assert history_tail(kc, 2) == [(1, 3, "sleep 30"), (2, 1, "third = 3")]
    finally:
        stop(km, kc)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    torn = [line for line in lines if line.endswith('"sour')]
    assert len(torn) == 1, "the torn line stays on its own line"
    assert json.loads(lines[-1]) == {"line": 1, "session": 2, "source": "third = 3"}
