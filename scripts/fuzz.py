"""Runs the libFuzzer targets under Fuzz/ (built by `make fuzz-build` into .build-fuzz with the
address sanitizer) over seed corpora made from the test fixtures.

    python scripts/fuzz.py run --seconds 600      every target for that long, one after another
    python scripts/fuzz.py smoke                  every target over its seeds, its committed
                                                  regression inputs and a few thousand new inputs

A crash, leak or hang over 1 s fails the run and leaves the input in build/fuzz/; it then goes
into Tests/FuzzRegressions/<target>/ with a fix. `run` adds its totals to build/fuzz/runs.jsonl.
"""
import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build-fuzz" / "debug"
CORPUS = ROOT / ".build-fuzz" / "corpus"
OUT = ROOT / "build" / "fuzz"
REGRESSIONS = ROOT / "Tests" / "FuzzRegressions"
HOME = pathlib.Path(os.environ.get("PERISCOPE_HOME", pathlib.Path.home() / ".cache" / "periscope"))
TARGETS = ["FuzzGGUF", "FuzzWire", "FuzzLanguage", "FuzzTokenizer", "FuzzCSV", "FuzzWriters"]
MAX_LEN = {"FuzzGGUF": 65536, "FuzzTokenizer": 4096, "FuzzLanguage": 4096}


