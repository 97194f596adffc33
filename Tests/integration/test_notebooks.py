"""Every notebook in examples/ executes top to bottom on the Periscope kernel with nbclient, with
no error output, and every display carries text/plain (SPEC §3)."""
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, requires_model

NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


@requires_model()
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_cleanly(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="periscope", timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
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
