"""The README's examples run as written, and nothing in the project cites internal documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```", flags=re.S)


def test_every_readme_code_block_is_run_or_a_shell_command():
    kinds = {lang for lang, _ in FENCE.findall(README.read_text())}
    assert kinds <= {"python", "bash"}, f"untested code blocks: {kinds - {'python', 'bash'}}"


def test_readme_python_blocks_run():
    blocks = [code for lang, code in FENCE.findall(README.read_text()) if lang == "python"]
    assert len(blocks) >= 5, "README has lost its examples"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


#: What a clone does not have: the team's specs and work items.
INTERNAL = re.compile(
    r"shared/spec[s]|\bspecs?\s*§|\bspec\b[^\n]{0,20}\bclaim \d|\bissue\s\d+\b|\bspec's\b"
    r"|\bspec-style\b|\bthe issue's\b|def test_\w*claim_\d",
    re.I,
)


def test_no_file_cites_internal_documents():
    files = [README, *ROOT.glob("docs/**/*.md"), *ROOT.glob("notebooks/*.ipynb")]
    for pkg in ("theory", "stability", "causal", "trainers", "perturbation", "tests"):
        files += list((ROOT / pkg).rglob("*.py"))
    hits = []
    for f in files:
        for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            if INTERNAL.search(line) and f != Path(__file__).resolve():
                hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:100]}")
    assert not hits, "cite the paper (theorem, equation, page) instead:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    ("text", "internal"),
    [
        ("see shared/" + "specs/x.md", True),
        ("spec " + "§3", True),
        ("issue " + "14", True),
        ("the spec" + "'s table", True),
        ("def test_" + "claim_3_x():", True),
        ("Fazlyab et al., NeurIPS 2019, Theorem 2", False),
        ("spectral norm; the issues list", False),
    ],
)
def test_the_internal_citation_pattern(text, internal):
    assert bool(INTERNAL.search(text)) is internal
