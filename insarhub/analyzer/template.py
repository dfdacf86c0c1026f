"""MintPy templates: only valid keys, values in MintPy's spelling, written for smallbaselineApp.

The valid keys are those of MintPy's own `smallbaselineApp.cfg`, shipped in `data/`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from insarhub.errors import ConfigError

DEFAULT_CFG = Path(__file__).with_name("data") / "smallbaselineApp.cfg"

# smallbaselineApp steps, in order (mintpy.defaults.template.STEP_LIST)
STEPS: tuple[str, ...] = (
    "load_data", "modify_network", "reference_point", "quick_overview", "correct_unwrap_error",
    "invert_network", "correct_LOD", "correct_SET", "correct_ionosphere", "correct_troposphere",
    "deramp", "correct_topography", "residual_RMS", "reference_date", "velocity", "geocode",
    "google_earth", "hdfeos5",
)

OptionValue = str | int | float | bool | Iterable[object] | None


@lru_cache(maxsize=1)
def valid_keys(cfg: Path = DEFAULT_CFG) -> frozenset[str]:
    """Every `mintpy.*` key of MintPy's default template."""
    keys = set()
    for line in cfg.read_text().splitlines():
        content = line.split("#", 1)[0]
        if "=" in content:
            key = content.split("=", 1)[0].strip()
            if key.startswith("mintpy."):
                keys.add(key)
    return frozenset(keys)


def format_value(key: str, value: OptionValue) -> str:
    """A template value in MintPy's spelling: yes/no, comma-joined lists, auto for None."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, Iterable):
        text = ",".join(str(v) for v in value)
    else:  # pragma: no cover - guarded by the type
        raise ConfigError(f"MintPy option {key} has a value of type {type(value).__name__}; "
                          "use a string, number, yes/no boolean or a list")
    if not text or "\n" in text or "#" in text:
        raise ConfigError(f"MintPy option {key} = {value!r} is not a valid template value "
                          "(empty, or containing a newline or '#')")
    return text


def check_options(options: Mapping[str, OptionValue] | None) -> dict[str, str]:
    """Validate user MintPy options; unknown keys raise `ConfigError` naming them."""
    checked: dict[str, str] = {}
    keys = valid_keys()
    for key, value in (options or {}).items():
        if not isinstance(key, str) or key not in keys:
            close = difflib.get_close_matches(str(key), sorted(keys), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"mintpy_options key {key!r} is not a MintPy smallbaselineApp option{hint} "
                f"(valid keys: the mintpy.* keys of {DEFAULT_CFG.name})")
        checked[key] = format_value(key, value)
    return checked


def check_steps(steps: Iterable[str] | str | None) -> list[str]:
    """The smallbaselineApp steps to run, in MintPy's order; all of them for None."""
    if steps is None:
        return list(STEPS)
    if isinstance(steps, str):
        steps = [s for s in steps.replace(",", " ").split() if s]
    wanted = list(steps)
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        raise ConfigError(f"steps {unknown} are not smallbaselineApp steps; allowed: {', '.join(STEPS)}")
    if not wanted:
        raise ConfigError("steps is empty; give at least one smallbaselineApp step or None for all")
    return [s for s in STEPS if s in wanted]


def cds_configured() -> bool:
    """Whether ERA5 (CDS) credentials exist for MintPy's pyaps troposphere correction."""
    if os.environ.get("CDSAPI_URL") and os.environ.get("CDSAPI_KEY"):
        return True
    return (Path.home() / ".cdsapirc").is_file()


def write_template(path: Path, options: Mapping[str, str], header: str = "") -> Path:
    """Write a custom template (`key = value` lines) after checking every key."""
    keys = valid_keys()
    bad = [k for k in options if k not in keys]
    if bad:
        raise ConfigError(f"template keys {bad} are not MintPy smallbaselineApp options")
    width = max((len(k) for k in options), default=0)
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{key:<{width}} = {value}" for key, value in options.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_template(path: Path) -> dict[str, str]:
    """The `key = value` pairs of a template file (comments dropped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        content = line.split("#", 1)[0]
        if "=" in content:
            key, value = (part.strip() for part in content.split("=", 1))
            values[key] = value
    return values
