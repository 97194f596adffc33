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
