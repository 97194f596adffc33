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
    ("md", "**The logit lens** reads each layer's residual stream through the final norm and the "
           "unembedding, as if the model stopped there: each cell is that layer's best guess for the next "
           "token, coloured by its probability (watch \" Paris\" appear only in the last layers)."),
    ("code", "lens p"),
    ("md", "**`attention`** shows where each token looks in one layer: rows are queries, columns the earlier "
           "tokens they attend to, one panel per head."),
    ("code", "attention p layer 5"),
    ("md", "**A Patchscope** writes the last token's hidden state into another prompt and lets the model say "
           "what it holds; with `attribute \"The city of x\"` it reads \" Paris\" out several layers before "
           "the logit lens does."),
    ("code", 'patchscope p position -1 target attribute "The city of x" layers 10..29 generate 3'),
    ("md", "**`trace`** (activation patching) runs a corrupted prompt, restores one clean activation at a "
           "time and measures how much of p(\" Paris\") comes back (0 = corrupt, 1 = clean), locating "
           "where the fact travels."),
    ("code", 'clean = prompt "The Eiffel Tower is in the city of"\ncorrupt = prompt "The Colosseum is in the city of"\n'
             'trace clean corrupt answer " Paris"'),
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
