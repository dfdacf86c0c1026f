"""Google Earth KMZ of the velocity, made by MintPy's own save_kmz."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from pathlib import Path

from insarhub.errors import ProductError
from insarhub.products.outputs import MintPyFiles

log = logging.getLogger(__name__)

# save_kmz changes the working directory while it zips: one at a time per process.
_SAVE_KMZ_LOCK = threading.Lock()


def write_velocity_kmz(files: MintPyFiles, path: Path, *, dpi: int = 150) -> Path:
    """Run MintPy's save_kmz on velocity.h5 (masked by maskTempCoh.h5 when present)."""
    from mintpy.cli.save_kmz import cmd_line_parse
    from mintpy.save_kmz import save_kmz

    if path.suffix != ".kmz":
        raise ProductError(f"KMZ path must end with .kmz, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [str(files.velocity), "-o", str(path.with_suffix("")), "-u", "mm/year",
            "--dpi", str(dpi)]
    if files.mask is not None:
        args += ["-m", str(files.mask)]
    console = io.StringIO()
    with _SAVE_KMZ_LOCK:
        try:
            with contextlib.redirect_stdout(console):
                save_kmz(cmd_line_parse(args))
        except (Exception, SystemExit) as exc:
            tail = console.getvalue()[-2000:]
            raise ProductError(f"MintPy save_kmz failed on {files.velocity}: {exc}\n{tail}") from exc
    log.debug("save_kmz output:\n%s", console.getvalue())
    if not path.is_file():
        raise ProductError(f"MintPy save_kmz did not write {path}")
    return path
