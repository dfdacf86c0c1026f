"""`Downloader`, `Processor` and `Analyzer`: the seed's factories, `X.create('Type', ...)`.

Each type lives in its own module and is imported only when asked for, so that a notebook that
only searches never imports MintPy.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from insarhub.errors import ConfigError


class _Factory:
    kind: ClassVar[str]
    types: ClassVar[dict[str, str]]

    @classmethod
    def available(cls) -> list[str]:
        return sorted(cls.types)

    @classmethod
    def resolve(cls, name: str) -> type:
        if name not in cls.types:
            raise ConfigError(
                f"{cls.kind} type {name!r} is unknown; choose one of {', '.join(cls.available())}"
            )
        module_name, _, attr = cls.types[name].partition(":")
        implementation: type = getattr(importlib.import_module(module_name), attr)
        return implementation

    @classmethod
    def create(cls, name: str, *args: Any, **kwargs: Any) -> Any:
        """Build the `name` implementation with the given options."""
        return cls.resolve(name)(*args, **kwargs)


class Downloader(_Factory):
    """Sentinel-1 search and download: `Downloader.create('S1_SLC', intersectsWith=AOI)`."""

    kind = "Downloader"
    types = {
        "S1_SLC": "insarhub.downloaders:S1SLCDownloader",
        "S1_Burst": "insarhub.downloaders:S1BurstDownloader",
        "S1_DISP": "insarhub.search.disp:S1DispDownloader",
    }


class Processor(_Factory):
    """Interferogram processing: `Processor.create('Hyp3_S1', pairs=..., workdir=...)`."""

    kind = "Processor"
    types = {
        "Hyp3_S1": "insarhub.processor.hyp3:Hyp3S1Processor",
        "Hyp3_Burst": "insarhub.processor.hyp3:Hyp3BurstProcessor",
        "ISCE_S1": "insarhub.processor.isce:IsceS1Processor",
    }


class Analyzer(_Factory):
    """Time-series analysis: `Analyzer.create('Hyp3_SBAS', workdir=...)`."""

    kind = "Analyzer"
    types = {
        "Hyp3_SBAS": "insarhub.analyzer.hyp3_sbas:Hyp3SBASAnalyzer",
        "ISCE_SBAS": "insarhub.analyzer.isce_sbas:IsceSBASAnalyzer",
    }
