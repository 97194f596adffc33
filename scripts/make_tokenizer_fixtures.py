#!/usr/bin/env python3
"""Builds the tokenizer test fixtures in Tests/TransformerTests/Fixtures from reference tokenizers.

Run with the reference venv (transformers, tokenizers, gguf, sentencepiece), offline:

    HF_HUB_OFFLINE=1 python scripts/make_tokenizer_fixtures.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

Writes:
  tokenizer_corpus.jsonl  one line per corpus string: {"text", "smollm", and "gpt2"/"llama3"/"qwen2"
                          when they differ from "smollm"}: Hugging Face ids for the SmolLM2 vocabulary
                          under each pre-tokenizer; "spm": ids of the tiny SentencePiece model below.
  tokenizer_chat.json     Hugging Face apply_chat_template outputs for the SmolLM2 GGUF.
  spm-tiny.vocab.json     the tokens, scores and types of a tiny SentencePiece model trained here on the corpus,
  spm-tiny.gguf           and the llama-type vocabulary GGUF made from them (not tracked: `--spm-gguf` rebuilds
                          it from the JSON with only `gguf`, as `make test` does).

References: "gpt2" is transformers' own tokenizer for the GGUF (its GGUF loader always uses the
GPT-2 regex). "smollm" is the same vocabulary with SmolLM2's real pre-tokenizer (Digits(individual)
then ByteLevel, as the model's tokenizer.json declares and llama.cpp's `smollm` pre does).
"llama3"/"qwen2" put those models' split regexes in front of the same vocabulary.
"""
import json, os, random, sys, tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "TransformerTests" / "Fixtures"
HOME = Path(os.environ.get("PERISCOPE_HOME", Path.home() / ".cache" / "periscope"))
MODEL = Path(sys.argv[1]) if len(sys.argv) > 1 else HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# ---------------------------------------------------------------- corpus
rng = random.Random(20261122)

WORDS = {
    "latin": ["hello", "world", "Periscope", "naïve", "café", "façade", "Ångström", "straße", "œuvre", "Æsir", "ĳssel", "Łódź", "İstanbul", "ǅemal"],
    "greek": ["λόγος", "Αθήνα", "ψυχή", "ΣΟΦΙΑ"],
    "cyrillic": ["привет", "Москва", "ёлка", "ЩЁКИ", "їжак"],
    "arabic": ["مرحبا", "العربية", "كتاب"],
    "hebrew": ["שלום", "עברית"],
    "devanagari": ["नमस्ते", "हिन्दी", "क्षत्रिय"],
    "bengali_tamil": ["বাংলা", "தமிழ்", "ಕನ್ನಡ", "తెలుగు"],
    "thai_lao": ["สวัสดี", "ภาษาไทย", "ລາວ"],
    "cjk": ["你好", "世界", "漢字", "中文分词", "東京", "日本語"],
    "kana": ["ひらがな", "カタカナ", "ｶﾀｶﾅ", "こんにちは"],
    "hangul": ["안녕하세요", "한국어", "ᄀᄁ"],
    "other": ["ქართული", "Հայերեն", "አማርኛ", "ᚠᚢᚦ", "𐌰𐌱𐌲", "ꦗꦮ", "ᐃᓄᒃᑎᑐᑦ"],
    "symbols": ["∑", "∫dx", "√2", "≠", "→", "©®™", "§¶", "€100", "£5", "¥", "°C", "½¾", "Ⅻ", "①②", "²³", "ℕℤℚ", "‰", "…", "—", "–", "«»", "„“", "‘’"],
    "combining": ["e\u0301", "n\u0303o", "a\u0308\u0304", "Z\u0335\u0321a\u0336", "\u0915\u094d\u0937"],
}
EMOJI = ["😀", "🤖", "🚀", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "#️⃣", "🧑🏿‍💻", "👩‍❤️‍💋‍👨", "🐈‍⬛", "✨", "🫠", "☕", "⌚", "😶‍🌫️"]
WS = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\t\t", " \t ", "\u00a0", "\u3000", "\u2003", "\u200b", "\u2028", "\x0b", "\x0c", "\u0085"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
CONTRACTED = ["I'm", "you're", "they've", "he'll", "she'd", "it's", "don't", "can't", "won't", "we'd", "y'all", "o'clock", "rock'n'roll"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>", "<jupyter_code>"]
CODE = [
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += x[i];\n}",
    "let xs = [1, 2, 3].map { $0 * 2 }  // doubled",
    '{"key": "value", "n": 42, "ok": true, "list": [1.5, -2e10]}',
    "<div class=\"a\">Hello &amp; welcome</div>",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
    "x = lambda *args, **kw: (args, kw)\nprint(x(1, y=2))",
    "    if self.x is None:\n        raise ValueError('x')\n",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "$ ls -la ~/.config && echo $HOME | grep -v '^#'",
    "a[i]+=b[j]*c;;x<<=2;y>>>=1;z!==w",
    "https://example.com/path?q=1&r=two#frag",
    "user@example.org, +1 (555) 010-9999",
    "    \n\n    \t# comment\n",
]
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "What's the weather like today? I'd say it's sunny!",
    "THE CAPITAL OF ITALY IS ROME.",
    "She said, \"I'LL be there at 5 o'clock.\"",
    "We've got 3 apples, 12 oranges and 1,024 grapes.",
    "In 1969, Apollo 11 landed on the Moon.",
    "Hello!!! ... ??? ;-) :D <3",
    "It'S A tEsT oF mIxEd CaSe'S and DON'T forget.",
    "Pi is approximately 3.14159265358979.",
]

