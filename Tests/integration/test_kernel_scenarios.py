"""Kernel behaviour through a real jupyter_client, including forged, malformed and cancelled
requests."""
import hashlib
import hmac
import json
import signal
import time
import uuid

import pytest
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

from conftest import KERNEL_NAME, TIMEOUT, collect_iopub, run_cell


def get_reply(channel, msg_id, timeout=TIMEOUT):
    while True:
        msg = channel.get_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def test_status_busy_idle_around_kernel_info(kernel):
    _, kc = kernel
    msg_id = kc.kernel_info()
    reply = get_reply(kc.shell_channel, msg_id)
    assert reply["content"]["language_info"]["name"] == "periscope"
    assert reply["content"]["language_info"]["file_extension"] == ".scope"
    assert reply["content"]["language_info"]["mimetype"] == "text/x-periscope"
    assert reply["content"]["protocol_version"].split(".")[0] == "5"
    states = []
    while len(states) < 2:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status":
            states.append(msg["content"]["execution_state"])
    assert states == ["busy", "idle"]


def test_variables_survive_errors(kernel):
    _, kc = kernel
    reply, _ = run_cell(kc, "keep = 41")
    assert reply["content"]["status"] == "ok"
    for bad in ["x = [1,", "lens nothing layers 99", 'print "unterminated', "frobnicate 1", "x = ]"]:
        reply, outputs = run_cell(kc, bad)
        assert reply["content"]["status"] == "error", bad
        errors = [o for o in outputs if o["msg_type"] == "error"]
        assert errors, bad
        assert "line" in "\n".join(errors[0]["content"]["traceback"]).lower(), bad
    reply, outputs = run_cell(kc, "keep")
    assert reply["content"]["status"] == "ok"
    results = [o for o in outputs if o["msg_type"] == "execute_result"]
    assert results and results[0]["content"]["data"]["text/plain"] == "41"


def test_error_names_line_column_and_suggests(kernel):
    _, kc = kernel
    reply, outputs = run_cell(kc, 'print "ok"\nhelp\nshwo 3')
    assert reply["content"]["status"] == "error"
    text = "\n".join(reply["content"]["traceback"])
    assert "line 3" in text and "column 1" in text
    assert "show" in text  # did you mean `show`?
    streams = [o for o in outputs if o["msg_type"] == "stream"]
    assert streams and "ok" in streams[0]["content"]["text"]  # earlier statements ran


def test_execution_count_and_silent(kernel):
    _, kc = kernel
    r1, _ = run_cell(kc, "1")
    r2, out2 = run_cell(kc, "2", silent=True)
    r3, _ = run_cell(kc, "3", store_history=False)
    r4, _ = run_cell(kc, "4")
    assert r4["content"]["execution_count"] == r1["content"]["execution_count"] + 1
    assert out2 == []  # silent: nothing on iopub but busy/idle


def test_user_expressions(kernel):
    _, kc = kernel
    run_cell(kc, "answer = 42")
    reply, _ = run_cell(kc, "", user_expressions={"a": "answer", "b": "nosuchname"})
    ue = reply["content"]["user_expressions"]
    assert ue["a"]["status"] == "ok" and ue["a"]["data"]["text/plain"] == "42"
    assert ue["b"]["status"] == "error"


def test_stop_on_error_aborts_queued(kernel):
    _, kc = kernel
    ids = [kc.execute("frobnicate 1"), kc.execute("queued = 1"), kc.execute("queued")]
    replies = {}
    while len(replies) < 3:
        msg = kc.get_shell_msg(timeout=TIMEOUT)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    assert [replies[i] for i in ids] == ["error", "aborted", "aborted"]
    reply, _ = run_cell(kc, "queued")
    assert reply["content"]["status"] == "error"  # never bound


def test_stop_on_error_false_keeps_queue(kernel):
    _, kc = kernel
    ids = [kc.execute("frobnicate 1", stop_on_error=False), kc.execute("kept = 1")]
    replies = {}
    while len(replies) < 2:
        msg = kc.get_shell_msg(timeout=TIMEOUT)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    assert [replies[i] for i in ids] == ["error", "ok"]


def forged_send(kc, key, msg_type, content, channel="shell"):
    session = Session(key=key, username="mallory")
    socket = getattr(kc, f"{channel}_channel").socket
    msg = session.msg(msg_type, content)
    session.send(socket, msg)
    return msg["header"]["msg_id"]


