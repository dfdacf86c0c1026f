"""One error root for the whole library, one subclass per domain.

Messages name the field, the value and what is allowed, and never contain secrets.
"""

from __future__ import annotations

from typing import Any


class InsarHubError(Exception):
    """Root of every error raised on purpose by insarhub."""


class RetriesExhausted(InsarHubError):
    """A service kept failing through every HTTP retry (`insarhub.retry`); not retried again."""


class ConfigError(InsarHubError, ValueError):
    """A configuration value or option is invalid."""


class AOIError(InsarHubError, ValueError):
    """The area of interest cannot be read or is not a valid polygon."""


class SearchError(InsarHubError):
    """The catalog search failed or returned nothing usable."""


class StackError(InsarHubError, KeyError):
    """An unknown stack was named, or a stack cannot be used as asked."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CredentialsError(InsarHubError):
    """Earthdata credentials are missing or were refused."""


class DownloadError(InsarHubError):
    """A file could not be downloaded or failed verification."""


class PairNetworkError(InsarHubError, ValueError):
    """An interferogram pair network cannot be built from the given scenes."""


class ProcessorError(InsarHubError):
    """Interferogram processing (HyP3 or ISCE2) failed."""


class HyP3Error(ProcessorError):
    """HyP3 refused a request or answered with an error."""


class CreditError(HyP3Error):
    """Not enough HyP3 credits for the jobs asked for."""


class LedgerError(InsarHubError):
    """The job ledger is unreadable or inconsistent."""


class IsceError(ProcessorError):
    """ISCE2 topsStack processing failed or is not installed."""


class MintPyError(InsarHubError):
    """MintPy preparation or a smallbaselineApp step failed."""


class ProductError(InsarHubError):
    """A product could not be written or published."""


def config_error(model: str, exc: Any) -> ConfigError:
    """A ConfigError naming each bad field, its value and the rule (from a pydantic error)."""
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or model}: {e['msg']} "
                         f"(got {e.get('input')!r})" for e in exc.errors())
    return ConfigError(f"{model}: {problems}")


class CatalogUnavailableError(SearchError, RetriesExhausted):
    """The catalog could not be searched after every retry."""


class DownloadRetriesExhausted(DownloadError, RetriesExhausted):
    """Files that still failed after every retry (a later run resumes them)."""
