"""`pip install .` gives the product without the sandbox, and its `insarhub sandbox` says how to get it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_product_and_not_the_sandbox(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: the build leaves build/ and *.egg-info behind
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    for name in ("insarhub", "tasks", "flows", "sandbox"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("insarhub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if "/" in name and ".dist-info" not in name}
    assert packages == {"insarhub", "tasks", "flows"}
    assert "insarhub/analyzer/data/smallbaselineApp.cfg" in names  # package data comes along
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "insarhub = flows.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert any(n.endswith("/LICENSE") or n.endswith("licenses/LICENSE") for n in names)


def test_sandbox_command_without_the_sandbox_says_how_to_install_it() -> None:
    # a process in which the sandbox package cannot be imported, as after `pip install .`
    script = textwrap.dedent("""
        import sys
        class NoSandbox:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "insarhub_sandbox":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, NoSandbox())
        from flows.cli import main
        raise SystemExit(main(sys.argv[1:]))
    """)
    run = subprocess.run([sys.executable, "-c", script, "sandbox", "serve", "--port", "0"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 1
    assert "pip install -e ./sandbox" in run.stderr and "error:" in run.stderr
    listing = subprocess.run([sys.executable, "-c", script, "--help"], capture_output=True,
                             text=True, cwd=REPO, timeout=120)
    assert listing.returncode == 0 and "search" in listing.stdout and "sandbox" in listing.stdout
