"""`periscope lsp` driven over stdio by a small LSP client of our own, as an editor or jupyter-lsp
drives it: Content-Length frames, JSON-RPC requests and notifications."""
import json
import os
import queue
import random
import subprocess
import sys
import threading

import pytest

from conftest import ROOT

BIN = ROOT / ".build" / "release" / "periscope"
URI = "file:///tmp/notebook.scope"
TIMEOUT = 20


class LSPClient:
    """Frames messages onto the server's stdin and reads its stdout on a thread."""

    def __init__(self):
        self.proc = subprocess.Popen([str(BIN), "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.incoming = queue.Queue()
        self.notifications = []
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.incoming.put(None)
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.incoming.put(json.loads(body))

    def send_bytes(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message):
        body = json.dumps(message).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method, params=None):
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def request(self, method, params=None):
        ident = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params or {}})
        return self.wait(lambda m: m.get("id") == ident)

    def wait(self, predicate):
        while True:
            message = self.incoming.get(timeout=TIMEOUT)
            assert message is not None, "the server closed its output: " + self.proc.stderr.read().decode()
            if predicate(message):
                return message
            self.notifications.append(message)

    def diagnostics(self, version):
        """The diagnostics published for URI at `version`."""
        for message in self.notifications:
            params = message.get("params", {})
            if message.get("method") == "textDocument/publishDiagnostics" and params.get("version") == version:
                return params["diagnostics"]
        message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"].get("version") == version)
        return message["params"]["diagnostics"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def client():
    c = LSPClient()
    yield c
    c.close()


def at(line, character):
    return {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}}


def rng(l0, c0, l1, c1):
    return {"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}}


def initialize(client):
    reply = client.request("initialize", {
        "processId": os.getpid(), "rootUri": None,
        "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown"]}}},
    })
    client.notify("initialized")
    return reply


# Two notebook cells as jupyterlab-lsp joins them: one document, cells apart by blank lines.
NOTEBOOK = (
    's = prompt "The capital of France is"\n'
    'lens s layrs 0..3 top 5\n'
    '\n'
    '\n'
    'patchscop s position -1\n'
    'run t top 3\n'
    't = prompt "Paris"\n'
)


def test_session_through_every_request(client):
    capabilities = initialize(client)["result"]["capabilities"]
    assert capabilities["positionEncoding"] == "utf-16"
    assert capabilities["textDocumentSync"]["change"] == 2
    for provider in ("hoverProvider", "completionProvider", "signatureHelpProvider", "definitionProvider",
                     "documentSymbolProvider"):
        assert capabilities[provider]

    client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "periscope", "version": 1,
                                                            "text": NOTEBOOK}})
    diagnostics = {d["code"]: d for d in client.diagnostics(1)}
    assert set(diagnostics) == {"unknown-keyword", "unknown-verb", "used-before-assignment"}
    assert diagnostics["unknown-keyword"]["range"] == rng(1, 7, 1, 12)
    assert "did you mean `layers`" in diagnostics["unknown-keyword"]["message"]
    assert diagnostics["unknown-verb"]["range"] == rng(4, 0, 4, 9)
    assert "did you mean `patchscope`" in diagnostics["unknown-verb"]["message"]
    assert diagnostics["used-before-assignment"]["range"] == rng(5, 4, 5, 5)
    assert diagnostics["used-before-assignment"]["severity"] == 2

    # The user fixes the typo in the second cell: insert the missing "e" of patchscope.
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2},
        "contentChanges": [{"range": rng(4, 9, 4, 9), "text": "e"}],
    })
    assert {d["code"] for d in client.diagnostics(2)} == {"unknown-keyword", "used-before-assignment"}

    hover = client.request("textDocument/hover", at(4, 3))["result"]
    assert hover["range"] == rng(4, 0, 4, 10)
    assert hover["contents"]["kind"] == "markdown"
    assert "patchscope S [model m1] position I" in hover["contents"]["value"]
    keyword = client.request("textDocument/hover", at(1, 19))["result"]
    assert "how many tokens" in keyword["contents"]["value"]

    # Completion of a keyword the verb still takes, then of presets after `target`.
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 3},
        "contentChanges": [{"range": rng(4, 24, 4, 24), "text": " target "}],
    })
    client.diagnostics(3)
    items = client.request("textDocument/completion", at(4, 32))["result"]["items"]
    labels = [item["label"] for item in items]
    assert labels[:3] == ["attribute", "description", "identity"]
    assert "s" in labels and "t" not in labels, "only variables assigned before the cursor"
    assert items[0]["textEdit"]["range"] == rng(4, 32, 4, 32)

    definition = client.request("textDocument/definition", at(1, 5))["result"]
    assert definition == {"uri": URI, "range": rng(0, 0, 0, 1)}

    signature = client.request("textDocument/signatureHelp", at(4, 32))["result"]
    label = signature["signatures"][0]["label"]
    start, end = signature["signatures"][0]["parameters"][signature["activeParameter"]]["label"]
    assert label[start:end] == "target"

    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})["result"]
    assert [s["name"] for s in symbols] == ["s", "t"]

    assert client.request("shutdown")["result"] is None
    client.notify("exit")
    assert client.proc.wait(timeout=TIMEOUT) == 0


