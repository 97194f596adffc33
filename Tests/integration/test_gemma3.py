"""Gemma 3 270M end to end through a real Jupyter client: one kernel with both bundled models
loaded, and every verb run on Gemma. Numbers that a reference gives are checked against the
committed transformers dump (Tests/TransformerTests/Fixtures/gemma3/reference.json, written by
scripts/make_gemma3_reference_fixtures.py on the same GGUF)."""
import json
import os
import subprocess

import numpy as np
import pytest
from jupyter_client.manager import start_new_kernel

from conftest import MODEL_PATH, PERISCOPE_HOME, ROOT, VND, displayed_payloads, payload_with, run_cell

GEMMA_PATH = PERISCOPE_HOME / "models" / "gemma-3-270m-q4_k_m.gguf"
REFERENCE = ROOT / "Tests" / "TransformerTests" / "Fixtures" / "gemma3" / "reference.json"
LAYERS = 18
SLOW = 600
COMPLETION = ROOT / ".build-llama" / "bin" / "llama-completion"

pytestmark = pytest.mark.skipif(not (GEMMA_PATH.exists() and MODEL_PATH.exists()),
                                reason="bundled models missing: run `make model`")


@pytest.fixture(scope="module")
def session():
    """One kernel for the whole module: SmolLM2 and Gemma 3 loaded, Gemma current."""
    km, kc = start_new_kernel(kernel_name="periscope", startup_timeout=60)
    setup = "\n".join([
        's = load "smollm2"',
        'g = load "gemma3-270m"',
        'p = prompt "The capital of Japan is"',
        'clean = prompt "The capital of Japan is"',
        'corrupt = prompt "The capital of France is"',
    ])
    reply, _ = run_cell(kc, setup, timeout=SLOW)
    assert reply["content"]["status"] == "ok", reply["content"]
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def result(kc, code, timeout=SLOW):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"].get("evalue"))
    results = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert len(results) == 1, code
    data = results[0]["content"]["data"]
    assert sum(len(str(v)) for v in data.values()) < 1_000_000, code
    payload = data[VND]
    return json.loads(payload) if isinstance(payload, str) else payload


