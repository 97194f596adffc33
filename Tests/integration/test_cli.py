"""The `periscope` command line: run, install, --version."""
import json
import os
import pathlib
import subprocess

from conftest import ROOT

BIN = ROOT / ".build" / "release" / "periscope"


def periscope(*args, **kw):
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def test_version():
    out = periscope("--version")
    assert out.returncode == 0
    assert out.stdout.strip()[0].isdigit()


def test_run_script_prints_outputs(tmp_path):
    script = tmp_path / "ok.scope"
    script.write_text('# a comment\nx = 3\nprint "hello from a script"\nshow x\n')
    out = periscope("run", script)
    assert out.returncode == 0, out.stderr
    assert "hello from a script" in out.stdout
    assert "3" in out.stdout.splitlines()[-1]


def test_run_script_stops_at_first_error(tmp_path):
    script = tmp_path / "bad.scope"
    script.write_text('print "before"\nprint [1, 2\nprint "after"\n')
    out = periscope("run", script)
    assert out.returncode == 1
    assert "before" in out.stdout
    assert "after" not in out.stdout
    assert "line 2" in out.stderr


def test_run_missing_file(tmp_path):
    out = periscope("run", tmp_path / "nope.scope")
    assert out.returncode != 0
    assert "nope.scope" in out.stderr


def test_install_prefix(tmp_path):
    out = periscope("install", "--prefix", tmp_path)
    assert out.returncode == 0, out.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "periscope"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "Periscope"
    assert spec["language"] == "periscope"
    assert os.path.isabs(spec["argv"][0]) and os.path.exists(spec["argv"][0])
    assert "{connection_file}" in spec["argv"]
    assert spec["interrupt_mode"] == "message"
    assert "curve" in spec["metadata"]["supported_encryption"]
    assert (spec_dir / "logo-64x64.png").exists()
