"""Writes the example notebooks in examples/ from the cell lists below (so they stay reviewable
as text). Run: python scripts/make_notebooks.py — then `make demo` renders the tour to HTML."""
import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "periscope", "display_name": "Periscope", "language": "periscope"}
LANGUAGE = {"name": "periscope", "file_extension": ".scope", "mimetype": "text/x-periscope"}

TOUR = [
    ("md", "# A tour of Periscope\n\nPeriscope looks inside a language model cell by cell. The model "
           "and everything it computes stay resident between cells. This tour uses the bundled "
           "SmolLM2-135M-Instruct (a 30-layer llama-family model, 4-bit quantised GGUF)."),
    ("md", "**Load the model once.** The card says what it is and what it costs in memory."),
    ("code", 'm = load "smollm2"\nm'),
    ("md", "**A prompt is text cut into tokens.** `tokens` shows each position, its id and its text "
           "(spaces shown as `·`)."),
    ("code", 'p = prompt "The Eiffel Tower is in the city of"\ntokens p'),
    ("md", "**`run` is one forward pass**: the model's next-token distribution. Its activations are "
           "now cached for the analyses below."),
    ("code", "run p top 5"),
    ("md", "**`generate` continues the text** (greedy unless you give a temperature)."),
    ("code", "generate p max 12"),
]


def build(cells):
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC, "language_info": LANGUAGE})
    for kind, text in cells:
        nb.cells.append(new_markdown_cell(text) if kind == "md" else new_code_cell(text))
    return nb


def main():
    out = ROOT / "examples"
    out.mkdir(exist_ok=True)
    nbformat.write(build(TOUR), out / "tour.ipynb")
    print("wrote examples/tour.ipynb")


if __name__ == "__main__":
    main()
