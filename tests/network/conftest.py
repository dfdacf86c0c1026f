"""Real recorded ASF stacks as asf_search products, and synthetic stacks built from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from asf_search import ASFSession
from asf_search.search.search_generator import as_ASFProduct

from insarhub.network.synthetic import synthetic_stack

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_items(path: Path) -> list[dict[str, Any]]:
    """The recorded search results of an asf_search fixture (YAML flow style)."""
    with path.open() as handle:
        data = yaml.load(handle, Loader=_LOADER)  # noqa: S506 (a safe loader)
    return data if isinstance(data, list) else [data]


def as_products(items: list[dict[str, Any]]) -> list[Any]:
    session = ASFSession()
    return [as_ASFProduct({"umm": i["umm"], "meta": i["meta"]}, session) for i in items]


@pytest.fixture(scope="session")
def recorded(fixtures_dir: Path) -> Callable[[str], tuple[list[dict[str, Any]], list[Any]]]:
    """``recorded("Fairbanks_SLC")`` -> (recorded items, their asf_search products)."""

    def load(name: str) -> tuple[list[dict[str, Any]], list[Any]]:
        items = read_items(fixtures_dir / "asf_search" / f"{name}.yml")
        return items, as_products(items)

    return load


@pytest.fixture(scope="session")
def burst_items(fixtures_dir: Path) -> list[dict[str, Any]]:
    return read_items(fixtures_dir / "asf_search" / "SLC_BURST_stack.yml")


@pytest.fixture(scope="session")
def burst_stack(burst_items: list[dict[str, Any]]) -> list[Any]:
    """ASF's 166-burst stack 174_372326_IW3 as S1BurstProduct objects."""
    return as_products(burst_items)


@pytest.fixture(scope="session")
def fairbanks_items(fixtures_dir: Path) -> list[dict[str, Any]]:
    return read_items(fixtures_dir / "asf_search" / "Fairbanks_S1_stack.yml")


@pytest.fixture(scope="session")
def fairbanks_stack(fairbanks_items: list[dict[str, Any]]) -> list[Any]:
    return as_products(fairbanks_items)


@pytest.fixture(scope="session")
def slc_template(fixtures_dir: Path) -> Any:
    return as_products(read_items(fixtures_dir / "asf_search" / "Fairbanks_SLC.yml"))[0]


@pytest.fixture(scope="session")
def burst_template(fixtures_dir: Path) -> Any:
    return as_products(read_items(fixtures_dir / "asf_search" / "SLC_BURST.yml"))[0]


MakeStack = Callable[..., list[Any]]


@pytest.fixture(scope="session")
def make_stack(slc_template: Any) -> MakeStack:
    """Synthetic SLC stack: ``make_stack(days, bperp=None, seed=0, template=None)``."""

    def make(days: Sequence[int], bperp: Sequence[float] | np.ndarray | None = None, seed: int = 0,
             template: Any = None, **kwargs: Any) -> list[Any]:
        if bperp is None:
            bperp = np.random.default_rng(seed).normal(0.0, 40.0, len(days))
        return synthetic_stack(template or slc_template, days, bperp, **kwargs)

    return make


def _gapped_days(gap: int, n_before: int = 20, n_after: int = 20, repeat: int = 12) -> list[int]:
    before = [k * repeat for k in range(n_before)]
    start = before[-1] + gap
    return before + [start + k * repeat for k in range(n_after)]


@pytest.fixture(scope="session")
def gapped_days() -> Callable[..., list[int]]:
    """``gapped_days(gap)``: a 12-day stack with one acquisition gap of ``gap`` days."""
    return _gapped_days
