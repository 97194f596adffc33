"""Shared set-up for the integration tests: they drive the installed `periscope` kernelspec
through real Jupyter clients (jupyter_client over libzmq), exactly as JupyterLab would."""
import json
import os
import pathlib

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

KERNEL_NAME = "periscope"
ROOT = pathlib.Path(__file__).resolve().parents[2]
PERISCOPE_HOME = pathlib.Path(os.environ.get("PERISCOPE_HOME", pathlib.Path.home() / ".cache" / "periscope"))
MODEL_PATH = PERISCOPE_HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TIMEOUT = 60


def pytest_sessionstart(session):
    specs = KernelSpecManager().find_kernel_specs()
    if KERNEL_NAME not in specs:
        raise pytest.UsageError(
            "the periscope kernelspec is not installed in this environment; run `make test` (it runs "
            "`periscope install --prefix .venv` first)")


@pytest.fixture
def kernel():
    """A fresh kernel and a started blocking client; shut down after the test."""
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_cell(kc, code, timeout=TIMEOUT, **kwargs):
    """Executes `code` and returns (reply, outputs) where outputs are the iopub messages of this
    request between busy and idle, execute_input excluded."""
    msg_id = kc.execute(code, **kwargs)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    outputs = collect_iopub(kc, msg_id, timeout)
    return reply, outputs


def collect_iopub(kc, msg_id, timeout=TIMEOUT):
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
        if kind in ("status", "execute_input"):
            continue
        outputs.append(msg)


VND = "application/vnd.periscope.v1+json"


def displayed_payloads(outputs):
    """Every Periscope payload among a cell's iopub `outputs` (display_data and execute_result),
    in order, each followed by the items it groups."""
    found = []
    for m in outputs:
        if m["msg_type"] in ("display_data", "execute_result") and VND in m["content"]["data"]:
            payload = m["content"]["data"][VND]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            found += [payload] + list(payload.get("items", []))
    return found


def payload_with(payloads, key):
    """The first payload (or item of a composed one) among `payloads` that has `key`."""
    return next(x for x in payloads if key in x)


def requires_model():
    return pytest.mark.skipif(not MODEL_PATH.exists(), reason="default model missing: run `make model`")


# MARK: - JupyterLab in a browser (lab_browser.py)

SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server on a free local port whose root is an empty temporary folder; tests put
    the notebooks they open into `lab.root`."""
    from lab_browser import Lab
    root = tmp_path_factory.mktemp("lab")
    with open(root.parent / "jupyter-lab.log", "w") as log:
        server = Lab(root, log)
        try:
            yield server
        finally:
            server.close()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver) through Selenium."""
    from lab_browser import chromium
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()