def number():
    kind = rng.randrange(8)
    n = rng.randrange(1, 21)
    digits = "".join(rng.choice("0123456789") for _ in range(n))
    if kind == 0: return digits
    if kind == 1: return f"{rng.randrange(10**6):,}"
    if kind == 2: return f"{rng.uniform(-1000, 1000):.{rng.randrange(1, 8)}f}"
    if kind == 3: return f"{rng.uniform(0, 1):.3e}"
    if kind == 4: return "-" + digits[:5]
    if kind == 5: return digits[:4] + "-" + digits[4:8] if n > 4 else digits
    if kind == 6: return "٣٤٥" if rng.random() < .5 else "१२३"
    return "v" + ".".join(str(rng.randrange(20)) for _ in range(3))

def fragment():
    pool = rng.randrange(10)
    if pool <= 2:
        return rng.choice(WORDS[rng.choice(list(WORDS))])
    if pool == 3: return rng.choice(EMOJI)
    if pool == 4: return number()
    if pool == 5: return rng.choice(CONTRACTED) if rng.random() < .6 else rng.choice(CONTRACTIONS).upper()
    if pool == 6: return rng.choice(SPECIAL) if rng.random() < .3 else rng.choice(["<|", "|>", "<|im_", "im_start"])
    if pool == 7: return rng.choice(CODE)
    if pool == 8: return rng.choice(SENTENCES)
    return "".join(rng.choice("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") for _ in range(rng.randrange(1, 4)))

def mixed():
    parts = []
    for _ in range(rng.randrange(1, 9)):
        parts.append(fragment())
        parts.append(rng.choice(WS) if rng.random() < .35 else " " if rng.random() < .8 else "")
    s = "".join(parts)
    if rng.random() < .2: s = rng.choice(WS) + s
    return s

# Blocks to sample single scalars from: letters, marks, numbers, symbols and spaces of many scripts.
BLOCKS = [(0x00A0, 0x024F), (0x0250, 0x02FF), (0x0300, 0x036F), (0x0370, 0x03FF), (0x0400, 0x052F), (0x0530, 0x058F),
          (0x0590, 0x05FF), (0x0600, 0x06FF), (0x0700, 0x074F), (0x0780, 0x07BF), (0x07C0, 0x07FF), (0x0900, 0x0DFF),
          (0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x109F), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x137F),
          (0x13A0, 0x13FF), (0x1680, 0x169F), (0x16A0, 0x16FF), (0x1780, 0x17FF), (0x1800, 0x18AF), (0x1E00, 0x1FFF),
          (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2150, 0x218F), (0x2190, 0x23FF),
          (0x2460, 0x24FF), (0x2500, 0x27BF), (0x2C00, 0x2C5F), (0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3190, 0x31FF),
          (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xA4CF), (0xA640, 0xA69F), (0xA830, 0xA83F), (0xAC00, 0xD7A3),
          (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x10000, 0x100FF), (0x10300, 0x1034F),
          (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF), (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF)]

def random_scalars():
    """A string of random assigned scalars (Python 3.11's Unicode data) from many blocks, with spaces and digits."""
    import unicodedata
    chars = []
    for _ in range(rng.randrange(1, 16)):
        if rng.random() < .15:
            chars.append(rng.choice([" ", " ", "1", "\n", "'s", "  "]))
            continue
        lo, hi = rng.choice(BLOCKS)
        while True:
            c = chr(rng.randrange(lo, hi + 1))
            if unicodedata.category(c) not in ("Cn", "Cs", "Co"): break
        chars.append(c)
    return "".join(chars)

def corpus():
    out = ["", " ", "a", "  ", "\n", "hello world", " hello world", "hello  world", "  leading", "trailing  ",
           "a  1", "x   12", "  1", "\t\t\t", "\n\n\n\n", " \n \n ", "1234567890", "12345 67890",
           "<|im_start|>user\nHello<|im_end|>\n", "<|im_start|><|im_end|>", "<|endoftext|><|endoftext|>",
           "a<|im_start|>b", "<|im_start", "im_start|>", "'s 'S 't 'T 're 'RE 'Re 've 'VE 'm 'M 'll 'LL 'd 'D",
           "'", "''", "'''", "don't DON'T Don'T", "'hello'", "\"quoted\"", " " * 17, "\n" * 9, " \t\n\r\n\t ",
           "x" * 300, "😀" * 20, "9" * 40, "a" + " " * 9 + "b", "a\u00a0b", "a\u3000b", "a\u2003\u2003b",
           "a\u200bb", "Hello\u2028World", "a\x0bb\x0cc", "a\u0085b", "a\r\nb\rc\nd",
           ] + SENTENCES + CODE + CONTRACTED + EMOJI + SPECIAL
    for c in CONTRACTIONS:
        for w in ["it", "IT", "They", "x", "1", " ", ""]:
            out += [w + c, w + c.upper(), w + c.capitalize()]
    for script, words in WORDS.items():
        out.append(" ".join(words))
        out.append("".join(words))
    for _ in range(60): out.append(number())
    for _ in range(40): out.append(" ".join(number() for _ in range(rng.randrange(2, 6))))
    for _ in range(40): out.append("".join(rng.choice(EMOJI + [" ", "a", "1"]) for _ in range(rng.randrange(2, 10))))
    for _ in range(60): out.append("".join(rng.choice(WS + ["a", "b", "1", ".", "'s"]) for _ in range(rng.randrange(3, 15))))
    for _ in range(200): out.append(random_scalars())
    while len(out) < 1400: out.append(mixed())
    seen, uniq = set(), []
    for s in out:
        if s not in seen: seen.add(s); uniq.append(s)
    return uniq

