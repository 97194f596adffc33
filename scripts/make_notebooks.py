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
           "what it holds. The identity target \"cat -> cat; 1135 -> 1135; hello -> hello; ?\" ends with the "
           "placeholder, so the model's next token there is its reading of the patched state: compare the layer "
           "at which \" Paris\" appears here with the logit lens above."),
    ("code", "patchscope p position -1 target identity layers 10..29 generate 3"),
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

# Capitals, each stated once truly and once falsely: the false statement of country i names the
# capital of country i + 7. Every country and every city appears once under each label, so no
# single token tells a statement's truth; only the pairing does.
CAPITALS = [
    ("France", "Paris"), ("Italy", "Rome"), ("Japan", "Tokyo"), ("Germany", "Berlin"), ("Spain", "Madrid"),
    ("Russia", "Moscow"), ("England", "London"), ("Egypt", "Cairo"), ("China", "Beijing"), ("Greece", "Athens"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Ireland", "Dublin"), ("Norway", "Oslo"),
    ("Sweden", "Stockholm"), ("Poland", "Warsaw"), ("Hungary", "Budapest"), ("Canada", "Ottawa"), ("Peru", "Lima"),
    ("Kenya", "Nairobi"), ("Thailand", "Bangkok"), ("South Korea", "Seoul"), ("Denmark", "Copenhagen"),
    ("Finland", "Helsinki"), ("Belgium", "Brussels"), ("Cuba", "Havana"), ("Iran", "Tehran"), ("Iraq", "Baghdad"),
    ("Argentina", "Buenos Aires"), ("India", "New Delhi"),
]
FACT_ROWS = ",\n    ".join(
    f'["The capital of {country} is {city}", "{label}"]'
    for i, (country, _) in enumerate(CAPITALS)
    for city, label in ((CAPITALS[i][1], "true"), (CAPITALS[(i + 7) % len(CAPITALS)][1], "false")))


def statements(pairs):
    return "[" + ", ".join(f'"The capital of {c} is {k}"' for c, k in pairs) + "]"


SHOWN_TRUE = [("Germany", "Berlin"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Kenya", "Nairobi")]
SHOWN_FALSE = [("Germany", "Oslo"), ("Norway", "Lima"), ("Peru", "Nairobi"), ("Kenya", "Berlin")]

PROBING = [
    ("md", "# Probing the residual stream, and how a probe fools you\n\nCan a linear classifier read a "
           "property from the hidden states? `probe` trains an L2-regularised logistic regression on each "
           "layer's `resid_post` (at the last token) and scores it on rows it did not train on. A high "
           "score says the property is *linearly decodable* there; it does not say the model uses it, and "
           "it does not say the property is what the probe read. This notebook shows a probe reading a "
           "token instead of a concept, then one that cannot."),
    ("code", 'load "smollm2"'),
    ("md", "## A probe that reads a word\n\nSentiment with the label written in the text: every positive "
           "row says *loved*, every negative one *hated*. Inline `[text, label]` pairs here; "
           "`dataset \"file.csv\"` reads a CSV with `text` and `label` columns."),
    ("code", "moods = dataset [\n    " + MOOD_ROWS + "\n]\nprobe moods layers 0..3 folds 5 seed 1 control"),
    ("md", "Near-perfect held-out accuracy at **layer 0**, before any block has done more than mix a few "
           "token embeddings. That is the warning sign: at layer 0 the last position holds little more "
           "than its own token and its neighbours, so the probe has learned which *words* occur, and "
           "*loved* / *hated* give the label away. The *control task* (`control`: the same rows with "
           "shuffled labels) stays near chance, so the probe is not simply memorising rows; the problem "
           "is the data set, not the probe's capacity. A layer-0 result means the property is in the "
           "tokens, and nothing about what the model computes."),
    ("md", "## A property no token gives away\n\nThe truth of a statement. Each of 30 countries is "
           "stated once with its capital (true) and once with another country's capital (false), so "
           "every country and every city appears exactly once under each label: a probe that memorises "
           "tokens has nothing to go on. Truth lives only in the *pairing*, which the model must recall."),
    ("code", "facts = dataset [\n    " + FACT_ROWS + "\n]\nprobe facts layers all folds 5 seed 1 control"),
    ("md", "How to read it:\n\n- **Layer 0 is below chance.** Most held-out statements have a twin in the "
           "training rows with the same final city and the *opposite* label; a probe that reads the token "
           "predicts the twin's label, and is wrong. This is what a token-reading probe scores on a "
           "balanced design.\n"
           "- **The control stays near 0.5 at every layer.** With 576 dimensions and 48 training rows a "
           "probe fits any labels on its training rows (train accuracy is 1.000 from layer 1 on), but "
           "shuffled labels do not carry over to held-out rows, so held-out accuracy well above the "
           "control is not memorisation.\n"
           "- **Truth becomes decodable in the middle layers** (here from about layer 8), once "
           "the model has had blocks to look up "
           "the country's capital and compare it with the stated city. Where it first rises, and the "
           "spread over folds (± sd), is the finding; a single split of 60 rows would be noisier."),
    ("md", "## The probe as a direction\n\nProbing one layer keeps that layer's weight vector (first label "
           "minus second: *true* minus *false*) as a Vector. The simplest alternative is the difference "
           "of the two classes' mean states (`direction`). Do they agree?"),
    ("code", "truth = probe facts layers 12 folds 5 seed 1\n"
             "means = direction " + statements(CAPITALS[:6]) + " minus "
             + statements([(c, CAPITALS[(i + 7) % len(CAPITALS)][1]) for i, (c, _) in enumerate(CAPITALS[:6])])
             + " layer 12\nsimilarity [truth, means]"),
    ("md", "They point the same way only in part. The logistic probe picks whatever separates the rows best "
           "given everything else that varies, the mean difference also carries whatever else differs "
           "between the two groups; neither is *the* truth direction."),
    ("md", "## What varies most is not truth\n\n`project` shows the first two principal components of a few "
           "statements at layer 12. The largest variance follows which country and city are named; the "
           "true and false statements are not separated along it, even though a probe separates them "
           "perfectly at this layer. A direction that decodes a property need not be a large one."),
    ("code", "project " + statements(SHOWN_TRUE + SHOWN_FALSE) + " layer 12 labels "
             + "[" + ", ".join(['"true"'] * 4 + ['"false"'] * 4) + "]"),
]

ATTRIBUTION = [
    ("md", "# Which inputs matter, and where? Occlusion, gradients and attribution patching\n\n"
           "Three ways to ask which prompt tokens an answer depends on, and one way to survey a whole "
           "model before patching it exactly. All of them read the same bundled SmolLM2-135M."),
    ("code", 'load "smollm2"\np = prompt "The Eiffel Tower is in the city of"\nrun p top 3'),
    ("md", "## Occlusion\n\nReplace each token with a filler (\" the\") and measure how much "
           "log p(\" Paris\") drops. It answers a counterfactual question directly, one forward pass "
           "per token, and it only sees what a single replacement changes."),
    ("code", 'attribute p answer " Paris"'),
    ("md", "## Saliency and input × gradient\n\nOne forward and one backward pass give "
           "∂ log p(answer) / ∂ embedding at every token. *Saliency* is the gradient's norm: how "
           "sensitive the answer is to each token's embedding, in any direction, so it is never "
           "negative. *Input × gradient* projects the gradient on the embedding itself: the first-order "
           "effect of scaling that embedding to zero, with a sign. They disagree with occlusion "
           "wherever the model is far from linear between the token and its replacement: a token can be "
           "locally sensitive (large saliency) yet replaceable, or matter only once it is removed "
           "altogether."),
    ("code", 'attribute p answer " Paris" method saliency'),
    ("code", 'attribute p answer " Paris" method input_x_gradient'),
    ("md", "## Integrated gradients, and their completeness gap\n\nIntegrated gradients average the "
           "gradient along the straight path from a baseline (here the all-zero embedding) to the "
           "prompt, with a midpoint sum of N steps. If the sum were exact, the scores would add up to "
           "the metric's change between the baseline and the prompt (*completeness*). The output "
           "reports how far they are from it.\n\n"
           "On these RMSNorm models the gap is large and unstable. The first norm divides each "
           "embedding by its own scale, so every point of the path but those near zero looks the same "
           "to the model: the integrand is flat along most of the path and changes steeply near the "
           "baseline, where a midpoint sum of a few dozen steps samples it badly. Watch the gap swing "
           "as the steps change; a token baseline does not cure it. Read the *ranking* of tokens, "
           "and only trust sizes when the gap is small."),
    ("code", 'attribute p answer " Paris" method integrated_gradients steps 16'),
    ("code", 'attribute p answer " Paris" method integrated_gradients steps 32'),
    ("code", 'attribute p answer " Paris" method integrated_gradients steps 64'),
    ("code", 'attribute p answer " Paris" method integrated_gradients steps 32 baseline " the"'),
    ("md", "## A gradient as a value\n\n`gradient` keeps ∂metric/∂activation at one hook point as a "
           "value: `show` draws each position's norm, `export` writes it to NumPy, `similarity` compares "
           "it with others. Here: does the gradient of p(Paris) point the same way as that of the "
           "Paris-vs-Rome logit difference at block 10?"),
    ("code", 'g = gradient p answer " Paris" hook "blocks.10.hook_resid_pre"\n'
             'h = gradient p answer " Paris" against " Rome" hook "blocks.10.hook_resid_pre"\n'
             'show g\nsimilarity [g, h]'),
    ("md", "## Attribution patching: a map first\n\nExact activation patching restores one clean "
           "activation at a time into the corrupt run: one pass per cell. Attribution patching "
           "estimates every cell at once to first order, (clean − corrupt activation) · gradient on "
           "the corrupt run, from one clean pass, one corrupt pass and one backward pass. We score the "
           "logit difference Paris − Rome: with p(Paris) the corrupt run's probability is so small "
           "that its gradient is nearly zero everywhere and the first-order map is flat."),
    ("code", 'q = prompt "The Colosseum is in the city of"\n'
             'trace p q answer " Paris" against " Rome" hook resid_pre method attribution'),
    ("code", 'trace p q answer " Paris" against " Rome" hook attn_out method attribution'),
    ("code", 'trace p q answer " Paris" against " Rome" hook mlp_out method attribution'),
    ("md", "## …then exact patching where the map points\n\nThe map singles out the subject's last "
           "token in the early layers and the last position in the late ones. Patch those cells exactly "
           "and compare: where the two disagree, the effect is not linear in the activation (a patch "
           "that saturates, or that only works together with others)."),
    ("code", 'trace p q answer " Paris" against " Rome" hook resid_pre positions "Tower"'),
    ("code", 'trace p q answer " Paris" against " Rome" hook resid_pre positions last'),
    ("md", "## Heads\n\nThe same two ways over attention heads: each head's clean `hook_z` restored at "
           "every position, layers × heads, estimated and exact."),
    ("code", 'trace p q answer " Paris" against " Rome" hook heads method attribution'),
    ("code", 'trace p q answer " Paris" against " Rome" hook heads layers 10..20'),
]


PATCHSCOPES = [
    ("md", "# Patchscopes on small models\n\nGhandeharioun et al. (2024), *Patchscopes*, read a hidden state by "
           "writing it into another prompt that asks the model to say what it holds. This notebook walks "
           "through the paper's experiments on SmolLM2-135M-Instruct (30 layers) and, for the cross-model "
           "ones, Gemma 3 270M (18 layers). These models are far smaller than the paper's, and the notebook "
           "says where an effect does not show at this size. The last model loaded is the current one."),
    ("code", 'g = load "gemma3-270m"\nm = load "smollm2"'),
    ("md", "## Next-token read-outs (§4.1)\n\n`lenses` reads every position of some texts at every layer three "
           "ways and counts how often each read-out names the token the model itself predicts there "
           "(precision@1): the logit lens, the tuned lens (an affine translator per layer, fitted once on the "
           "built-in text sample and kept in the model cache), and the identity Patchscope "
           "(\"cat -> cat; 1135 -> 1135; hello -> hello; ?\", the state written at the final \"?\"). The paper "
           "found the identity Patchscope ahead of the logit lens in early and middle layers."),
    ("code", 'lenses ["The Eiffel Tower is in the city of Paris.", "Water freezes at zero degrees Celsius.", '
             '"She opened the door and stepped into the garden.", "The capital of Italy is Rome.", '
             '"My brother plays the guitar in a small band.", "The train leaves at nine in the morning."]'),
    ("md", "On these 54 positions the identity Patchscope names the model's next token more often than the logit lens at every layer from 1 to 28 (at layer 23, 0.89 against 0.35), as the paper found; at layer 0 the logit lens is slightly ahead (0.17 against 0.11). The tuned lens leads both up to layer 10; from layer 11 on the identity Patchscope is at least as good as the tuned lens. Six short texts are a small sample: read the curves' order, not their third decimal."),
    ("md", "One prompt, layer by layer: the identity Patchscope against the logit lens at the last token."),
    ("code", 'c = prompt "The Colosseum is located in the city of"\n'
             'patchscope c position -1 target identity generate 2'),
    ("code", "lens c positions -1 top 3"),
    ("md", "The identity Patchscope says \" Rome\" from layer 23 on; the logit lens ranks it first only at the last layer, 29 (second at 28). Below layer 23 the patched state reads as other cities (Venice, Prague, San Francisco) or as the prompt's own examples (\" hello\")."),
    ("md", "## Entity description (§4.2)\n\nThe paper's few-shot description prompt (\"Syria: Country in the "
           "Middle East, …, x\") reads what a subject's last token holds."),
    ("code", 'patchscope "Leonardo da Vinci" position -1 target description layers 0..29 generate 6'),
    ("md", "Through layer 13 the description is \"Italian artist\" (layer 0 says \"Italian city-state\"); from layer 14 it drifts (an Italian-American actor, the Italian word for art, a Roman god), and from layer 19 on it is no description of him at all. At 135M parameters the subject's identity is readable early and lost in the last third of the model, where the state is about the next token rather than the subject."),
    ("md", "## Attribute extraction (§4.3)\n\nAn attribute template asks one question of the patched subject."),
    ("code", 'patchscope "The Eiffel Tower" position -1 target attribute "The country of x is" layers 0..29 generate 2'),
    ("md", "No layer names France: the model completes the template generically (\" a classic\", \" a circle\"). This effect of the paper does not show on SmolLM2-135M with this template: the patched subject state is not read as a country."),
    ("md", "## Cross-model patching (§4.4)\n\nA second model can read the first one's states through an affine map. "
           "`fit map` fits one by ridge least squares on the built-in text sample (pairs of tokens of the same "
           "text that end at the same character, since the two tokenizers differ) and reports its held-out R² "
           "and mean cosine. SmolLM2's layer 24 into Gemma 3's layer 12:"),
    ("code", "MG = fit map m layer 24 to g layer 12\nMG"),
    ("code", 'patch source c layer 24 position -1 into identity model g layer 12 map MG generate 3'),
    ("code", 'patch source "The Eiffel Tower is located in the city of" layer 24 position -1 into identity model g layer 12 map MG generate 3'),
    ("md", "And the other way, Gemma 3's layer 12 read by SmolLM2 at layer 24:"),
    ("code", "GM = fit map g layer 12 to m layer 24\nGM"),
    ("code", 'patch source c model g layer 12 position -1 into identity model m layer 24 map GM generate 3'),
    ("code", 'patch source "The Eiffel Tower is located in the city of" model g layer 12 position -1 into identity model m layer 24 map GM generate 3'),
    ("md", "Both directions read the city: SmolLM2's state, mapped into Gemma 3, makes Gemma say \" Rome\" and \" Paris\", and Gemma's state, mapped into SmolLM2, makes SmolLM2 say them too. The maps are far from exact (held-out R² 0.35 and 0.54; the mean cosine, above 0.9, is flattered by the large shared direction of the residual stream), yet they carry the entity the next token needs."),
    ("md", "## Multi-hop correction (§4.5)\n\nThe paper fixes two-hop questions a model gets wrong by patching the "
           "first hop's state into the second hop's prompt. First the two-hop question and its first hop:"),
    ("code", 'run "The capital city of the country where the Colosseum is located is" top 3'),
    ("code", 'run "The Colosseum is located in the country of" top 3'),
    ("md", "Then the correction: the first hop's last state, at every layer, written over the placeholder of the "
           "second hop's template."),
    ("code", 'patchscope "The Colosseum is located in the country of" position -1 target attribute "The capital city of x is" layers 0..29 generate 3'),
    ("md", "There is nothing to correct here: SmolLM2 answers the two-hop question itself (\" Rome\", p = 0.39), and the correction does not show at this size: no layer's patched state makes the second hop's template say \" Rome\" (it says \"not a country\", \"a city of\", \"y\"). The paper's multi-hop result needs a model that reads an attribute template off a patched state, which the attribute section above shows SmolLM2 does not."),
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
    nbformat.write(build(ATTRIBUTION), out / "attribution.ipynb")
    print("wrote examples/steering.ipynb, examples/probing.ipynb, examples/attribution.ipynb")
    nbformat.write(build(PATCHSCOPES), out / "patchscopes.ipynb")
    print("wrote examples/patchscopes.ipynb")


if __name__ == "__main__":
    main()
