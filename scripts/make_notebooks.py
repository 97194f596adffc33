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


STEERING = [
    ("md", "# Steering with directions\n\nA *direction* is the difference between the mean residual "
           "streams of two sets of prompts (activation addition, as in ActAdd and representation "
           "engineering). Adding it back while the model writes pushes the text along that direction."),
    ("code", 'load "smollm2"'),
    ("md", "**Make a direction** from prompts that differ in one concept, read at block 6's `resid_post`."),
    ("code", 'love = direction ["I love you", "I adore you", "What a joy"] minus ["I hate you", "I despise you", "What a disgrace"] layer 6\nlove'),
    ("md", "**Steer**: each row continues the same prompt with `scale × love` added at every token. "
           "Scale 0 is the unsteered continuation, exactly what `generate` writes."),
    ("code", 'steer "I think that my neighbour is" with love scales [2, 4, -4] generate 16'),
    ("md", "With `positions` the vector is added only at those prompt tokens, not while generating. "
           "(Each prompt here has several tokens: a llama-family model's first position is an attention "
           "sink with very large activations, so one-token prompts make poor directions.)"),
    ("code", 'steer "I think that my neighbour is" with love scales [4, 8] generate 16 positions 1..5'),
    ("md", "**Compare directions** by cosine similarity."),
    ("code", 'calm = direction "I feel calm" minus "I feel angry" layer 6\nparty = direction "Let us party" minus "Let us mourn" layer 6\nsimilarity [love, calm, party]'),
    ("md", "**Export** a direction as a llama.cpp control vector (`llama-cli --control-vector love.gguf`)."),
    ("code", 'export love to "love.gguf"'),
    ("md", "## Which tokens matter?\n\n**Occlusion** replaces each token with a filler and measures how "
           "much log p(answer) drops."),
    ("code", 'attribute "The capital city of France is" answer " Paris"'),
    ("md", "**Counterfactuals**: two prompts that differ in one word, their next-token distributions side by side."),
    ("code", 'compare "The capital city of France is" "The capital city of Italy is" top 5'),
    ("md", "**Stability**: how often the answer survives Gaussian noise (0.2 × each position's RMS) in "
           "one layer's residual stream, layer by layer."),
    ("code", 'stability "The capital city of France is" layers 0..29 noise 0.2 samples 8 seed 1'),
]

# Forty sentences whose label (the mood verb) is easy to read; subjects and objects are balanced
# across the two labels so that only the verb carries it.
SUBJECTS = ["I", "We", "They", "My friend", "She", "He", "The kids", "Our team", "My mother", "Everyone"]
OBJECTS = ["this movie", "the food", "the book", "the trip"]
MOOD_ROWS = ",\n    ".join(
    f'["{s} {"loved" if (i + j) % 2 == 0 else "hated"} {o}", "{"pos" if (i + j) % 2 == 0 else "neg"}"]'
    for i, s in enumerate(SUBJECTS) for j, o in enumerate(OBJECTS))

PROBING = [
    ("md", "# Probing the residual stream\n\nCan a linear classifier read a property from the hidden "
           "states? `probe` trains an L2-regularised logistic regression on each layer's `resid_post` "
           "and scores it on held-out rows. A *control task* (the same rows with shuffled labels) "
           "shows how much a probe can memorise on its own."),
    ("code", 'load "smollm2"'),
    ("md", "**A data set**: inline `[text, label]` pairs here; `dataset \"file.csv\"` reads a CSV with "
           "`text` and `label` columns."),
    ("code", "moods = dataset [\n    " + MOOD_ROWS + "\n]\nmoods"),
    ("md", "**Probe every layer**, with the shuffled-label control. The chart shows held-out accuracy by layer."),
    ("code", "probe moods layers all split 0.7 seed 1 control"),
    ("md", "**Project** prompts onto their first two principal components at one layer."),
    ("code", 'project ["I loved this movie", "We loved the trip", "She loved the book", '
             '"I hated this movie", "We hated the trip", "She hated the book"] layer 12 '
             'labels ["pos", "pos", "pos", "neg", "neg", "neg"]'),
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
    nbformat.write(build(STEERING), out / "steering.ipynb")
    nbformat.write(build(PROBING), out / "probing.ipynb")
    print("wrote examples/steering.ipynb, examples/probing.ipynb")


if __name__ == "__main__":
    main()
