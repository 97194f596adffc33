"""The model verbs (the "Models" and "Prompts and runs" groups of `help`) through a real Jupyter client on the
default model: load, models, hooks, prompt/tokens, run, generate, cache, clear cache, export.

Expected token ids, top-1 tokens and the greedy continuation come from Hugging Face transformers
on the same GGUF file: `scripts/make_model_verbs_reference.py` wrote model_verbs_reference.json."""
import json
import pathlib
import time

import numpy as np
import pytest

from conftest import VND, collect_iopub, run_cell, requires_model

REFERENCE = json.loads((pathlib.Path(__file__).parent / "model_verbs_reference.json").read_text())

pytestmark = requires_model()


def ok(kc, code, timeout=120):
    """Runs a cell that must succeed; returns its outputs."""
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"])
    return outputs


def result(outputs):
    """The execute_result's data."""
    results = [o["content"]["data"] for o in outputs if o["msg_type"] == "execute_result"]
    assert results, outputs
    return results[-1]


def error(kc, code):
    """Runs a cell that must fail; returns (ename, evalue, traceback text)."""
    reply, outputs = run_cell(kc, code, timeout=120)
    content = reply["content"]
    assert content["status"] == "error", (code, content)
    assert any(o["msg_type"] == "error" for o in outputs), outputs
    return content["ename"], content["evalue"], "\n".join(content["traceback"])


@pytest.fixture
def loaded(kernel):
    _, kc = kernel
    ok(kc, 'm = load "smollm2"')
    return kc


def test_load_shows_the_model_card_and_reuses_the_model(loaded):
    kc = loaded
    card = result(ok(kc, "m"))
    fields = card[VND]["fields"]
    assert card[VND]["kind"] == "model"
    assert fields["architecture"] == "llama"
    assert fields["layers"] == "30"
    assert fields["d_model"] == "576"
    assert fields["heads"].startswith("9")
    assert fields["kv heads"] == "3"
    assert fields["vocab"] == "49152"
    assert "Q4_1" in fields["quantisation"] and "Q8_0" in fields["quantisation"]
    for key in ("parameters", "resident memory", "load time"):
        assert fields[key], key
    numbers = card[VND]["model"]
    assert numbers["parameters"] > 130_000_000
    assert numbers["tensor_types"]["Q8_0"] == 1
    assert "d_model" in card["text/plain"] and "<table" in card["text/html"]

    again = result(ok(kc, 'load "smollm2"'))
    assert again[VND]["model"]["reused"] is True
    models = result(ok(kc, "models"))[VND]["models"]
    assert [m["name"] for m in models if m["current"]] == ["smollm2"]
    assert sum(1 for m in models if m["loaded"]) == 1


def test_hooks_lists_transformer_lens_names(loaded):
    names = result(ok(loaded, "hooks layer 7"))[VND]["names"]
    assert "blocks.7.hook_resid_pre" in names and "blocks.7.attn.hook_pattern" in names
    assert len(names) == 15


def test_tokens_equal_the_reference_tokenizer(loaded):
    kc = loaded
    for case in REFERENCE["factual"]:
        data = result(ok(kc, f'tokens "{case["text"]}"'))[VND]
        assert data["ids"] == case["ids"], case["text"]
        assert len(data["tokens"]) == len(case["ids"])
    chat = REFERENCE["chat"]
    data = result(ok(kc, f'p = prompt "{chat["text"]}" chat\ntokens p'))[VND]
    assert data["ids"] == chat["ids"]
    assert data["chat"] is True


def test_run_top1_matches_transformers(loaded):
    kc = loaded
    for case in REFERENCE["factual"]:
        data = result(ok(kc, f'run "{case["text"]}" top 5'))[VND]
        top = data["top"]
        assert data["prompt"]["ids"] == case["ids"]
        assert top["ids"][0] == case["top1_id"], (case["text"], top["tokens"][:3], case["top1_token"])
        assert top["probs"][0] == pytest.approx(case["top1_prob"], abs=2e-3), case["text"]
        assert top["probs"] == sorted(top["probs"], reverse=True)
    cache = result(ok(kc, "cache"))[VND]
    assert len(cache["entries"]) == len(REFERENCE["factual"])
    assert cache["total_bytes"] > 0 and cache["budget_bytes"] == 2 << 30 and cache["model_bytes"] > 0


