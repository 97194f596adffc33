#!/usr/bin/env python3
"""Tiny random llama and qwen2 GGUF files with reference logits, for the Transformer tests.

The reference forward pass below is written the Hugging Face way (rotate-half RoPE on the
un-permuted Q/K weights, q/k/v biases for qwen2). The llama file stores Q/K permuted the way
llama.cpp's converter does, so the test checks the RoPE convention claim end to end; the qwen2
file stores them as they are (llama.cpp uses NeoX RoPE for qwen2).

Usage: python scripts/make_tiny_model_fixtures.py   (needs gguf and numpy; `make fixtures` runs it)
Output: Tests/TransformerTests/Fixtures/tiny/{tiny-llama.gguf, tiny-qwen2.gguf, tiny-gpt2.gguf,
        tiny-bad-heads.gguf, reference.json}
"""
import json
import os

import gguf
import numpy as np

D, FF, HEADS, KV_HEADS, LAYERS, VOCAB, BASE, EPS = 32, 48, 4, 2, 2, 64, 10000.0, 1e-5
HD = D // HEADS
TOKENS = [3, 17, 42, 5, 9, 63, 0, 28]


def rms(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * w


def rotate_half_rope(x, positions):
    # x [T, heads, HD]; HF: pairs (i, i + HD/2).
    inv = 1.0 / BASE ** (np.arange(0, HD, 2, dtype=np.float64) / HD)
    ang = np.outer(positions, inv)                                  # [T, HD/2]
    cos = np.cos(np.concatenate([ang, ang], -1))[:, None, :]
    sin = np.sin(np.concatenate([ang, ang], -1))[:, None, :]
    rot = np.concatenate([-x[..., HD // 2:], x[..., :HD // 2]], -1)
    return x * cos + rot * sin


def forward(w, tokens, bias):
    x = w["embed"][tokens].astype(np.float64)
    t = len(tokens)
    for l in range(LAYERS):
        b = w["blocks"][l]
        h = rms(x, b["attn_norm"])
        q = h @ b["wq"].T + (b["bq"] if bias else 0)
        k = h @ b["wk"].T + (b["bk"] if bias else 0)
        v = h @ b["wv"].T + (b["bv"] if bias else 0)
        q = rotate_half_rope(q.reshape(t, HEADS, HD), np.arange(t))
        k = rotate_half_rope(k.reshape(t, KV_HEADS, HD), np.arange(t))
        v = v.reshape(t, KV_HEADS, HD)
        z = np.zeros((t, HEADS, HD))
        for hh in range(HEADS):
            kv = hh // (HEADS // KV_HEADS)
            s = q[:, hh] @ k[:, kv].T / np.sqrt(HD)
            s = s + np.triu(np.full((t, t), -np.inf), 1)
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            z[:, hh] = p @ v[:, kv]
        x = x + z.reshape(t, D) @ b["wo"].T
        h = rms(x, b["ffn_norm"])
        g = h @ b["wg"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ b["wu"].T)) @ b["wd"].T
    return rms(x, w["final_norm"]) @ w["embed"].T                   # tied output


def permute(weights, n_head):
    # llama.cpp convert_hf_to_gguf: HF rotate-half layout -> adjacent-pair layout.
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write(path, arch, w, bias, permute_qk, head_count=HEADS):
    writer = gguf.GGUFWriter(path, arch)
    writer.add_block_count(LAYERS)
    writer.add_embedding_length(D)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(head_count)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(BASE)
    writer.add_rope_dimension_count(HD)
    writer.add_layer_norm_rms_eps(EPS)
    writer.add_context_length(128)
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)
    writer.add_tensor("token_embd.weight", f32(w["embed"]))
    writer.add_tensor("output_norm.weight", f32(w["final_norm"]))
    for l, b in enumerate(w["blocks"]):
        p = f"blk.{l}."
        writer.add_tensor(p + "attn_norm.weight", f32(b["attn_norm"]))
        writer.add_tensor(p + "attn_q.weight", f32(permute(b["wq"], HEADS) if permute_qk else b["wq"]))
        writer.add_tensor(p + "attn_k.weight", f32(permute(b["wk"], KV_HEADS) if permute_qk else b["wk"]))
        writer.add_tensor(p + "attn_v.weight", f32(b["wv"]))
        if bias:
            writer.add_tensor(p + "attn_q.bias", f32(b["bq"]))
            writer.add_tensor(p + "attn_k.bias", f32(b["bk"]))
            writer.add_tensor(p + "attn_v.bias", f32(b["bv"]))
        writer.add_tensor(p + "attn_output.weight", f32(b["wo"]))
        writer.add_tensor(p + "ffn_norm.weight", f32(b["ffn_norm"]))
        writer.add_tensor(p + "ffn_gate.weight", f32(b["wg"]))
        writer.add_tensor(p + "ffn_up.weight", f32(b["wu"]))
        writer.add_tensor(p + "ffn_down.weight", f32(b["wd"]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    rng = np.random.default_rng(7)
    r = lambda *shape, s=0.2: (rng.standard_normal(shape) * s).astype(np.float32).astype(np.float64)
    w = {"embed": r(VOCAB, D, s=1.0), "final_norm": 1 + r(D, s=0.1), "blocks": []}
    for _ in range(LAYERS):
        w["blocks"].append({
            "attn_norm": 1 + r(D, s=0.1), "ffn_norm": 1 + r(D, s=0.1),
            "wq": r(HEADS * HD, D), "wk": r(KV_HEADS * HD, D), "wv": r(KV_HEADS * HD, D), "wo": r(D, HEADS * HD),
            "bq": r(HEADS * HD), "bk": r(KV_HEADS * HD), "bv": r(KV_HEADS * HD),
            "wg": r(FF, D), "wu": r(FF, D), "wd": r(D, FF),
        })
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "TransformerTests", "Fixtures", "tiny")
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "tiny-llama.gguf"), "llama", w, bias=False, permute_qk=True)
    write(os.path.join(out, "tiny-qwen2.gguf"), "qwen2", w, bias=True, permute_qk=False)
    # Two files the loader must refuse with the right error: an architecture it does not run, and
    # a head count that does not divide the embedding width.
    write(os.path.join(out, "tiny-gpt2.gguf"), "gpt2", w, bias=False, permute_qk=False)
    write(os.path.join(out, "tiny-bad-heads.gguf"), "llama", w, bias=False, permute_qk=True, head_count=HEADS - 1)
    ref = {
        "tokens": TOKENS,
        "llama": forward(w, TOKENS, bias=False).astype(np.float32).ravel().tolist(),
        "qwen2": forward(w, TOKENS, bias=True).astype(np.float32).ravel().tolist(),
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main()
