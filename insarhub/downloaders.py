"""The seed's `Downloader` types: a Sentinel-1 search that also selects interferogram pairs.

The search (`insarhub.search`) knows nothing of pairs; the pair network (`insarhub.network`)
is built on searched scenes. These classes join the two for the seed's
`s1.select_pairs()`, from a module above both, so the arrow runs one way.
"""

from __future__ import annotations

from typing import Any

from insarhub.network import select_pairs
from insarhub.search import downloader as search


class PairSelection:
    """`select_pairs()` on a search's current stacks."""

    def select_pairs(self: Any, **options: Any) -> Any:
        """Interferogram pairs for every current stack (see `insarhub.network.select_pairs`)."""
        self._require_results()
        return select_pairs(self.stacks, **options)


class S1SLCDownloader(PairSelection, search.S1SLCSearch):
    """`Downloader.create('S1_SLC', ...)`: IW SLC frames, one stack per path and frame."""


class S1BurstDownloader(PairSelection, search.S1BurstSearch):
    """`Downloader.create('S1_Burst', ...)`: bursts, one multi-burst stack per orbit."""