def test_generate_greedy_matches_transformers(loaded):
    kc = loaded
    greedy = REFERENCE["greedy"]
    n = len(greedy["new_ids"])
    data = result(ok(kc, f'generate "{greedy["text"]}" max {n}'))[VND]
    assert data["prompt"]["ids"] == greedy["ids"]
    assert data["ids"] == greedy["new_ids"]
    assert data["tokens_per_second"] > 0
    assert data["text"].startswith(" Paris")


def test_export_then_numpy_load_matches_run(loaded, tmp_path):
    kc = loaded
    text = REFERENCE["factual"][0]["text"]
    data = result(ok(kc, f'p = prompt "{text}"\nrun p'))[VND]
    hidden = data["final_hidden"]
    target = tmp_path / "final.npy"
    exported = result(ok(kc, f'export p hook "{hidden["hook"]}" to "{target}"'))[VND]
    array = np.load(target)
    positions = len(data["prompt"]["ids"])
    assert array.dtype == np.float32
    assert array.shape == (positions, 576) == tuple(exported["shape"])
    np.testing.assert_allclose(array[hidden["position"]], np.array(hidden["values"], dtype=np.float64), rtol=1e-6, atol=1e-6)

    resid = tmp_path / "resid.npy"
    ok(kc, f'export p hook "blocks.3.hook_resid_post" to "{resid}"')
    assert np.load(resid).shape == (positions, 576)
    pattern = tmp_path / "pattern.npy"
    ok(kc, f'export p hook "blocks.0.attn.hook_pattern" to "{pattern}"')
    probs = np.load(pattern)
    assert probs.shape == (positions, 9, positions)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(np.triu(probs.transpose(1, 0, 2), k=1) == 0), "causal: no attention to later positions"


def test_errors_leave_the_session_intact(loaded, tmp_path):
    kc = loaded
    ok(kc, 'keep = 41\np = prompt "The capital of France is"\nrun p')
    missing = tmp_path / "nope.gguf"
    ename, evalue, traceback = error(kc, f'load "{missing}"')
    assert ename == "GGUFError" and str(missing) in evalue
    assert "line 1" in traceback
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"not a model at all")
    _, evalue, _ = error(kc, f'load "{corrupt}"')
    assert str(corrupt) in evalue and "not a GGUF file" in evalue
    _, evalue, _ = error(kc, 'prompt ""')
    assert "prompt is empty" in evalue
    _, evalue, _ = error(kc, 'run ""')
    assert "prompt is empty" in evalue
    _, evalue, _ = error(kc, f'export p hook "blocks.3.hook_resid_pots" to "{tmp_path / "x.npy"}"')
    assert "did you mean `blocks.3.hook_resid_post`" in evalue
    _, evalue, _ = error(kc, 'generate p temperature -1')
    assert "temperature" in evalue

    assert result(ok(kc, "keep"))["text/plain"] == "41"
    data = result(ok(kc, "run p top 3"))[VND]
    assert data["top"]["tokens"][0] == " Paris"
    assert [m["name"] for m in result(ok(kc, "models"))[VND]["models"] if m["current"]] == ["smollm2"]


def test_cache_budget_and_clear(loaded):
    kc = loaded
    ok(kc, 'run "one two three four five six seven eight"\nrun "nine ten eleven twelve thirteen"')
    assert len(result(ok(kc, "cache"))[VND]["entries"]) == 2
    data = result(ok(kc, "cache budget 0"))[VND]
    assert data["entries"] == [] and data["budget_bytes"] == 0
    data = result(ok(kc, 'cache budget 64\nrun "one two"\ncache'))[VND]
    assert len(data["entries"]) == 1
    outputs = ok(kc, "clear cache")
    assert any(o["msg_type"] == "stream" and "cleared 1 cached prompt" in o["content"]["text"] for o in outputs)
    assert result(ok(kc, "cache"))[VND]["entries"] == []


def test_long_generate_shows_progress_and_stops_on_interrupt(kernel):
    km, kc = kernel
    ok(kc, 'keep = 41\nm = load "smollm2"')
    msg_id = kc.execute('generate "Once upon a time" max 2000')
    time.sleep(2.5)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    outputs = collect_iopub(kc, msg_id)
    bars = [o for o in outputs if o["msg_type"] in ("display_data", "update_display_data")
            and o["content"].get("transient", {}).get("display_id", "").startswith("periscope-progress-")]
    assert bars, [o["msg_type"] for o in outputs]
    assert any(o["msg_type"] == "update_display_data" for o in bars)
    assert result(ok(kc, "keep"))["text/plain"] == "41"
    data = result(ok(kc, 'generate "The capital of France is" max 3'))[VND]
    assert data["text"].startswith(" Paris")
