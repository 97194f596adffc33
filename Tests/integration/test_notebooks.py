"""Every notebook in examples/ executes top to bottom on the Periscope kernel with nbclient, with
no error output, and every display carries text/plain (a front end that shows nothing else still
shows every result)."""
import functools
import pathlib
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, requires_model

NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


@functools.cache
def executed(path):
    """The notebook after running top to bottom (once per session: the tests below read it)."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="periscope", timeout=600, allow_errors=False,
                   resources={"metadata": {"path": tempfile.mkdtemp(prefix="nb-")}}).execute()
    return nb


@requires_model()
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_cleanly(path):
    nb = executed(path)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, "a notebook with no code"
    for cell in code_cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (cell.source, out)
            if out["output_type"] in ("execute_result", "display_data"):
                assert "text/plain" in out["data"], cell.source
                assert "application/json" not in out["data"], cell.source
                size = sum(len(str(v)) for v in out["data"].values())
                assert size < 1_000_000, (cell.source, size)


def periscope_items(cell):
    """The Periscope JSON items a code cell displayed, flattened."""
    items = []
    for out in cell.get("outputs", []):
        data = out.get("data", {}).get("application/vnd.periscope.v1+json")
        if data:
            items += data.get("items", [data])
    return items


@requires_model()
def test_probing_notebook_prose_matches_its_numbers():
    """examples/probing.ipynb draws conclusions from its tables; they must be what the tables show."""
    nb = executed(ROOT / "examples" / "probing.ipynb")
    probes = {}
    for cell in nb.cells:
        for item in periscope_items(cell):
            if item.get("kind") == "probe" and len(item["layers"]) > 1:
                probes[item["dataset"]] = item
    moods, facts = probes["moods"], probes["facts"]
    # A word that gives the label away: near-perfect at layer 0, the control near chance.
    assert moods["layers"][0] == 0 and moods["test_accuracy"][0] >= 0.9, moods["test_accuracy"]
    assert max(moods["control_accuracy"]) <= 0.65, moods["control_accuracy"]
    # The balanced truth design: below chance at layer 0, control near chance everywhere,
    # decodable from the middle layers ("from about layer 8").
    acc = dict(zip(facts["layers"], facts["test_accuracy"]))
    assert acc[0] < 0.5, acc[0]
    assert all(0.3 <= c <= 0.7 for c in facts["control_accuracy"]), facts["control_accuracy"]
    first = min(layer for layer, a in acc.items() if a >= 0.9)
    assert 6 <= first <= 10, acc
    assert all(a >= 0.9 for layer, a in acc.items() if layer >= 12), acc
    assert all(t >= 0.999 for layer, t in zip(facts["layers"], facts["train_accuracy"]) if layer >= 1)


def periscope_results(path):
    """(cell source, Periscope JSON) for every display of an executed notebook, in order."""
    results = []
    for cell in executed(path).cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("application/vnd.periscope.v1+json")
            if data:
                results.append((cell.source, data))
    return results


@requires_model()
def test_patchscopes_notebook_prose_matches_its_numbers():
    """examples/patchscopes.ipynb says which of the paper's effects show on these models; its
    verdicts must be what its outputs show."""
    results = periscope_results(ROOT / "examples" / "patchscopes.ipynb")
    by = lambda prefix: [d for source, d in results if source.startswith(prefix)]

    # §4.1: identity ahead of the logit lens at layers 1..28 (behind at 0); tuned lens ahead of
    # both up to layer 10; identity at least as good as the tuned lens from 11 on.
    (lenses,) = by("lenses")
    p = dict(zip(lenses["methods"], lenses["precision"]))
    logit, tuned, identity = p["logit lens"], p["tuned lens"], p["identity Patchscope"]
    assert lenses["layers"] == list(range(30)) and lenses["positions"] == 54
    assert logit[0] > identity[0]
    assert all(identity[l] > logit[l] for l in range(1, 29)), (identity, logit)
    assert all(tuned[l] > max(identity[l], logit[l]) for l in range(0, 11)), (tuned, identity, logit)
    assert all(identity[l] >= tuned[l] for l in range(11, 30)), (identity, tuned)
    assert identity[23] >= 0.85 and logit[23] <= 0.4

    # The Colosseum: " Rome" from layer 23 on through the identity target, only at 29 through the lens.
    sweep = by("c = prompt")[0]
    firsts = [tokens[0] for tokens in sweep["tokens"]]
    assert [l for l, t in zip(sweep["layers"], firsts) if t == " Rome"] == list(range(23, 30)), firsts
    assert " hello" in firsts[:15]
    (lens,) = by("lens c")
    top1 = [layer[0][0] for layer in lens["top"]["tokens"]]
    assert [l for l, t in enumerate(top1) if t == " Rome"] == [29], top1
    assert lens["top"]["tokens"][28][0][1] == " Rome"

    # Description: "Italian artist" through layer 13, nothing of him from 19 on.
    (description,) = by('patchscope "Leonardo')
    texts = description["texts"]
    assert "Italian city-state" in texts[0]
    assert all("Italian artist" in t for t in texts[1:14]), texts
    assert all("Italian" in t and "artist" not in t for t in texts[14:18]), texts
    assert all("Italian" not in t and "Leonardo" not in t and "artist" not in t for t in texts[19:]), texts

    # Attribute: no layer names France.
    (attribute,) = by('patchscope "The Eiffel Tower"')
    assert not any("France" in t for t in attribute["texts"]), attribute["texts"]

    # Cross-model, both directions: the city comes out; R² as quoted.
    maps = [d for source, d in results if d.get("kind") == "map"]
    assert [(m["source_model"], m["target_model"]) for m in maps] == [("smollm2", "gemma3-270m"), ("gemma3-270m", "smollm2")]
    assert [round(m["r2"], 2) for m in maps] == [0.35, 0.54]
    assert all(m["mean_cosine"] > 0.9 for m in maps)
    patches = [d for source, d in results if source.startswith("patch source")]
    assert [(d["model"], d["mapped"], d["tokens"][0]) for d in patches] == [
        ("gemma3-270m", True, " Rome"), ("gemma3-270m", True, " Paris"), ("smollm2", True, " Rome"), ("smollm2", True, " Paris")]

    # Multi-hop: answered already (" Rome", 0.39), and no layer's patch says Rome.
    two_hop, first_hop = by("run ")
    assert two_hop["top"]["tokens"][0] == " Rome" and round(two_hop["top"]["probs"][0], 2) == 0.39
    assert first_hop["top"]["tokens"][0] == " Italy"
    (multihop,) = by('patchscope "The Colosseum')
    assert not any("Rome" in t for t in multihop["texts"]), multihop["texts"]
