#!/usr/bin/env python3
"""Generate the GGUF reader's test fixtures (Tests/GGUFTests/Fixtures).

Run with a Python that has `gguf` and `numpy` (e.g. the reference venv):

    python scripts/make_gguf_fixtures.py [--model PATH]

Writes, into Tests/GGUFTests/Fixtures/:

* all_types.gguf + all_types.f32 -- one tensor of every type the Swift reader decodes,
  and the reference dequantisation (gguf.quants.dequantize) of each, concatenated in
  tensor order as little-endian float32. Types gguf.quants can quantise are quantised
  from random data; the k-quants are random bytes with sane f16 scales.
* model_slices.gguf + model_slices.f32 -- rows copied byte-for-byte from the default
  model (Q4_1 attention weight, Q8_0 token embedding, F32 norm) with their reference
  dequantisation. Skipped (keeping any existing files) when the model is absent.
* metadata.gguf / metadata_v2.gguf -- one metadata key per value type, arrays, nested
  arrays; the v2 file is the same bytes with version 2 (v3 only added big-endian files).
* writer_golden.gguf -- a control-vector-shaped file written by gguf.GGUFWriter, which
  the Swift GGUFWriter must reproduce byte for byte from the same calls.

The expected values are asserted in Tests/GGUFTests; keep the two in step.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "GGUFTests" / "Fixtures"

# Byte offsets of the f16 scale fields in each k-quant block (llama.cpp ggml-common.h).
K_SCALE_FIELDS = {
    T.Q2_K: [80, 82],   # scales[16] qs[64] d dmin
    T.Q3_K: [108],      # hmask[32] qs[64] scales[12] d
    T.Q4_K: [0, 2],     # d dmin scales[12] qs[128]
    T.Q5_K: [0, 2],     # d dmin scales[12] qh[32] qs[128]
    T.Q6_K: [208],      # ql[128] qh[64] scales[16] d
}

COLUMNS = 512  # a multiple of every block size (32 and 256)


def random_k_blocks(rng: np.random.Generator, qtype: T, rows: int) -> np.ndarray:
    """Random valid blocks: random bytes with the f16 scales replaced by small positive halves."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * COLUMNS // block_size
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in K_SCALE_FIELDS[qtype]:
        scales = rng.uniform(1e-3, 5e-2, size=n_blocks).astype(np.float16)
        blocks[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, -1)


def f16_specials() -> np.ndarray:
    """Half-precision edge cases: zeros, subnormals, the extremes, infinities and a NaN."""
    bits = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xC000,
                     0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x3555, 0x0200, 0x83FF], dtype=np.uint16)
    return bits.view(np.float16)


def make_all_types(rng: np.random.Generator) -> None:
    """One tensor per supported type; expected floats concatenated in tensor order."""
    writer = gguf.GGUFWriter(str(FIXTURES / "all_types.gguf"), arch="test")
    expected = []

    def add(name: str, raw: np.ndarray, qtype: T) -> None:
        writer.add_tensor(name, raw, raw_dtype=qtype)
        expected.append(gguf.quants.dequantize(raw, qtype).astype(np.float32).ravel())

    # Plain float types, with edge cases in the first row.
    f32 = rng.standard_normal((3, COLUMNS)).astype(np.float32)
    f32[0, :4] = [0.0, -0.0, np.inf, -1e-42]
    writer.add_tensor("f32", f32)
    expected.append(f32.ravel())

    f16 = rng.standard_normal((3, COLUMNS)).astype(np.float16)
    f16[0, :16] = f16_specials()
    writer.add_tensor("f16", f16)
    expected.append(f16.astype(np.float32).ravel())

    bf_src = (rng.standard_normal((3, COLUMNS)) * 10).astype(np.float32)
    bf_src[0, :3] = [np.inf, -0.0, 1e-40]
    add("bf16", gguf.quants.quantize(bf_src, T.BF16), T.BF16)

    # Types gguf.quants can quantise: quantise random data (a few rows of differing scale).
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        data = rng.standard_normal((4, COLUMNS)).astype(np.float32) * np.array([[0.01], [1.0], [30.0], [0.5]], dtype=np.float32)
        add(qtype.name.lower(), gguf.quants.quantize(data, qtype), qtype)

    # k-quants: random valid blocks.
    for qtype in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        add(qtype.name.lower(), random_k_blocks(rng, qtype, 3), qtype)

    # A 3-d tensor: ne = [64, 2, 3] (numpy shape (3, 2, 64)), Q8_0.
    cube = rng.standard_normal((3, 2, 64)).astype(np.float32)
    add("q8_0.3d", gguf.quants.quantize(cube, T.Q8_0), T.Q8_0)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    np.concatenate(expected).astype("<f4").tofile(FIXTURES / "all_types.f32")


