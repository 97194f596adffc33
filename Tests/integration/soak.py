"""A long mixed run through jupyter_client: every verb, every kind of bad input, interrupts in the
middle of sweeps, restarts, prompts beyond the cache budget and two models resident. Every request
must get its one reply, the cache must stay within its budget, and resident memory after warm-up
must grow less than 5% over the run.

    python Tests/integration/soak.py --seconds 1800 --report build/soak/report.json

`make soak` runs it for SOAK_SECONDS (half an hour by default); `make test` runs a short one
(test_soak.py).
"""
import argparse
import json
import os
import pathlib
import random
import statistics
import sys
import time

from jupyter_client.manager import KernelManager

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from conftest import KERNEL_NAME, MODEL_PATH, ROOT, VND  # noqa: E402
from test_bad_input import cell_cases, message_cases  # noqa: E402

BUDGET_MIB = 8
SWEEP = "patchscope p position -1 target identity layers all generate 4"
QUEUED = ['x = 1', 'print "queued"', "frobnicate 2", "show x", "tokens p"]


def verb_cells(tmp):
    """One cell per verb, small enough to keep the run moving; each must succeed."""
    return [
        "help lens",
        'print "soak"',
        "show 0..3",
        "sleep 0.05",
        "models",
        "use m2",
        "hooks layer 3",
        "use m1",
        'p = prompt "The Eiffel Tower is in the city of"',
        "tokens p",
        "run p top 5",
        "generate p max 4",
        "cache",
        "lens p layers 20..29 positions -2..-1",
        "lens p layers 0..3 tuned",
        'lenses ["The Eiffel Tower is in the city of Paris", "Water boils at one hundred degrees"] layers 0..3',
        "attention p layer 5 head 3",
        'patch source "The Eiffel Tower" layer 8 position -1 into "The capital city of x" generate 2',
        "patchscope p position -1 target identity layers 0..5 generate 2",
        'M = fit map m1 layer 6 to m2 layer 8 on ["The cat sat on the mat and looked out of the window at the rain",'
        ' "Paris is the capital of France and the largest city in the country",'
        ' "Water boils at one hundred degrees Celsius at the level of the sea",'
        ' "I like green tea in the morning and black coffee after lunch"] ridge 1',
        'patch source "The Eiffel Tower" model m1 layer 6 position -1 into "The capital city of x" model m2 layer 8 map M generate 2',
        'trace p "The Colosseum is in the city of" answer " Paris" layers 0..3',
        'love = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 6',
        'joy = direction ["Joy", "What fun"] minus ["Sorrow", "How sad"] layer 6',
        'steer "I think dogs are" with love scales [0, 4] generate 3',
        "similarity [love, joy]",
        'd = dataset [["I loved it", "pos"], ["I hated it", "neg"], ["Wonderful", "pos"], ["Awful", "neg"],'
        ' ["Great fun", "pos"], ["Terrible", "neg"], ["So good", "pos"], ["So bad", "neg"]]',
        "probe d layers 2..3 split 0.5 seed 1",
        'attribute "The capital city of France is" answer " Paris"',
        'gradient p answer " Paris" hook "blocks.5.hook_resid_pre"',
        'compare "The capital of France is" "The capital of Italy is" top 3',
        'stability "The capital city of France is" layers 0..1 samples 2',
        'project ["cat", "dog", "car", "bus"] layer 10',
        f'export p hook "blocks.3.hook_resid_post" to "{tmp / "soak.npy"}"',
        f'export love to "{tmp / "love.gguf"}"',
        "clear cache p",
    ]


