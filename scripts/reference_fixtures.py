"""What the reference-fixture generators share: loading a GGUF model from the model cache into
transformers (PyTorch, CPU, float32), capturing each block's output, and writing a fixture as a
JSON index plus one little-endian float32 blob.

The generators (make_reference_fixtures.py, make_gemma3_reference_fixtures.py,
make_gradient_fixtures.py, make_gemma3_gradient_fixtures.py) import it from this folder; they run with the reference venv
(`make refvenv`), never in `make test`.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TransformerTests", "Fixtures")


def load_model(name: str, eager: bool = False):
    """The tokenizer and the float32 model of `name` in the model cache, one thread, no grads kept.

    `eager` asks for the plain attention path (the one with weights a hook or autograd can see).
    """
    home = os.environ.get("PERISCOPE_HOME", os.path.expanduser("~/.cache/periscope"))
    model_dir = os.path.join(home, "models")
    if not os.path.exists(os.path.join(model_dir, name)):
        sys.exit(f"{name} not found in {model_dir}; run `make model` first")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=name)
    extra = {"attn_implementation": "eager"} if eager else {}
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=name, dtype=torch.float32, **extra)
    model.eval()
    return tok, model


def capture_block_outputs(layers) -> dict:
    """Registers a hook on every block that keeps its output (resid_post) by layer index, taken
    straight from the block rather than from however `hidden_states` is assembled."""
    captured = {}

    def make_hook(index):
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, (tuple, list)) else output
            captured[index] = hidden.detach().clone()
        return hook

    for i, layer in enumerate(layers):
        layer.register_forward_hook(make_hook(i))
    return captured


class Fixture:
    """A fixture folder's STEM.json (metadata; arrays by offset and shape) and STEM.bin (their
    float32 data, little-endian, one after another); STEM is "reference" unless a folder holds
    several fixtures."""

    def __init__(self, folder: str, stem: str = "reference"):
        self.out_dir = os.path.join(FIXTURES, folder)
        self.stem = stem
        self.blob = bytearray()

    def put(self, array) -> dict:
        """Appends `array` as float32 and returns its {"offset", "shape"} entry for the JSON."""
        array = np.ascontiguousarray(np.asarray(array), dtype="<f4")
        entry = {"offset": len(self.blob), "shape": list(array.shape)}
        self.blob.extend(array.tobytes())
        return entry

    def write(self, meta: dict) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        with open(os.path.join(self.out_dir, f"{self.stem}.json"), "w") as f:
            json.dump(meta, f)
        with open(os.path.join(self.out_dir, f"{self.stem}.bin"), "wb") as f:
            f.write(bytes(self.blob))
        print(f"wrote {len(self.blob)} bytes of float32 data to {os.path.normpath(self.out_dir)}", file=sys.stderr)
