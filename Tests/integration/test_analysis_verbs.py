"""The steering and analysis verbs end to end through a real Jupyter client: a control vector
exported with `export v to "file.gguf"` is read back with the `gguf` package (as llama.cpp would
see it), and `project`'s PCA matches numpy's on activations exported as .npy."""
import json

import numpy as np
import pytest

from conftest import VND, requires_model, run_cell

SLOW = 300


def result_payload(kc, code):
    reply, outputs = run_cell(kc, code, timeout=SLOW)
    assert reply["content"]["status"] == "ok", (code, reply["content"])
    results = [o for o in outputs if o["msg_type"] == "execute_result"]
    assert results, code
    payload = results[-1]["content"]["data"][VND]
    return json.loads(payload) if isinstance(payload, str) else payload


@requires_model()
def test_control_vector_reads_back_with_gguf(kernel, tmp_path):
    gguf = pytest.importorskip("gguf")
    _, kc = kernel
    result_payload(kc, 'load "smollm2"')
    vector = result_payload(kc, 'v = direction ["Love", "I adore you"] minus ["Hate", "I despise you"] layer 6\nv')
    path = tmp_path / "love.gguf"
    result_payload(kc, f'export v to "{path}"')

    reader = gguf.GGUFReader(str(path))

    def field(name):
        f = reader.fields[name]
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types[0] == gguf.GGUFValueType.STRING else value.tolist()[0]

    assert field("general.architecture") == "controlvector"
    assert field("controlvector.model_hint") == "llama"
    assert field("controlvector.layer_count") == 1
    assert [t.name for t in reader.tensors] == ["direction.6"]    # llama.cpp adds direction.N to block N's output
    tensor = reader.tensors[0]
    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
    data = np.asarray(tensor.data, dtype=np.float32).reshape(-1)
    assert data.shape == (576,)
    np.testing.assert_allclose(data, np.array(vector["values"], dtype=np.float32), rtol=1e-5, atol=1e-5)


@requires_model()
def test_project_pca_matches_numpy(kernel, tmp_path):
    _, kc = kernel
    prompts = ["The cat sat", "A dog ran", "My car broke", "The bus came", "An apple fell", "Paris is big"]
    layer = 10
    result_payload(kc, 'load "smollm2"')
    rows = []
    for i, text in enumerate(prompts):
        path = tmp_path / f"p{i}.npy"
        result_payload(kc, f'export "{text}" hook "blocks.{layer}.hook_resid_post" to "{path}"')
        states = np.load(path)
        assert states.ndim == 2 and states.shape[1] == 576
        rows.append(states[-1].astype(np.float64))     # the last position, as `project` reads
    x = np.stack(rows)

    listing = ", ".join(f'"{p}"' for p in prompts)
    got = result_payload(kc, f"project [{listing}] layer {layer}")

    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s ** 2 / (len(prompts) - 1)
    ratio = variance / variance.sum()
    np.testing.assert_allclose(got["explained_variance"], variance[:2], rtol=2e-3)
    np.testing.assert_allclose(got["explained_variance_ratio"], ratio[:2], rtol=2e-3)
    projections = np.array(got["projections"])
    components = np.array(got["components"])
    for k in range(2):
        sign = np.sign(components[k] @ vt[k])       # PCA axes are defined up to sign
        np.testing.assert_allclose(sign * components[k], vt[k], atol=2e-3)
        np.testing.assert_allclose(sign * projections[:, k], centred @ vt[k], rtol=2e-3, atol=2e-3 * s[0])
