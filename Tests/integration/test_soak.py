"""A short soak run (soak.py; `make soak` runs the long one)."""
import json
import re

from conftest import ROOT, requires_model
from soak import Soak, verb_cells


def test_soak_sends_every_verb(tmp_path):
    """Every verb of the README's table heads some cell of the run (`load` heads the warm-up)."""
    verbs = set(re.findall(r"^\| `([a-z]+)` \|", (ROOT / "README.md").read_text(), flags=re.M))
    assert len(verbs) > 25, verbs
    heads = {"load"} | {re.sub(r"^\w+ = ", "", code).split()[0] for code in verb_cells(tmp_path)}
    assert verbs <= heads, f"verbs the soak never sends: {sorted(verbs - heads)}"


@requires_model()
def test_short_soak(tmp_path):
    with open(tmp_path / "kernel.log", "w") as log:
        soak = Soak(tmp_path, log)
        try:
            report = soak.run(seconds=25, restarts=1, seed=15)
        finally:
            soak.close()
    out = ROOT / "build" / "soak" / "short-report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    assert not report["failures"], report["failures"]
    assert report["requests"] == report["replies"]
    assert report["by_kind"].get("bad cell") and report["by_kind"].get("beyond budget")
    # Too short for the long run's first-against-last measure: memory must stay within 5% of what
    # the warm-up already reached (`make soak` holds the run's own growth under 5% over half an hour).
    assert report["memory_over_warm_up_percent"], report
    assert all(g < 5 for g in report["memory_over_warm_up_percent"]), (report["warm_up_peaks_mib"], report["memory_curves"])