LLAMA3_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

def main():
    from transformers import AutoTokenizer
    from tokenizers import Tokenizer, pre_tokenizers, Regex
    hf = AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    base = json.loads(hf.backend_tokenizer.to_str())

    def variant(pre, ignore_merges=False):
        spec = json.loads(json.dumps(base))
        spec["model"]["ignore_merges"] = ignore_merges
        t = Tokenizer.from_str(json.dumps(spec))
        t.pre_tokenizer = pre
        return t
    smollm = variant(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]))
    llama3 = variant(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated"),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), True)
    qwen2 = variant(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated"),
                                             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]))

    texts = corpus()
    spm = train_spm(texts)
    OUT.mkdir(parents=True, exist_ok=True)
    differ = {"gpt2": 0, "llama3": 0, "qwen2": 0}
    with open(OUT / "tokenizer_corpus.jsonl", "w", encoding="utf-8") as f:
        for s in texts:
            row = {"text": s, "smollm": smollm.encode(s, add_special_tokens=False).ids}
            others = {"gpt2": hf.encode(s, add_special_tokens=False),
                      "llama3": llama3.encode(s, add_special_tokens=False).ids,
                      "qwen2": qwen2.encode(s, add_special_tokens=False).ids}
            for k, ids in others.items():
                if ids != row["smollm"]: row[k] = ids; differ[k] += 1
            row["spm"] = spm.encode(s)
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(texts)} strings; rows differing from smollm: {differ}")

    conversations = {
        "user_only": [{"role": "user", "content": "What is the capital of France?"}],
        "with_system": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
        "multi_turn": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                       {"role": "user", "content": "Tell me a joke.\nPlease."}],
    }
    chat = []
    for name, msgs in conversations.items():
        for gen in (False, True):
            text = hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
            chat.append({"name": name, "messages": msgs, "add_generation_prompt": gen, "text": text,
                         "ids": smollm.encode(text, add_special_tokens=False).ids})
    (OUT / "tokenizer_chat.json").write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")

def train_spm(texts):
    """Trains a small SentencePiece BPE model with byte fallback and writes it as a llama-type GGUF."""
    import sentencepiece as spm_lib, gguf
    tmp = Path(tempfile.mkdtemp())
    train = tmp / "train.txt"
    lines = [t.replace("\r", " ") for t in texts for t in t.split("\n") if t.strip()]
    train.write_text("\n".join(lines * 3), encoding="utf-8")
    spm_lib.SentencePieceTrainer.train(
        input=str(train), model_prefix=str(tmp / "tiny"), model_type="bpe", vocab_size=1200,
        byte_fallback=True, character_coverage=0.98, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True, allow_whitespace_only_pieces=True,
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, num_threads=1, minloglevel=2)
    sp = spm_lib.SentencePieceProcessor(model_file=str(tmp / "tiny.model"))
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i)); scores.append(sp.get_score(i))
        types.append(3 if sp.is_control(i) else 2 if sp.is_unknown(i) else 6 if sp.is_byte(i) else 5 if sp.is_unused(i) else 1)
    (OUT / "spm-tiny.vocab.json").write_text(json.dumps({"tokens": tokens, "scores": scores, "types": types},
                                                        ensure_ascii=False), encoding="utf-8")
    write_spm_gguf()

    class Ref:
        def encode(self, s): return sp.encode(s)
    return Ref()

def write_spm_gguf():
    """Writes spm-tiny.gguf from the committed spm-tiny.vocab.json (needs only `gguf`): the test
    setup builds it this way, byte for byte the file the training run wrote."""
    import gguf
    vocab = json.loads((OUT / "spm-tiny.vocab.json").read_text(encoding="utf-8"))
    w = gguf.GGUFWriter(str(OUT / "spm-tiny.gguf"), "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(vocab["tokens"]); w.add_token_scores(vocab["scores"]); w.add_token_types(vocab["types"])
    w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
    w.add_add_bos_token(True); w.add_add_space_prefix(True)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

if __name__ == "__main__":
    if sys.argv[1:] == ["--spm-gguf"]:
        write_spm_gguf()
    else:
        main()