def test_garbage_gets_errors_and_the_server_keeps_answering(client):
    initialize(client)
    client.send_bytes(b"this is not a header\r\n\r\n")
    assert client.wait(lambda m: "error" in m)["error"]["code"] == -32700
    client.send_bytes(b"Content-Length: 9\r\n\r\n{not json")
    assert client.wait(lambda m: "error" in m)["error"]["code"] == -32700
    assert client.request("no/such/method")["error"]["code"] == -32601
    client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "periscope", "version": 1,
                                                            "text": "lens"}})
    assert "lens p" in client.request("textDocument/hover", at(0, 2))["result"]["contents"]["value"]
    assert client.proc.poll() is None


def test_random_frames_never_kill_the_server(client):
    """Fuzz over the real pipe: random bytes, broken headers, mutated messages, random positions."""
    initialize(client)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "periscope", "version": 1,
                                                            "text": NOTEBOOK}})
    r = random.Random(18)
    pieces = ["lens", "p", " = ", " ", "\n", "[", "]", ",", '"', "..", "0..3", "-1", "#", "?", "\\", "layers", "😀"]
    for round_ in range(300):
        kind = r.randrange(4)
        if kind == 0:
            client.send_bytes(bytes(r.randrange(256) for _ in range(r.randrange(1, 48))))
        elif kind == 1:
            body = "".join(r.choice(pieces) for _ in range(r.randrange(20))).encode()
            client.send_bytes(b"Content-Length: %d\r\n\r\n" % min(len(body), r.randrange(len(body) + 1)) + body)
        elif kind == 2:
            method = r.choice(["textDocument/hover", "textDocument/completion", "textDocument/definition",
                               "textDocument/signatureHelp"])
            client.send({"jsonrpc": "2.0", "id": f"f{round_}", "method": method,
                         "params": at(r.randrange(-2, 10), r.randrange(-5, 50))})
        else:
            text = "".join(r.choice(pieces) for _ in range(r.randrange(30)))
            client.notify("textDocument/didChange", {
                "textDocument": {"uri": URI, "version": 10 + round_},
                "contentChanges": [{"range": rng(r.randrange(8), r.randrange(30), r.randrange(8), r.randrange(30)),
                                    "text": text}],
            })
    # Whatever half-frame the garbage left is closed off by a frame of blanks, then a real request is answered.
    client.send_bytes(b"\r\n" * 64)
    client.send_bytes(b" " * 70000)
    reply = client.request("shutdown")
    assert reply.get("result", "missing") is None, reply
    client.notify("exit")
    assert client.proc.wait(timeout=TIMEOUT) == 0


def test_install_registers_the_server_with_jupyter_lsp(tmp_path):
    out = subprocess.run([str(BIN), "install", "--prefix", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    config = tmp_path / "etc" / "jupyter" / "jupyter_server_config.d" / "periscope-lsp.json"
    spec = json.loads(config.read_text())["LanguageServerManager"]["language_servers"]["periscope"]
    assert spec["argv"][1:] == ["lsp"] and os.path.exists(spec["argv"][0])
    assert spec["languages"] == ["periscope"]

    # jupyter-lsp itself finds it there and accepts it.
    jupyter_lsp = pytest.importorskip("jupyter_lsp")
    from jupyter_lsp.schema import LANGUAGE_SERVER_SPEC
    LANGUAGE_SERVER_SPEC.validate(spec)
    script = ("from jupyter_lsp.manager import LanguageServerManager as M; import json; "
              "print(json.dumps(M(autodetect=False).conf_d_language_servers))")
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(tmp_path / "etc" / "jupyter"))
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["periscope"]["argv"] == spec["argv"]
    assert jupyter_lsp


def test_jupyter_lsp_proxies_the_server_for_the_periscope_language(tmp_path):
    """What jupyterlab-lsp does from the browser: ask jupyter-lsp for its servers, then speak LSP
    through its websocket; jupyter-lsp starts `periscope lsp` from the registration."""
    pytest.importorskip("jupyter_lsp")
    import socket
    import time
    import urllib.request
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    assert subprocess.run([str(BIN), "install", "--prefix", str(tmp_path)], capture_output=True,
                          timeout=60).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(tmp_path / "etc" / "jupyter"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                               "--IdentityProvider.token=lsp-test", f"--ServerApp.root_dir={tmp_path}", "--allow-root"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"127.0.0.1:{port}"
    try:
        status = None
        for _ in range(120):
            try:
                status = json.load(urllib.request.urlopen(f"http://{base}/lsp/status?token=lsp-test", timeout=5))
                break
            except OSError:
                time.sleep(0.5)
        assert status is not None, "jupyter server did not answer"
        assert status["sessions"]["periscope"]["spec"]["languages"] == ["periscope"]

        async def talk():
            ws = await websocket_connect(f"ws://{base}/lsp/ws/periscope?token=lsp-test")
            await ws.write_message(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                               "params": {"capabilities": {}}}))
            init = json.loads(await ws.read_message())
            await ws.write_message(json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                "textDocument": {"uri": "file:///cell.scope", "languageId": "periscope", "version": 1,
                                 "text": 'p = prompt "x"\nlense p\n'}}}))
            published = json.loads(await ws.read_message())
            ws.close()
            return init, published

        init, published = IOLoop.current().run_sync(talk, timeout=30)
        assert init["result"]["capabilities"]["hoverProvider"] is True
        [diagnostic] = published["params"]["diagnostics"]
        assert diagnostic["code"] == "unknown-verb" and diagnostic["range"] == rng(1, 0, 1, 5)
        assert "did you mean `lens`" in diagnostic["message"]
    finally:
        server.terminate()
        server.wait(timeout=30)
