"""Regenerates the verb reference in README.md from the command table itself (`help` of each verb,
run through `periscope run`), between the markers <!-- verbs:begin --> and <!-- verbs:end -->.
Usage: python scripts/update_readme_reference.py [path/to/periscope]"""
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".build" / "release" / "periscope"


def run(code):
    with tempfile.NamedTemporaryFile("w", suffix=".scope", delete=False) as f:
        f.write(code + "\n")
    out = subprocess.run([str(BIN), "run", f.name], capture_output=True, text=True, check=True)
    return out.stdout


def main():
    overview = run("help")
    groups, current = [], None
    for line in overview.splitlines()[1:]:
        if line and not line.startswith(" "):
            current = (line.strip(), [])
            groups.append(current)
        elif line.startswith("  ") and current and not line.startswith("   "):
            verb = line.split()[0]
            current[1].append(verb)
    md = []
    for group, verbs in groups:
        md += [f"### {group}", "", "| verb | synopsis | what it does | example |", "|---|---|---|---|"]
        for verb in verbs:
            page = run(f"help {verb}").strip().split("\n\n")
            synopsis = page[0].strip()
            first = re.split(r"(?<=[.:])\s", page[1].strip(), maxsplit=1)[0].rstrip(":.")
            example = page[-1].split("\n", 1)[-1].strip() if page[-1].startswith("Example") else ""
            cell = lambda s: s.replace("|", "\\|")
            md.append(f"| `{verb}` | `{cell(synopsis)}` | {cell(first)} | `{cell(example)}` |")
        md.append("")
    readme = (ROOT / "README.md").read_text()
    block = "<!-- verbs:begin -->\n" + "\n".join(md) + "<!-- verbs:end -->"
    readme = re.sub(r"<!-- verbs:begin -->.*<!-- verbs:end -->", lambda _: block, readme, flags=re.S)
    (ROOT / "README.md").write_text(readme)
    print(f"README.md: {sum(len(v) for _, v in groups)} verbs")


if __name__ == "__main__":
    main()
