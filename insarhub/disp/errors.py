"""DISP-S1 errors, under the library's one root."""

from __future__ import annotations

from insarhub.errors import DownloadError, InsarHubError, SearchError


class DispError(InsarHubError):
    """DISP-S1 products cannot be read, stacked or found as asked."""


class DispCoverageError(DispError, SearchError):
    """No DISP-S1 frame covers the AOI (for the dates asked)."""


class DispFileError(DispError, DownloadError):
    """A DISP-S1 file is truncated or corrupt and could not be fetched again."""
