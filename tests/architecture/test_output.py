"""The library logs; it prints only where printing is its job (CLI output, the display
methods of the notebook API through `insarhub.console.show`, the MintPy runner's markers)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALLOWED = {
    "insarhub/console.py",            # the notebook API's output
    "insarhub/analyzer/runner.py",    # marker lines its parent process reads on stdout
    "insarhub/analyzer/append.py",    # the same markers
    "insarhub/products/serve.py",     # its command line (`python -m insarhub.products.serve`)
}
CLI_DIRS = ("insarhub/cli/",)


def _prints(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id == "print"]


def test_library_and_tasks_do_not_print() -> None:
    found = []
    for root in ("insarhub", "tasks"):
        for path in sorted((REPO / root).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            if name in ALLOWED or name.startswith(CLI_DIRS):
                continue
            found += [f"{name}:{line}" for line in _prints(path)]
    assert found == [], "log (logging.getLogger(__name__)) or insarhub.console.show instead"