def test_mis_signed_request_never_executes(kernel):
    km, kc = kernel
    forged_send(kc, b"not-the-key", "execute_request",
                {"code": "forged = 1", "silent": False, "store_history": True,
                 "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    time.sleep(0.5)
    reply, _ = run_cell(kc, "forged")
    assert reply["content"]["status"] == "error"
    assert km.is_alive()


def test_malformed_frames_are_dropped(kernel):
    km, kc = kernel
    socket = kc.shell_channel.socket
    key = km.session.key
    header = json.dumps({"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "u",
                         "session": uuid.uuid4().hex, "date": "2026-01-01T00:00:00Z",
                         "version": "5.3"}).encode()
    for frames in (
        [b"<IDS|MSG>", b"", header, b"{", b"{}", b"{not json"],  # bad JSON, bad signature
        [b"<IDS|MSG>"],  # too few frames
        [b"garbage"],  # no delimiter
    ):
        socket.send_multipart(frames)
    # Correctly signed but broken JSON content.
    parts = [header, b"{}", b"{}", b"{not json"]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        mac.update(p)
    socket.send_multipart([b"<IDS|MSG>", mac.hexdigest().encode(), *parts])
    time.sleep(0.5)
    assert km.is_alive()
    reply, _ = run_cell(kc, "7")
    assert reply["content"]["status"] == "ok"


def test_wrong_typed_fields_get_error_reply(kernel):
    km, kc = kernel
    msg_id = forged_send(kc, km.session.key, "execute_request", {"code": 12, "silent": "no"})
    reply = get_reply(kc.shell_channel, msg_id)
    assert reply["content"]["status"] == "error"
    assert km.is_alive()


def test_unknown_message_type(kernel):
    km, kc = kernel
    msg_id = forged_send(kc, km.session.key, "frobnicate_request", {})
    reply = get_reply(kc.shell_channel, msg_id)
    assert reply["content"]["status"] == "error"
    assert km.is_alive()


def test_interrupt_message_stops_long_command(kernel):
    km, kc = kernel
    run_cell(kc, "kept = 5")
    msg_id = kc.execute("sleep 30")
    time.sleep(1.5)
    start = time.monotonic()
    km.interrupt_kernel()  # interrupt_mode "message": an interrupt_request on control
    reply = get_reply(kc.shell_channel, msg_id)
    elapsed = time.monotonic() - start
    assert reply["content"]["status"] == "error"
    assert elapsed < 2.0, elapsed
    reply, outputs = run_cell(kc, "kept")
    assert reply["content"]["status"] == "ok"


def test_sigint_stops_long_command(kernel):
    km, kc = kernel
    msg_id = kc.execute("sleep 30")
    time.sleep(1.0)
    start = time.monotonic()
    km.signal_kernel(signal.SIGINT)
    reply = get_reply(kc.shell_channel, msg_id)
    assert reply["content"]["status"] == "error"
    assert time.monotonic() - start < 2.0
    assert km.is_alive()
    reply, _ = run_cell(kc, "1")
    assert reply["content"]["status"] == "ok"


def test_progress_bar_for_long_command(kernel):
    _, kc = kernel
    reply, outputs = run_cell(kc, "sleep 1.6")
    assert reply["content"]["status"] == "ok"
    displays = [o for o in outputs if o["msg_type"] == "display_data"]
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert displays and updates
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    assert len(updates) <= 10 * 1.6 + 2  # at most 10 updates a second


def test_heartbeat_while_busy(kernel):
    km, kc = kernel
    msg_id = kc.execute("sleep 2")
    time.sleep(0.5)
    assert kc.hb_channel.is_beating()
    get_reply(kc.shell_channel, msg_id)


def test_control_answers_while_busy(kernel):
    _, kc = kernel
    msg_id = kc.execute("sleep 2")
    time.sleep(0.3)
    start = time.monotonic()
    session = kc.session
    msg = session.msg("kernel_info_request", {})
    kc.control_channel.send(msg)
    reply = get_reply(kc.control_channel, msg["header"]["msg_id"])
    assert reply["content"]["status"] == "ok"
    assert time.monotonic() - start < 1.0  # answered while the cell still runs
    get_reply(kc.shell_channel, msg_id)


def test_shutdown_with_restart_and_history_persists():
    km = KernelManager(kernel_name=KERNEL_NAME)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    marker = f"marker_{uuid.uuid4().hex[:8]} = 1"
    run_cell(kc, marker)
    msg_id = kc.shutdown(restart=True)
    reply = get_reply(kc.control_channel, msg_id)
    assert reply["content"]["status"] == "ok" and reply["content"]["restart"] is True
    deadline = time.monotonic() + 10
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not km.is_alive()  # the kernel exits; the manager restarts it
    kc.stop_channels()
    km.restart_kernel(now=True)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        msg_id = kc.history(hist_access_type="tail", n=50, output=False, raw=True)
        reply = get_reply(kc.shell_channel, msg_id)
        assert marker in [h[2] for h in reply["content"]["history"]]
        reply, _ = run_cell(kc, marker.split(" = ")[0])
        assert reply["content"]["status"] == "error"  # a new process: variables are gone
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_curve_encryption_required():
    km = KernelManager(kernel_name=KERNEL_NAME, transport_encryption="required")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        assert km.curve_publickey is not None
        reply, outputs = run_cell(kc, 'print "secret hello"')
        assert reply["content"]["status"] == "ok"
        assert any("secret hello" in o["content"].get("text", "") for o in outputs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