def rss_mib(pid, field="VmRSS"):
    """Resident memory of the process (VmRSS), or one part of it (RssAnon, RssFile)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Soak:
    def __init__(self, tmp, log):
        self.tmp = pathlib.Path(tmp)
        self.log = log
        self.sent = 0
        self.replied = 0
        self.by_kind = {}
        self.curves = []  # one memory curve per kernel process: [(seconds, cells, MiB, anonymous MiB)]
        self.warm_peaks = []  # per kernel process: the highest resident memory its warm-up reached (MiB)
        self.failures = []
        self.interrupts = {"stopped": 0, "finished first": 0}
        self.t0 = time.monotonic()
        second = self.tmp / "second-copy.gguf"
        if not second.exists():
            try:
                os.link(MODEL_PATH, second)  # another path, so another resident model
            except OSError:
                import shutil
                shutil.copy(MODEL_PATH, second)
        self.second_model = second
        self.start_kernel()

    # MARK: kernel

    def start_kernel(self):
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(stderr=self.log, env={**os.environ, "PERISCOPE_HOME": os.environ.get(
            "PERISCOPE_HOME", str(MODEL_PATH.parent.parent))})
        self.connect()
        self.warm_up()

    def connect(self):
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def pid(self):
        return self.km.provisioner.process.pid

    def warm_up(self):
        self.warm_samples = []
        self.cell(f'keep = 41\nm1 = load "smollm2"\nm2 = load "{self.second_model}"\nuse m1\ncache budget {BUDGET_MIB}')
        # Every kind of cell the run sends, once, so that the memory baseline holds the scratch
        # buffers each one grows to (the full sweep is the one the run interrupts).
        # The run switches models at random (`use m2`), so every verb runs once on each.
        verbs = [c for c in verb_cells(self.tmp) if not c.startswith("use ")]
        for model in ("m2", "m1"):
            self.cell(f"use {model}")
            for code in verbs:
                self.cell(code)
                self.warm_samples.append(rss_mib(self.pid()))
        for _, code, _ in cell_cases(self.tmp):
            self.cell(code, expect="error", kind="bad cell")
        self.cell(SWEEP)
        self.warm_samples.append(rss_mib(self.pid()))
        self.interrupt_sweep(random.Random(1))
        self.warm_samples.append(rss_mib(self.pid()))
        self.queued(QUEUED)
        for i in range(6):
            self.cell(f'run "Warm-up prompt {i} beyond the budget" top 1')
        self.warm_samples.append(rss_mib(self.pid()))
        self.warm_peaks.append(round(max(self.warm_samples, default=0), 1))
        self.curves.append([])
        self.sample()

    def restart(self):
        self.kc.stop_channels()
        self.km.restart_kernel(now=True)
        self.connect()
        reply = self.cell("keep", expect="error", kind="after restart")
        assert reply is not None
        self.warm_up()

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    # MARK: requests

    def reply_to(self, msg_id, timeout=300):
        while True:
            msg = self.kc.get_shell_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                self.replied += 1
                return msg
            self.failures.append(f"a reply to an unknown request: {msg['msg_type']}")

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0)
            except Exception:
                return

    def cell(self, code, expect="ok", kind="verb"):
        self.sent += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        reply = self.reply_to(self.kc.execute(code, stop_on_error=False))
        self.drain_iopub()
        status = reply["content"]["status"]
        if status != expect:
            self.failures.append(f"{kind}: {code!r} gave {status}, expected {expect}: "
                                 f"{reply['content'].get('evalue', '')[:300]}")
        return reply

    def queued(self, codes):
        """Several cells sent at once: each must get its own reply, in order."""
        ids = [self.kc.execute(c, stop_on_error=False) for c in codes]
        self.sent += len(ids)
        self.by_kind["queued"] = self.by_kind.get("queued", 0) + len(ids)
        got, statuses = [], []
        while len(got) < len(ids):
            msg = self.kc.get_shell_msg(timeout=300)
            got.append(msg["parent_header"].get("msg_id"))
            statuses.append(msg["content"]["status"])
            self.replied += 1
        if got != ids:
            self.failures.append("queued cells answered out of order or lost")
        expected = ["error" if c.startswith("frobnicate") else "ok" for c in codes]
        if statuses != expected:
            self.failures.append(f"queued cells {codes} gave {statuses}, expected {expected}")
        self.drain_iopub()

    def interrupt_sweep(self, rng):
        self.sent += 1
        self.by_kind["interrupt"] = self.by_kind.get("interrupt", 0) + 1
        msg_id = self.kc.execute(SWEEP, stop_on_error=False)
        time.sleep(rng.uniform(0.2, 1.2))
        # The interrupt goes on the control channel and its reply is awaited before anything else
        # is sent: an interrupt applies to whatever runs when it arrives (as in ipykernel), so one
        # still in flight when the sweep has already finished would stop the next cell instead.
        self.kc.control_channel.send(self.kc.session.msg("interrupt_request", content={}))
        ack = self.kc.get_control_msg(timeout=60)
        if ack["msg_type"] != "interrupt_reply":
            self.failures.append(f"interrupt answered with {ack['msg_type']}")
        reply = self.reply_to(msg_id)
        content = reply["content"]
        if content["status"] == "error" and content["ename"] == "KeyboardInterrupt":
            self.interrupts["stopped"] += 1
        elif content["status"] == "ok":
            self.interrupts["finished first"] += 1
        else:
            self.failures.append(f"interrupted sweep: {content}")
        self.drain_iopub()

    def bad_message(self, frames):
        self.by_kind["bad message"] = self.by_kind.get("bad message", 0) + 1
        self.kc.shell_channel.socket.send_multipart(frames)

    def check_state(self):
        reply = self.kc.execute("keep\ncache", stop_on_error=False)
        self.sent += 1
        self.by_kind["check"] = self.by_kind.get("check", 0) + 1
        msg = self.reply_to(reply)
        results = []
        while True:
            out = self.kc.get_iopub_msg(timeout=60)
            if out["parent_header"].get("msg_id") != reply:
                continue
            if out["msg_type"] in ("execute_result", "display_data"):
                results.append(out["content"]["data"])
            if out["msg_type"] == "status" and out["content"]["execution_state"] == "idle":
                break
        if msg["content"]["status"] != "ok" or not results:
            self.failures.append(f"state check failed: {msg['content']}")
            return
        cache = results[-1].get(VND, {})
        if "total_bytes" not in cache or "budget_bytes" not in cache:
            self.failures.append(f"`cache` did not report its size and budget: {sorted(cache)}")
        elif cache["total_bytes"] > cache["budget_bytes"]:
            self.failures.append(f"cache over budget: {cache.get('total_bytes')} > {cache.get('budget_bytes')}")
        if not any(r.get("text/plain") == "41" for r in results):
            self.failures.append("the variable `keep` was lost")
        # No malformed message may have run its code (each would bind `bound`).
        self.cell("bound", expect="error", kind="check")

    def sample(self):
        # (seconds, requests sent, resident MiB, of which anonymous: the mapped model files are the rest)
        pid = self.pid()
        self.curves[-1].append((round(time.monotonic() - self.t0, 1), self.sent, round(rss_mib(pid), 1),
                                round(rss_mib(pid, "RssAnon"), 1)))

    # MARK: the run

    def run(self, seconds, restarts, seed=0):
        rng = random.Random(seed)
        verbs = verb_cells(self.tmp)
        bad_cells = cell_cases(self.tmp)
        bad_messages = message_cases(self.km.session.key)
        restart_at = {int(seconds * (i + 1) / (restarts + 1)) for i in range(restarts)}
        n = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            n += 1
            roll = rng.random()
            if roll < 0.45:
                self.cell(rng.choice(verbs))
            elif roll < 0.65:
                _, code, _ = rng.choice(bad_cells)
                self.cell(code, expect="error", kind="bad cell")
            elif roll < 0.72:
                self.bad_message(rng.choice(bad_messages)[1])
            elif roll < 0.85:
                self.cell(f'run "Prompt {n} goes past the cache budget of {BUDGET_MIB} MiB" top 1',
                          kind="beyond budget")
            elif roll < 0.92:
                self.queued(QUEUED)
            else:
                self.interrupt_sweep(rng)
            if n % 10 == 0:
                self.check_state()
                self.sample()
            elapsed = int(time.monotonic() - start)
            if restart_at and elapsed >= min(restart_at):
                restart_at.discard(min(restart_at))
                self.restart()
        self.check_state()
        self.sample()
        total = time.monotonic() - start
        return self.report(total)

    def report(self, seconds):
        # Growth per kernel process: the median of its last five samples against the median of
        # its first five after warm-up (single samples swing by a few MiB as scratch comes and goes).
        # A short run has too few samples for that: its first ones can sit low while scratch the
        # warm-up already needed is handed back and taken again, so it is also measured against the
        # highest memory the warm-up reached (every verb on both models, a sweep, an interrupt).
        growth, over_warm_up = [], []
        for curve, peak in zip(self.curves, self.warm_peaks):
            if len(curve) >= 3:
                first = statistics.median(c[2] for c in curve[:5])
                last = statistics.median(c[2] for c in curve[-5:])
                growth.append(round(100 * (last - first) / first, 2))
                over_warm_up.append(round(100 * (last - max(first, peak)) / max(first, peak), 2))
        return {
            "seconds": round(seconds, 1),
            "requests": self.sent,
            "replies": self.replied,
            "cells_per_second": round(self.sent / seconds, 2),
            "by_kind": self.by_kind,
            "interrupts": self.interrupts,
            "memory_growth_percent": growth,
            "memory_over_warm_up_percent": over_warm_up,
            "warm_up_peaks_mib": self.warm_peaks,
            "memory_curves": self.curves,
            "failures": self.failures,
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--report", default=str(ROOT / "build" / "soak" / "report.json"))
    args = parser.parse_args()
    report_path = pathlib.Path(args.report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with open(report_path.with_suffix(".log"), "w") as log:
        soak = Soak(report_path.parent, log)
        try:
            report = soak.run(args.seconds, args.restarts)
        finally:
            soak.close()
    report_path.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "memory_curves"}, indent=1))
    for i, curve in enumerate(report["memory_curves"]):
        print(f"kernel {i + 1} memory (s, requests, MiB, anonymous MiB):", " ".join("/".join(map(str, s)) for s in curve))
    ok = not report["failures"] and report["requests"] == report["replies"] and all(
        g < 5 for g in report["memory_growth_percent"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