def ok(kc, code, timeout=SLOW):
    """Runs a cell that displays nothing (an assignment) and checks it succeeded."""
    reply, _ = run_cell(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"].get("evalue"))


def all_payloads(kc, code, timeout=SLOW):
    """Every vnd payload the cell displays (display_data and execute_result), in order."""
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"].get("evalue"))
    return displayed_payloads(outputs)


def part(kc, code, key):
    return payload_with(all_payloads(kc, code), key)


def reference_case(text):
    cases = json.loads(REFERENCE.read_text())["cases"]
    return next(c for c in cases if c["text"] == text)


def long_prompt():
    return next(c for c in json.loads(REFERENCE.read_text())["cases"] if len(c["ids"]) > 512)["text"]


def test_models_lists_both_and_both_stay_loaded(session):
    _, kc = session
    table = result(kc, "models")
    rows = {m["name"]: m for m in table["models"]}
    assert rows["smollm2"]["loaded"] and rows["gemma3-270m"]["loaded"]
    assert table["current"] == "gemma3-270m"
    assert result(kc, 'use s\nrun "The capital of Japan is" top 1')["top"]["ids"]
    reply, _ = run_cell(kc, "use g")
    assert reply["content"]["status"] == "ok"
    hooks = result(kc, "hooks layer 5")
    assert "blocks.5.ln1_post.hook_normalized" in hooks["names"]
    assert "blocks.5.ln2_post.hook_normalized" in hooks["names"]


def test_run_and_generate_match_transformers(session):
    _, kc = session
    ref = reference_case("The capital of Japan is")
    run = result(kc, "run p top 5")
    assert run["top"]["ids"][0] == ref["greedy"][0] == ref["topIds"][-1][0]
    gen = result(kc, "generate p max 10")
    assert gen["ids"] == ref["greedy"], gen


def test_lens_last_layer_is_the_model(session):
    _, kc = session
    lens = result(kc, "lens p layers all positions all")
    assert lens["shape"][0] == LAYERS
    run = result(kc, "run p top 1")
    assert lens["top"]["ids"][LAYERS - 1][-1][0] == run["top"]["ids"][0]
    assert abs(lens["values"][LAYERS - 1][-1] - run["top"]["probs"][0]) < 1e-3


def test_attention_shows_the_sliding_window(session):
    _, kc = session
    ok(kc, f'long = prompt "{long_prompt()}"')
    # Layer 0 is local (window 512): the last queries give the oldest keys no weight; layer 5 is
    # global and its last queries weigh the first tokens (the attention sink).
    local = result(kc, "attention long layer 0 head 0")
    glob = result(kc, "attention long layer 5 head 0")
    assert local["values"][-1][0] == 0
    assert glob["values"][-1][0] > 0
    for row in local["values"]:
        assert abs(max(row)) <= 1


def test_patch_and_patchscope(session):
    _, kc = session
    patch = result(kc, "patch source p layer 6 position -1 into identity top 3")
    assert patch["mode"] == "top" and len(patch["ids"]) == 3
    sweep = result(kc, "patchscope p position -1 target identity layers all generate 3")
    assert sweep["layers"] == list(range(LAYERS))
    assert len(sweep["ids"]) == LAYERS and all(len(ids) == 3 for ids in sweep["ids"])


def test_trace_both_kinds(session):
    _, kc = session
    trace = result(kc, 'trace clean corrupt answer " Tokyo" hook resid_pre layers all')
    assert trace["shape"][0] == LAYERS
    values = trace["values"]
    japan = next(i for i, t in enumerate(trace["column_labels"]) if "Japan" in t)
    # Restoring " Japan" before block 0 gives the clean run; an identical position changes nothing.
    assert abs(values[0][japan] - 1) < 1e-3
    assert all(abs(values[0][p]) < 1e-3 for p in range(japan))
    assert trace["clean_metric"] > trace["corrupt_metric"]
    noise = result(kc, 'trace clean noise "Japan" answer " Tokyo" samples 2 seed 1 layers 0..3')
    assert noise["shape"][0] == 4


def test_direction_steer_probe(session):
    _, kc = session
    v = result(kc, 'v = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 6\nv')
    assert len(v["values"]) == 640
    steer = result(kc, 'steer "I think dogs are" with v layer 6 scales [0, 8] generate 4')
    plain = result(kc, 'generate "I think dogs are" max 4')
    assert steer["scales"][0] == 0
    assert steer["ids"][0] == plain["ids"]
    ok(kc, 'd = dataset [["I loved it", "pos"], ["I hated it", "neg"], ["Wonderful", "pos"], ["Awful", "neg"], '
               '["Great fun", "pos"], ["Terrible", "neg"], ["So good", "pos"], ["So bad", "neg"]]')
    probe = part(kc, "probe d layers 0..17 split 0.5 seed 1", "test_accuracy")
    assert probe["layers"] == list(range(LAYERS))
    assert all(0 <= a <= 1 for a in probe["test_accuracy"])


def test_attribute_compare_stability_project(session):
    _, kc = session
    attribution = part(kc, 'attribute p answer " Tokyo"', "importance")
    assert len(attribution["importance"]) == len(reference_case("The capital of Japan is")["ids"])
    compare = part(kc, 'compare "The capital of Japan is" "The capital of France is" top 5', "kl_p1_p2")
    assert compare["kl_p1_p2"] > 0 and compare["kl_p2_p1"] > 0
    stability = part(kc, "stability p layers 0..3 noise 0.1 samples 4 seed 1", "kept")
    assert stability["layers"] == [0, 1, 2, 3]
    assert all(0 <= k <= 1 for k in stability["kept"])
    project = part(kc, 'project ["cat", "dog", "car", "bus"] layer 6', "projections")
    assert len(project["projections"]) == 4


def test_export_npy_and_control_vector(session, tmp_path):
    _, kc = session
    gguf = pytest.importorskip("gguf")
    t = len(reference_case("The capital of Japan is")["ids"])
    post = tmp_path / "post.npy"
    attn = tmp_path / "attn.npy"
    all_payloads(kc, f'export p hook "blocks.3.ln1_post.hook_normalized" to "{post}"')
    all_payloads(kc, f'export p hook "blocks.3.hook_attn_out" to "{attn}"')
    a, b = np.load(post), np.load(attn)
    assert a.shape == (t, 640)
    np.testing.assert_array_equal(a, b)     # the post-attention norm's output is what is added
    path = tmp_path / "love.gguf"
    all_payloads(kc, f'export v to "{path}"')
    reader = gguf.GGUFReader(str(path))
    hint = reader.fields["controlvector.model_hint"]
    assert bytes(hint.parts[hint.data[0]]).decode() == "gemma3"
    assert [t.name for t in reader.tensors] == ["direction.6"]
    assert np.asarray(reader.tensors[0].data).size == 640


def llama_completion(prompt, tokens, control_vector=None):
    """llama.cpp's greedy continuation of `prompt` on the Gemma file, the control vector (path,
    scale) applied by llama.cpp's own loader when given."""
    command = [str(COMPLETION), "-m", str(GEMMA_PATH), "-p", prompt, "-n", str(tokens), "--temp", "0",
               "-t", "2", "--no-warmup", "--no-display-prompt", "--simple-io", "-no-cnv", "--seed", "1"]
    if control_vector:
        command += ["--control-vector-scaled", f"{control_vector[0]}:{control_vector[1]}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.rstrip("\n")     # it ends its output with a line break of its own


def common_prefix(a, b):
    return len(os.path.commonprefix([a, b]))


@pytest.mark.skipif(not COMPLETION.exists(), reason="llama-completion not built: run `make llama`")
def test_llama_cpp_steers_with_the_exported_control_vector_as_steer_does(session, tmp_path):
    """The exported control vector means in llama.cpp what the vector means to `steer`: llama.cpp's
    greedy continuation with the file applied follows ours with the vector added at the same layer,
    far closer than with the same vector written one layer off (direction.5 or .7), and all differ
    from the unsteered one. The two runtimes' greedy paths part at a near-tie at some scales (2 and
    3 here, 0.5 and 2 on another CPU: the F32 rounding of their products differs), so exact
    agreement is asked only at scale 1; at 4 and 6 the file one layer off already parts at the
    first tokens."""
    gguf = pytest.importorskip("gguf")
    _, kc = session
    prompt, n, scales = "I think dogs are", 8, (1, 4, 6)
    ok(kc, 'w = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 6')
    path = tmp_path / "w.gguf"
    all_payloads(kc, f'export w to "{path}"')
    steer = result(kc, f'steer "{prompt}" with w layer 6 scales [0, {", ".join(map(str, scales))}] generate {n}')
    plain, *steered = (text.rstrip("\n") for text in steer["continuations"])
    assert llama_completion(prompt, n) == plain
    assert all(ours != plain for ours in steered)
    reader = gguf.GGUFReader(str(path))
    assert [t.name for t in reader.tensors] == ["direction.6"]
    vector = np.asarray(reader.tensors[0].data, dtype=np.float32)
    files = {6: path}
    for layer in (5, 7):
        files[layer] = tmp_path / f"w{layer}.gguf"
        writer = gguf.GGUFWriter(str(files[layer]), "controlvector")
        writer.add_string("controlvector.model_hint", "gemma3")
        writer.add_uint32("controlvector.layer_count", 1)
        writer.add_tensor(f"direction.{layer}", vector)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    theirs = {layer: [llama_completion(prompt, n, (file, scale)) for scale in scales] for layer, file in files.items()}
    assert theirs[6][0] == steered[0], (theirs[6][0], steered[0])
    agreement = {layer: sum(map(common_prefix, texts, steered)) for layer, texts in theirs.items()}
    assert agreement[6] > max(agreement[5], agreement[7]), (agreement, theirs, steered)


def test_gradient_verbs(session):
    _, kc = session
    t = len(reference_case("The capital of Japan is")["ids"])
    grad = part(kc, 'gradient p answer " Tokyo" hook "blocks.6.ln1_post.hook_normalized"', "shape")
    assert grad["shape"] == [t, 640]
    saliency = part(kc, 'attribute p answer " Tokyo" method saliency', "scores")
    assert len(saliency["scores"]) == t and max(saliency["scores"]) > 0
    trace = result(kc, 'trace clean corrupt answer " Tokyo" hook resid_pre layers all method attribution')
    assert trace["shape"][0] == LAYERS


CROSS_TEXTS = [
    "The river runs past the old mill and under a stone bridge.",
    "Her grandmother kept bees behind the house for forty years.",
    "A cold wind came down from the hills before the first snow.",
    "He bought two loaves of bread and a jar of honey at the market.",
    "The orchestra tuned their instruments while the hall filled up.",
    "Most of the island is covered by a thick tropical forest.",
    "The lawyer read the contract twice before she signed it.",
    "Trains to the coast leave every hour from the central station.",
    "The museum's new wing displays paintings from the last century.",
    "Our neighbour fixed the fence after the storm knocked it down.",
    "The recipe calls for butter, sugar, three eggs and some flour.",
    "Astronomers watched the comet for weeks as it neared the sun.",
]


@pytest.mark.parametrize("src,src_layer,dst,dst_layer,src_width,dst_width",
                         [("s", 20, "g", 12, 576, 640), ("g", 12, "s", 20, 640, 576)],
                         ids=["smollm2->gemma3", "gemma3->smollm2"])
def test_cross_model_map_and_patch(session, src, src_layer, dst, dst_layer, src_width, dst_width):
    """A map between the two bundled models (576 and 640 numbers wide) fits on the texts given,
    reports held-out scores, and carries a patch across; without a map the widths are refused."""
    _, kc = session
    texts = ", ".join(f'"{t}"' for t in CROSS_TEXTS)
    fitted = result(kc, f"X = fit map {src} layer {src_layer} to {dst} layer {dst_layer} on [{texts}] split 0.75\nX")
    assert (fitted["input_dim"], fitted["output_dim"]) == (src_width, dst_width)
    assert fitted["forward_passes"] == 2 * len(CROSS_TEXTS)
    assert fitted["held_out"] > 0 and fitted["pairs"] > fitted["held_out"]
    # 9 short texts (~100 pairs) under-determine a 576 x 640 map: held-out R² is reported, not good.
    assert fitted["r2"] < 1, fitted["r2"]
    assert 0 < fitted["mean_cosine"] <= 1
    source = '"The Colosseum is located in the city of"'
    patched = result(kc, f"patch source {source} model {src} layer {src_layer} position -1 "
                         f"into identity model {dst} layer {dst_layer} map X top 3")
    assert patched["mapped"] is True and len(patched["ids"]) == 3
    assert patched["model"] == {"s": "smollm2", "g": "gemma3-270m"}[dst]
    reply, _ = run_cell(kc, f"patch source {source} model {src} layer {src_layer} position -1 into identity model {dst} layer {dst_layer}")
    assert reply["content"]["status"] == "error"
    message = reply["content"]["evalue"]
    assert str(src_width) in message and str(dst_width) in message and "map" in message, message