def tokenizer_env():
    spm = HOME / "models" / "gemma-3-270m-q4_k_m.gguf"
    if not spm.exists():
        spm = ROOT / "Tests" / "TransformerTests" / "Fixtures" / "spm-tiny.gguf"
    return {"PERISCOPE_FUZZ_BPE": str(HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"),
            "PERISCOPE_FUZZ_SPM": str(spm)}


def put(directory, name, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def wire_message(msg_type, content, parent=None):
    header = {"msg_id": f"id-{msg_type}", "session": "s", "username": "u", "date": "2026-01-01T00:00:00Z",
              "msg_type": msg_type, "version": "5.3"}
    frames = [b"ident", b"<IDS|MSG>", b"", json.dumps(header).encode(), json.dumps(parent or {}).encode(),
              b"{}", json.dumps(content).encode()]
    return b"\n--\n".join(frames)


def make_seeds():
    """Seed corpora from the fixtures, the example notebooks and hand-made messages."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    fixtures = ROOT / "Tests"
    for path in list(fixtures.glob("GGUFTests/Fixtures/*.gguf")) + list(fixtures.glob("TransformerTests/Fixtures/**/*.gguf")):
        data = path.read_bytes()
        put(CORPUS / "FuzzGGUF", path.name, data[:MAX_LEN["FuzzGGUF"]])
    for name, content in [("execute", {"code": 'run "hi"', "silent": False}), ("kernel_info", {}),
                          ("history", {"hist_access_type": "tail", "n": 3}), ("complete", {"code": "le", "cursor_pos": 2}),
                          ("comm_info", {"target_name": None})]:
        put(CORPUS / "FuzzWire", name, wire_message(f"{name}_request", content))
    put(CORPUS / "FuzzWire", "json", json.dumps({"a": [1, 2.5, -3e-7, True, None, "\u00e9\\n"], "b": {}}))
    cells = []
    for nb in (ROOT / "examples").glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                cells.append("".join(cell["source"]))
    readme = (ROOT / "README.md").read_text()
    cells += re.findall(r"\| `([^`]+)` \|$", readme, flags=re.M)
    for i, code in enumerate(cells):
        put(CORPUS / "FuzzLanguage", f"cell{i}", code)
    for i, line in enumerate((fixtures / "TransformerTests" / "Fixtures" / "tokenizer_corpus.jsonl").read_text().split("\n")):
        if not line.strip():
            continue  # split at "\n" only: the texts hold other line separators (U+2028, \x1c)
        text = json.loads(line)["text"].encode()
        put(CORPUS / "FuzzTokenizer", f"bpe{i}", b"\x00" + text)
        put(CORPUS / "FuzzTokenizer", f"spm{i}", b"\x07" + text)
    for i, csv in enumerate(['text,label\n"I loved it",pos\nI hated it,neg\n', 'Label,TEXT\r\npos,"a ""quoted""\nline"\r\nneg,b\r\n',
                             "text,label,extra\nx,y\n", "sentence,score\n1,2\n"]):
        put(CORPUS / "FuzzCSV", f"csv{i}", csv)
    put(CORPUS / "FuzzWriters", "vector", bytes([5, 3, 6]) + b"\x00\x00\x80\x3f" * 3 + b"\x00\x00\xc0\x7f")
    put(CORPUS / "FuzzWriters", "matrix", bytes([2, 2, 3, 1]) + bytes(range(24)))


def libfuzzer(target, args, timeout):
    env = {**os.environ, **tokenizer_env(), "ASAN_OPTIONS": "detect_leaks=1:allocator_may_return_null=1"}
    OUT.mkdir(parents=True, exist_ok=True)
    command = [str(BUILD / target), "-timeout=1", "-rss_limit_mb=3072", "-print_final_stats=1",
               f"-max_len={MAX_LEN.get(target, 8192)}", f"-artifact_prefix={OUT}/{target}-", *args]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    runs = sum(int(n) for n in re.findall(r"stat::number_of_executed_units:\s*(\d+)", done.stderr))
    if done.returncode != 0:
        (OUT / f"{target}.log").write_text(done.stderr)
    return done.returncode, runs, elapsed, done.stderr


def coverage(log):
    """libFuzzer's coverage counter after the seeds (INITED) and at the end: (start, end), or
    None when it printed none, which means the code under test was not instrumented."""
    counts = [int(n) for n in re.findall(r"\bcov: (\d+)", log)]
    inited = re.search(r"INITED cov: (\d+)", log)
    if not counts or not inited:
        return None
    return int(inited.group(1)), counts[-1]


def corpus_dirs(target, writable):
    dirs = []
    if writable:
        dirs.append(str(CORPUS / target))
    regressions = REGRESSIONS / target
    if regressions.exists() and any(regressions.iterdir()):
        dirs.append(str(regressions))
    if not writable:
        dirs.append(str(CORPUS / target))
    return dirs


def timed_out_input(log):
    """The input libFuzzer saved when it stopped for the 1 s limit, or None for any other stop."""
    if "ERROR: libFuzzer: timeout" not in log:
        return None
    found = re.search(r"Test unit written to (\S+)", log)
    return pathlib.Path(found.group(1)) if found else None


def cpu_seconds_per_run(target, path):
    """CPU time (user + system) of one run of `path` in a fresh process: eleven runs less one,
    over ten, so the start-up (reading vocabularies, the sanitizer's set-up) cancels out."""
    env = {**os.environ, **tokenizer_env(), "ASAN_OPTIONS": "detect_leaks=1:allocator_may_return_null=1"}

    def cpu(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([str(BUILD / target), f"-runs={repeats}", str(path)], env=env, capture_output=True, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    return max(cpu(11) - cpu(1), 0.0) / 10


def run(seconds, targets):
    """Each target for `seconds` of wall time. libFuzzer's 1 s limit is wall time, so on a shared
    machine a process that waits for a core can stop on an ordinary input. Such an input is run
    again in a fresh process and its CPU time measured: when one run takes under a second of CPU it
    was not a hang; it is kept in build/fuzz/starved/ (its CPU time in runs.jsonl) and fuzzing goes
    on. Anything else (a crash, a leak, an input that needs a second of CPU) fails the run."""
    total, failed = 0, []
    for target in targets:
        started = time.monotonic()
        runs, starved, cov, first_cov, code, log = 0, [], None, None, 0, ""
        while (left := seconds - (time.monotonic() - started)) >= 10:
            code, executed, _, log = libfuzzer(target, [f"-max_total_time={int(left)}", *corpus_dirs(target, True)],
                                               timeout=left + 300)
            runs += executed
            cov = coverage(log) or cov
            first_cov = first_cov or cov
            slow = timed_out_input(log) if code != 0 else None
            if slow is None:
                break
            cpu = cpu_seconds_per_run(target, slow)
            if cpu >= 1.0:
                print(f"{target}: {slow.name} takes {cpu:.2f} s of CPU a run: a hang", flush=True)
                break
            (OUT / "starved").mkdir(parents=True, exist_ok=True)
            slow.rename(OUT / "starved" / slow.name)
            starved.append({"input": slow.name, "cpu_seconds": round(cpu, 4)})
            code = 0
        elapsed = time.monotonic() - started
        total += runs
        cov = (first_cov[0], cov[1]) if first_cov and cov else None
        print(f"{target}: {runs} inputs in {elapsed:.0f} s ({runs / max(elapsed, 1e-9):.0f}/s), "
              f"coverage {'none: not instrumented' if cov is None else f'{cov[0]} -> {cov[1]}'}"
              f"{f', {len(starved)} stops for a core (not hangs)' if starved else ''}"
              f"{'' if code == 0 else ' FAILED'}", flush=True)
        if code != 0 or cov is None:
            failed.append(target)
            print("\n".join(log.splitlines()[-30:]))
        with open(OUT / "runs.jsonl", "a") as f:
            f.write(json.dumps({"target": target, "inputs": runs, "seconds": round(elapsed, 1), "ok": code == 0,
                                "coverage": cov, "starved": starved,
                                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    print(f"total: {total} inputs")
    return not failed


def smoke(targets, runs):
    failed = []
    for target in targets:
        # Every seed and committed regression input once, then a few thousand mutations of them.
        # -runs counts the new inputs; the corpus is read-only here (merged into a scratch copy).
        scratch = ROOT / ".build-fuzz" / "smoke" / target
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        code, executed, elapsed, log = libfuzzer(target, [f"-runs={runs}", str(scratch), *corpus_dirs(target, False)],
                                                 timeout=600)
        cov = coverage(log)
        print(f"{target}: {executed} inputs in {elapsed:.1f} s, coverage "
              f"{'none: not instrumented' if cov is None else f'{cov[0]} -> {cov[1]}'}{'' if code == 0 else ' FAILED'}",
              flush=True)
        if code != 0 or cov is None:
            failed.append(target)
            print("\n".join(log.splitlines()[-30:]))
    return not failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["seeds", "run", "smoke"])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--targets", nargs="*", default=TARGETS)
    args = parser.parse_args()
    if args.mode == "seeds" or not CORPUS.exists():
        make_seeds()
    if args.mode == "run":
        sys.exit(0 if run(args.seconds, args.targets) else 1)
    if args.mode == "smoke":
        sys.exit(0 if smoke(args.targets, args.runs) else 1)


if __name__ == "__main__":
    main()
