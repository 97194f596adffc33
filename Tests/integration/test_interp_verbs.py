"""The interpretability verbs (lens, attention, patch, patchscope, trace) through the installed kernel:
the numbers behind each display (application/vnd.periscope.v1+json) must satisfy facts that hold for
any correct implementation, errors must say what to do, and an interrupt must stop a sweep."""
import json
import time

import pytest

from conftest import VND, requires_model, run_cell


pytestmark = requires_model()


@pytest.fixture(scope="module")
def session():
    """One kernel with the model and the prompts loaded, shared by this module's tests."""
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="periscope", startup_timeout=60)
    setup = '\n'.join([
        'm = load "smollm2"',
        'p = prompt "The Eiffel Tower is in the city of"',
        'clean = prompt "The capital of France is"',
        'corrupt = prompt "The capital of Italy is"',
    ])
    reply, _ = run_cell(kc, setup, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def result(kc, code, timeout=120):
    """The parsed vnd payload of the cell's execute_result; fails on an error reply."""
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"].get("evalue"))
    results = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert len(results) == 1, code
    data = results[0]["content"]["data"]
    assert "text/plain" in data and "application/json" not in data
    assert sum(len(str(v)) for v in data.values()) < 1_000_000
    payload = data[VND]
    return json.loads(payload) if isinstance(payload, str) else payload


def error(kc, code):
    reply, _ = run_cell(kc, code)
    assert reply["content"]["status"] == "error", code
    return reply["content"]["evalue"]


# MARK: - lens


def test_lens_shape_labels_and_agreement_with_run(session):
    _, kc = session
    lens = result(kc, "lens p layers all positions all")
    assert lens["shape"] == [30, 9]
    assert lens["row_labels"][0] == "0" and lens["row_labels"][-1] == "29"
    assert lens["column_labels"][-1].endswith("of")
    assert len(lens["cell_text"]) == 30 and len(lens["cell_text"][0]) == 9
    run = result(kc, "run p top 3")
    # The lens at the last layer's output is the model's own next-token distribution.
    assert lens["top"]["ids"][29][8][0] == run["top"]["ids"][0]
    assert abs(lens["values"][29][8] - run["top"]["probs"][0]) < 1e-3
    assert all(0 < v <= 1 for row in lens["values"] for v in row)


def test_lens_one_position_is_top_k_table(session):
    _, kc = session
    table = result(kc, "lens p layers 25..29 positions -1 top 3")
    assert table["kind"] == "logit_lens_top"
    assert table["shape"][0] == 5
    for layer in table["top"]["probs"]:
        assert layer[0] == sorted(layer[0], reverse=True)


# MARK: - attention


def test_attention_rows_are_causal_distributions(session):
    _, kc = session
    one = result(kc, "attention p layer 2 head 4")
    assert one["shape"] == [9, 9]
    for q, row in enumerate(one["values"]):
        assert abs(sum(row) - 1) < 1e-4
        assert all(v == 0 for v in row[q + 1:])
    grid = result(kc, "attention p layer 2")
    assert len(grid["panels"]) == 9
    assert grid["panels"][4]["values"] == one["values"]


# MARK: - patching


def test_trace_is_one_where_the_clean_token_is_restored_first(session):
    _, kc = session
    trace = result(kc, 'trace clean corrupt answer " Paris" hook resid_pre layers all')
    assert trace["shape"] == [30, 5]
    values = trace["values"]
    # " France" vs " Italy" at position 3: restoring it before block 0 gives the clean run (1.0),
    # restoring an identical position changes nothing (0.0).
    assert abs(values[0][3] - 1) < 1e-3
    assert all(abs(values[0][p]) < 1e-3 for p in (0, 1, 2))
    assert trace["clean_metric"] > trace["corrupt_metric"]


def test_patchscope_sweep_shape(session):
    _, kc = session
    sweep = result(kc, "patchscope p position -1 target identity layers all generate 5")
    assert sweep["layers"] == list(range(30))
    assert len(sweep["ids"]) == 30 and all(len(ids) == 5 for ids in sweep["ids"])
    assert sweep["target"]["tokens"][sweep["target"]["position"]].strip() == "?"
    heat = sweep["items"][1]
    assert heat["shape"] == [1, 30]


def test_patch_single(session):
    _, kc = session
    patch = result(kc, 'patch source p layer 10 position -1 into identity top 3')
    assert patch["mode"] == "top" and len(patch["ids"]) == 3
    assert patch["probs"] == sorted(patch["probs"], reverse=True)


# MARK: - errors


def test_errors_say_what_to_do(session):
    _, kc = session
    text = error(kc, 'trace "The capital of France is" "The big capital city of Italy is" answer " Paris"')
    assert "5 tokens" in text and "has 7" in text and "same" in text
    text = error(kc, 'trace clean corrupt answer " Paris is"')
    assert "2 tokens" in text and "[·Paris][·is]" in text
    text = error(kc, "lens p layers 30")
    assert "0..29" in text
    text = error(kc, 'patchscope p position -1 target attribute "The capital city of France"')
    assert "placeholder" in text
    # The session survived every error.
    assert result(kc, "lens p layers 29 positions -1 top 2")["layers"] == [29]


# MARK: - interruption


def test_interrupt_stops_causal_tracing_quickly(session):
    km, kc = session
    msg_id = kc.execute('trace clean noise "France" answer " Paris" samples 200')
    time.sleep(1.5)
    start = time.monotonic()
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    elapsed = time.monotonic() - start
    assert reply["content"]["status"] == "error"
    assert elapsed < 0.5, elapsed
    assert result(kc, "lens p layers 29 positions -1 top 2")["layers"] == [29]


@pytest.mark.parametrize("code", [
    # mlp_out restorations of the last layer start past the last block: undoing that pass killed the kernel.
    'trace "The Louvre museum is located in the city of" "The Prado museum is located in the city of" answer " Paris" hook mlp_out',
    'patchscope "The Louvre museum is located in the city of" position -1 layers all generate 30',
])
def test_interrupt_mid_sweep_leaves_the_kernel_alive(session, code):
    km, kc = session
    msg_id = kc.execute(code)
    time.sleep(0.3)
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "error"
    assert km.is_alive()
    assert result(kc, "lens p layers 29 positions -1 top 2")["layers"] == [29]
