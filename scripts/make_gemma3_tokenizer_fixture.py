#!/usr/bin/env python3
"""Gemma 3 tokenizer fixture: reference ids for every string of the tokenizer corpus.

Run with the reference venv (transformers, llama-cpp-python), offline:

    HF_HUB_OFFLINE=1 python scripts/make_gemma3_tokenizer_fixture.py [path/to/gemma-3-270m-q4_k_m.gguf]

Reads the texts of Tests/TransformerTests/Fixtures/tokenizer_corpus.jsonl (unicode, digits, code,
whitespace runs, emoji, …) and writes Tests/TransformerTests/Fixtures/gemma3/tokenizer.jsonl, one
line per text: {"text", "hf": transformers' ids (its tokenizer built from the GGUF, BOS added),
"llamacpp": llama.cpp's ids (add_bos, special tokens parsed) when they differ from "hf"}.
"""
import json, os, sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "TransformerTests" / "Fixtures"
HOME = Path(os.environ.get("PERISCOPE_HOME", Path.home() / ".cache" / "periscope"))
MODEL = Path(sys.argv[1]) if len(sys.argv) > 1 else HOME / "models" / "gemma-3-270m-q4_k_m.gguf"


def main() -> None:
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    texts = [json.loads(line)["text"] for line in (FIXTURES / "tokenizer_corpus.jsonl").read_text(encoding="utf-8").split("\n") if line]
    hf = AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    llama = Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    out = FIXTURES / "gemma3" / "tokenizer.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    differ = 0
    with open(out, "w") as f:
        for text in texts:
            ids = hf(text)["input_ids"]
            cpp = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            line = {"text": text, "hf": ids}
            if cpp != ids:
                line["llamacpp"] = cpp
                differ += 1
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} texts to {out}; llama.cpp differs from transformers on {differ}", file=sys.stderr)


if __name__ == "__main__":
    main()