def make_model_slices(model: Path) -> None:
    """Rows copied from the real model, with their reference dequantisation."""
    if not model.exists():
        print(f"model not found at {model}; keeping existing model_slices fixtures", file=sys.stderr)
        return
    reader = gguf.GGUFReader(str(model))
    by_name = {t.name: t for t in reader.tensors}
    picks = [
        ("blk.0.attn_q.weight", 0, 48),       # Q4_1
        ("token_embd.weight", 1000, 1032),    # Q8_0
        ("blk.0.attn_norm.weight", 0, 1),     # F32
    ]
    writer = gguf.GGUFWriter(str(FIXTURES / "model_slices.gguf"), arch="llama")
    expected = []
    for name, r0, r1 in picks:
        t = by_name[name]
        data = np.asarray(t.data)
        if t.tensor_type == T.F32:
            rows = np.array(data.reshape(-1, data.shape[-1])[r0:r1], dtype=np.float32)
            writer.add_tensor(name, rows)
            expected.append(rows.ravel())
        else:
            rows = np.array(data[r0:r1], dtype=np.uint8)  # byte rows
            writer.add_tensor(name, rows, raw_dtype=t.tensor_type)
            expected.append(gguf.quants.dequantize(rows, t.tensor_type).astype(np.float32).ravel())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    np.concatenate(expected).astype("<f4").tofile(FIXTURES / "model_slices.f32")


def make_metadata() -> None:
    """Every metadata value type once; v3 and a v2 copy."""
    path = FIXTURES / "metadata.gguf"
    w = gguf.GGUFWriter(str(path), arch="test")
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint32("test.uint32", 4_000_000_000)
    w.add_int32("test.int32", -2_000_000_000)
    w.add_uint64("test.uint64", 2**63 + 5)
    w.add_int64("test.int64", -(2**62))
    w.add_float32("test.float32", 3.25)
    w.add_float64("test.float64", -1e300)
    w.add_bool("test.bool.true", True)
    w.add_bool("test.bool.false", False)
    w.add_string("test.string", "héllo ▁wörld 🙂")
    w.add_key_value("test.string.empty", "", V.STRING)
    w.add_array("test.array.int32", [1, -2, 3])
    w.add_array("test.array.float32", [0.5, -1.5])
    w.add_array("test.array.string", ["a", "", "ü"])
    w.add_array("test.array.bool", [True, False, True])
    w.add_key_value("test.array.uint64", [1, 2**64 - 1], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("test.array.int16", [-1, 7], V.ARRAY, sub_type=V.INT16)
    w.add_array("test.array.nested", [[1, 2], [3]])
    w.add_uint32("general.alignment", 64)
    w.add_tensor("t", np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    w.add_tensor("u", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.data_alignment = 64
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    raw = bytearray(path.read_bytes())
    raw[4:8] = (2).to_bytes(4, "little")
    (FIXTURES / "metadata_v2.gguf").write_bytes(bytes(raw))


def make_writer_golden() -> None:
    """A llama.cpp control vector as gguf.GGUFWriter writes it (see GGUFWriterTests)."""
    w = gguf.GGUFWriter(str(FIXTURES / "writer_golden.gguf"), arch="controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_uint32("controlvector.layer_count", 2)
    w.add_float32("test.scale", 0.75)
    w.add_array("test.labels", ["love", "hate"])
    for layer in (1, 2):
        w.add_tensor(f"direction.{layer}", (np.arange(10, dtype=np.float32) - 4.5) * layer / 8)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    home = Path(os.environ.get("PERISCOPE_HOME", Path.home() / ".cache" / "periscope"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=home / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261122)
    make_all_types(rng)
    make_model_slices(args.model)
    make_metadata()
    make_writer_golden()
    total = sum(p.stat().st_size for p in FIXTURES.iterdir() if p.is_file())
    print(f"wrote fixtures to {FIXTURES} ({total} bytes)")


if __name__ == "__main__":
    main()
