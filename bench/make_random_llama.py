"""Makes the benchmark's ~1B llama-architecture model once: random weights (seeded), the shape of
TinyLlama-1.1B (d_model 2048, 22 blocks, d_ff 5632, 32 heads, 4 KV heads) with SmolLM2's
tokenizer copied from the bundled GGUF (so prompts tokenize the same), written as F16 by gguf-py,
then quantised to Q4_K_M by llama.cpp's quantiser (llama-cpp-python). Runs in the reference venv.
The F16 file is deleted afterwards; the Q4_K_M file is cached and never committed.

    python bench/make_random_llama.py --tokenizer-from SmolLM2.gguf --out random-llama-1b.Q4_K_M.gguf
"""
import argparse
import ctypes
import os
import sys

import numpy as np
import gguf

D, LAYERS, FF, HEADS, KV_HEADS = 2048, 22, 5632, 32, 4
HD = D // HEADS


def tokenizer_fields(path):
    """The tokenizer.* key-values of a GGUF file, as (key, type, value) for GGUFWriter."""
    reader = gguf.GGUFReader(path)
    out = []
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            out.append((key, kind, value, sub))
        elif kind == gguf.GGUFValueType.STRING:
            out.append((key, kind, bytes(field.parts[field.data[0]]).decode("utf-8"), None))
        else:
            out.append((key, kind, field.parts[field.data[0]].tolist()[0], None))
    return out


def write_f16(path, tokenizer_gguf, seed=1234):
    fields = tokenizer_fields(tokenizer_gguf)
    vocab = next(len(v) for k, _, v, _ in fields if k == "tokenizer.ggml.tokens")
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("random-llama-1b")
    w.add_block_count(LAYERS)
    w.add_context_length(2048)
    w.add_embedding_length(D)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for key, kind, value, sub in fields:
        w.add_key_value(key, value, kind, sub_type=sub)

    shapes = [("token_embd.weight", (vocab, D))]
    for l in range(LAYERS):
        p = f"blk.{l}."
        shapes += [(p + "attn_norm.weight", (D,)), (p + "attn_q.weight", (D, D)), (p + "attn_k.weight", (KV_HEADS * HD, D)),
                   (p + "attn_v.weight", (KV_HEADS * HD, D)), (p + "attn_output.weight", (D, D)),
                   (p + "ffn_norm.weight", (D,)), (p + "ffn_gate.weight", (FF, D)), (p + "ffn_up.weight", (FF, D)),
                   (p + "ffn_down.weight", (D, FF))]
    shapes += [("output_norm.weight", (D,)), ("output.weight", (vocab, D))]

    def tensor(i, name, shape):
        rng = np.random.default_rng(seed + i)
        if len(shape) == 1:                       # norms: F32 near 1
            return (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        # Weights of the usual initial scale; a residual stream that stays O(1) over 22 blocks.
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    for i, (name, shape) in enumerate(shapes):
        dtype = np.float32 if len(shape) == 1 else np.float16
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        w.add_tensor_info(name, shape, dtype, nbytes)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for i, (name, shape) in enumerate(shapes):
        w.write_tensor_data(tensor(i, name, shape))
    w.close()


def quantise(src, dst):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize returned {rc}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer-from", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    f16 = a.out + ".f16.tmp"
    write_f16(f16, a.tokenizer_from)
    try:
        quantise(f16, a.out + ".tmp")
        os.replace(a.out + ".tmp", a.out)
    finally:
        os.remove(f16)
    print(a.out, os.path.getsize(a.out))


if __name__ == "__main__":
    sys.exit(main())
