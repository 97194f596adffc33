"""Every kind of bad input, one table, through one real kernel: each gets an error that
names what was wrong and where, and afterwards every variable, model and cached prompt is still
there. Cells are checked through their error reply; wire messages, which have no one to answer,
through the kernel's log, and by the state staying as it was."""
import hashlib
import hmac
import json
import os
import time
import uuid

import pytest
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

from conftest import VND, KERNEL_NAME, TIMEOUT, requires_model, run_cell

PROMPT = "The Eiffel Tower is in the city of"

pytestmark = requires_model()


def cell_cases(tmp):
    """(name, code, words the error must contain): the words name what was wrong and where."""
    corrupt = tmp / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    truncated = tmp / "truncated.gguf"
    truncated.write_bytes(b"GGU")
    columns = tmp / "columns.csv"
    columns.write_text("sentence,score\nI loved it,1\nI hated it,0\n")
    missing = tmp / "no-such-model.gguf"
    return [
        ("syntax error", 'keep = 1\nx = [1,\n', ["line 2", "column"]),
        ("unterminated string", 'print "open', ["line 1", "column 7", "string"]),
        ("unknown verb", "lnes p", ["line 1", "column 1", "lnes", "lens"]),
        ("unknown keyword", "lens p layrs 3", ["line 1", "layrs", "layers"]),
        ("wrong kind of argument", 'lens p top "five"', ["line 1", "top", "int"]),
        ("layer out of range", "lens p layers 99", ["line 1", "99", "29"]),
        ("attention layer out of range", "attention p layer 30", ["line 1", "30", "29"]),
        ("position past the prompt", "lens p positions 40", ["line 1", "40"]),
        ("empty prompt", 'run ""', ["line 1", "empty"]),
        ("undefined variable", "run nowhere", ["line 1", "nowhere"]),
        ("missing GGUF", f'load "{missing}"', ["line 1", str(missing)]),
        ("corrupt GGUF", f'load "{corrupt}"', ["line 1", str(corrupt)]),
        ("truncated GGUF", f'load "{truncated}"', ["line 1", str(truncated)]),
        ("CSV without the needed columns", f'dataset "{columns}"', ["line 1", str(columns), "text", "label"]),
        ("missing CSV", f'dataset "{tmp / "none.csv"}"', ["line 1", "none.csv"]),
    ]


def signed_frames(key, header, content):
    parts = [header, b"{}", b"{}", content]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        mac.update(p)
    return [b"<IDS|MSG>", mac.hexdigest().encode(), *parts]


def header(msg_type="execute_request"):
    return json.dumps({"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "u",
                       "session": uuid.uuid4().hex, "date": "2026-01-01T00:00:00Z", "version": "5.3"}).encode()


def execute(code):
    return json.dumps({"code": code, "silent": False, "store_history": True, "user_expressions": {},
                       "allow_stdin": False, "stop_on_error": True}).encode()


def message_cases(key):
    """(name, frames, words the kernel's log must contain). None of them may run `bound = 1`."""
    return [
        ("bad signature", signed_frames(b"not-the-key", header(), execute("bound = 1")), ["signature"]),
        ("bad JSON content", signed_frames(key, header(), b'{"code": "bound = 1"'), ["content", "JSON"]),
        ("bad JSON header", signed_frames(key, b'{"msg_id": ', execute("bound = 1")), ["header", "JSON"]),
        ("header without msg_type", signed_frames(key, b'{"msg_id": "x"}', execute("bound = 1")), ["header"]),
        ("content not an object", signed_frames(key, header(), b"[1, 2]"), ["content", "object"]),
        ("too few frames", [b"<IDS|MSG>", b"", header()], ["frames"]),
        ("no delimiter", [b"bound = 1"], ["delimiter"]),
    ]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One kernel holding a variable, a model and a cached prompt; its log goes to a file."""
    log = tmp_path_factory.mktemp("log") / "kernel.log"
    stderr = open(log, "w")
    km = KernelManager(kernel_name=KERNEL_NAME)
    km.start_kernel(stderr=stderr)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    reply, _ = run_cell(kc, f'keep = 41\nm = load "smollm2"\np = prompt "{PROMPT}"\nrun p', timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    yield km, kc, log
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    stderr.close()


def result(kc, code):
    reply, outputs = run_cell(kc, code)
    assert reply["content"]["status"] == "ok", (code, reply["content"])
    return [o["content"]["data"] for o in outputs if o["msg_type"] == "execute_result"][-1]


def assert_state_intact(km, kc):
    assert km.is_alive()
    assert result(kc, "keep")["text/plain"] == "41"
    assert [m["name"] for m in result(kc, "models")[VND]["models"] if m["current"]] == ["smollm2"]
    entries = result(kc, "cache")[VND]["entries"]
    assert len(entries) == 1, entries
    reply, _ = run_cell(kc, "bound")
    assert reply["content"]["status"] == "error", "a rejected input ran"


def test_every_bad_cell_names_what_and_where(session, tmp_path):
    km, kc, _ = session
    failures = []
    for name, code, words in cell_cases(tmp_path):
        reply, outputs = run_cell(kc, code, timeout=120)
        content = reply["content"]
        if content["status"] != "error":
            failures.append(f"{name}: status {content['status']}")
            continue
        assert [o for o in outputs if o["msg_type"] == "error"], name
        text = "\n".join(content["traceback"])
        missing = [w for w in words if w.lower() not in text.lower()]
        if missing:
            failures.append(f"{name}: the error lacks {missing}:\n{text}")
        assert_state_intact(km, kc)
    assert not failures, "\n\n".join(failures)


def test_every_bad_message_is_dropped_and_logged(session):
    km, kc, log = session
    key = km.session.key
    socket = kc.shell_channel.socket
    failures = []
    for name, frames, words in message_cases(key):
        before = log.stat().st_size
        socket.send_multipart(frames)
        deadline = time.monotonic() + 5
        while log.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(log) as f:
            f.seek(before)
            logged = f.read()
        missing = [w for w in words if w.lower() not in logged.lower()]
        if missing:
            failures.append(f"{name}: the log lacks {missing}: {logged!r}")
        assert_state_intact(km, kc)
    assert not failures, "\n\n".join(failures)


def test_unknown_message_type_and_wrong_fields_get_error_replies(session):
    km, kc, _ = session
    sender = Session(key=km.session.key)
    for msg_type, content, words in [
        ("frobnicate_request", {}, ["frobnicate_request"]),
        ("execute_request", {"code": 12}, ["code", "string"]),
        ("history_request", {"hist_access_type": "sideways"}, ["hist_access_type", "tail", "range", "search"]),
    ]:
        msg = sender.msg(msg_type, content)
        sender.send(kc.shell_channel.socket, msg)
        while True:
            reply = kc.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                break
        assert reply["content"]["status"] == "error", msg_type
        text = json.dumps(reply["content"])
        assert all(w in text for w in words), (msg_type, reply["content"])
        assert_state_intact(km, kc)
