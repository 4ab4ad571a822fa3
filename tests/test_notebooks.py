"""Run every notebook in ``notebooks/`` top to bottom, without Jupyter.

The code cells of each notebook are executed in order in one fresh namespace, the way a kernel
would run them after "Restart & Run All". The notebooks ``assert`` the numbers they show, so a
broken theory fails here. ``NOTEBOOK_SCALE=small`` asks each notebook for its quick version.
IPython magics and shell escapes (lines starting with ``%`` or ``!``) are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_cells(nb: dict) -> list[str]:
    """The code cells' sources, without IPython magics and shell escapes."""
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = _source(cell).splitlines()
        cells.append("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))
    return cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOK_SCALE", "small")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(path.parent)  # a kernel starts in the notebook's folder
    namespace: dict = {"__name__": "__main__"}
    try:
        for i, source in enumerate(_code_cells(_load(path))):
            # The filename makes tracebacks name the notebook and the cell.
            exec(compile(source, f"{path.name}[code cell {i}]", "exec"), namespace)
    finally:
        plt.close("all")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean(path: Path) -> None:
    """Valid nbformat 4 with a Python 3 kernelspec and no stored outputs."""
    nb = _load(path)
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code cells"
    for i, cell in enumerate(code):
        assert cell.get("outputs") == [], f"code cell {i} has stored outputs"
        assert cell.get("execution_count") is None, f"code cell {i} has an execution count"
