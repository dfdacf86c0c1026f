"""Fixtures of the analyzer tests: simulated stacks rendered straight into `<workdir>/hyp3/`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from analyzer_helpers import Stack, build_stack

from insarhub.analyzer.hyp3_sbas import Hyp3SBASAnalyzer


@pytest.fixture
def make_stack(tmp_path: Path) -> Callable[..., Stack]:
    """Build a fresh stack working directory: `make_stack(dates=6, noise=False, ...)`."""
    counter = iter(range(100))

    def make(**options: object) -> Stack:
        return build_stack(tmp_path / f"stack{next(counter)}", **options)  # type: ignore[arg-type]

    return make


def _run_full(tmp_path_factory: pytest.TempPathFactory, name: str, **earth_options: object
              ) -> tuple[Hyp3SBASAnalyzer, Stack]:
    base = tmp_path_factory.mktemp(name)
    stack = build_stack(base / "p100_f466", **earth_options)
    with pytest.MonkeyPatch.context() as patch:  # no ERA5 credentials: troposphere off
        patch.setenv("HOME", str(base))
        patch.delenv("CDSAPI_URL", raising=False)
        patch.delenv("CDSAPI_KEY", raising=False)
        analyzer = Hyp3SBASAnalyzer(stack.workdir)
        analyzer.prep_data()
        analyzer.run()
    return analyzer, stack


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Hyp3SBASAnalyzer, Stack]:
    """A noise-free stack (linear deformation only) through every smallbaselineApp step."""
    return _run_full(tmp_path_factory, "clean", noise=False, seasonal_mm=0.0)


@pytest.fixture(scope="session")
def noisy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Hyp3SBASAnalyzer, Stack]:
    """The default simulated Earth (atmosphere, DEM error, decorrelation, seasonal)."""
    return _run_full(tmp_path_factory, "noisy", seed=7)
