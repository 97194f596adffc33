"""Code cells are highlighted with the language's Pygments lexer, which the kernel names in
kernel_info; its word lists are the command table's."""
import re
import subprocess
import sys

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Name, Number, Operator, String

from conftest import ROOT

BIN = ROOT / ".build" / "release" / "periscope"


def test_word_lists_are_the_command_tables():
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_lexer_words.py"), str(BIN), "--check"], check=True)


def test_lexer_tokens():
    lexer = get_lexer_by_name("periscope")
    tokens = [(t, v) for t, v in lexer.get_tokens('best = lens p layers 0..29 position last top 5  # the lens\n'
                                                  '?patchscope\nx = [1, -2.5, "a\\n"]\n') if v.strip()]
    assert tokens[:4] == [(Name.Variable, "best"), (Operator, "="), (Keyword, "lens"), (Name, "p")]
    assert (Keyword.Pseudo, "layers") in tokens and (Keyword.Pseudo, "position") in tokens
    assert tokens[tokens.index((Keyword.Pseudo, "layers")) + 1:][:3] == [
        (Number.Integer, "0"), (Operator, ".."), (Number.Integer, "29")]
    assert (Keyword.Constant, "last") in tokens
    assert (Keyword, "patchscope") in tokens
    assert (Number.Float, "-2.5") in tokens and (String.Escape, "\\n") in tokens
    assert (Comment.Single, "# the lens") in tokens
    # A verb is a verb only where a statement starts: `help lens` names it.
    assert [(t, v) for t, v in lexer.get_tokens("help lens") if v.strip()] == [(Keyword, "help"), (Name, "lens")]


def test_nbconvert_highlights_cells_with_the_kernels_lexer(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('r = 0..3  # four layers\nprint "hello"'),
                nbformat.v4.new_code_cell("sleep 0.01 \\\n")]
    NotebookClient(nb, kernel_name="periscope", timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.metadata.language_info.pygments_lexer == "periscope"
    html, _ = HTMLExporter().from_notebook_node(nb)
    spans = set(re.findall(r'<span class="(\w+)">([^<]*)</span>', html))
    for expected in [("nv", "r"), ("mi", "0"), ("o", ".."), ("mi", "3"), ("c1", "# four layers"),
                     ("k", "print"), ("s2", '"hello"'), ("k", "sleep"), ("mf", "0.01")]:
        assert expected in spans, expected
