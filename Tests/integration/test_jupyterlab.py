"""The example notebooks as a person uses them: JupyterLab in headless Chromium, Run ▸ Run All
Cells, then what is on the page. Also `jupyter console` on one cell and `nbconvert` on the tour."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SCREENSHOTS, requires_model

NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
BIN = pathlib.Path(sys.executable).parent
# Verbs whose result is (or holds) a line chart, scatter plot or grid of heatmaps: SVG only.
CHART_VERBS = {"probe", "project", "stability", "lenses", "attention"}


def env():
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@requires_model()
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_all_cells_in_jupyterlab(path, lab, browser):
    from lab_browser import LabPage
    shutil.copy(path, lab.root / path.name)
    page = LabPage(browser, lab, path.name)
    page.run_all_from_menu()
    try:
        page.wait_until_idle()
    finally:
        page.screenshot(SCREENSHOTS / f"{path.stem}.png")
    prompts = page.prompts()
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    outputs = page.outputs()
    (SCREENSHOTS / f"{path.stem}.json").write_text(json.dumps(outputs, indent=1))
    assert outputs, "no output on the page"
    errors = [o for o in outputs if o["mime"] == "application/vnd.jupyter.stderr"]
    assert not errors, errors
    for o in outputs:
        assert o["bytes"] < 1_000_000, (o["source"], o["bytes"])
        for bar in o["bars"]:
            assert bar.startswith("100%"), (o["source"], bar)
    # Charts are drawn as SVG (alone, or inside the HTML of a group); heatmaps as SVG or as an HTML
    # table with coloured cells (JupyterLab prefers a bundle's HTML to its SVG); tables as HTML.
    for o in outputs:
        if o["mime"] == "image/svg+xml":
            assert o["svg"], (o["source"], "an SVG output that drew nothing")
    for cell in {o["cell"] for o in outputs}:
        source = next(o["source"] for o in outputs if o["cell"] == cell)
        # The verbs of the statements that display (an assignment displays nothing).
        verbs = {line.split()[0] for line in source.splitlines()
                 if line.strip() and not line.startswith((" ", "#", "]")) and "=" not in line.split('"')[0]}
        if verbs & CHART_VERBS:
            assert any(o["svg"] for o in outputs if o["cell"] == cell), (source, "a chart not drawn as SVG")
    assert any(o["svg"] or o["coloured"] for o in outputs), "no heatmap or chart on the page"
    assert any(o["tables"] for o in outputs if o["mime"] == "text/html"), "no HTML table on the page"

def test_console_runs_a_cell():
    out = subprocess.run(
        [str(BIN / "jupyter"), "console", "--kernel=periscope", "--simple-prompt",
         "--ZMQTerminalInteractiveShell.confirm_exit=False"],
        input='greeting = "hello from the console"\nprint greeting\n', capture_output=True, text=True,
        timeout=120, env=env())
    assert "hello from the console" in out.stdout, (out.stdout, out.stderr)


@requires_model()
def test_nbconvert_executes_and_highlights_the_tour(tmp_path):
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--execute",
                    "--ExecutePreprocessor.kernel_name=periscope", "--output-dir", str(tmp_path),
                    str(ROOT / "examples" / "tour.ipynb")], check=True, env=env(), timeout=900,
                   capture_output=True)
    html = (tmp_path / "tour.html").read_text()
    assert '<span class="k">load</span>' in html
    assert '<span class="kp">' in html and '<span class="s2">' in html
    assert "jp-RenderedText" in html and 'data-mime-type="application/vnd.jupyter.stderr"' not in html
