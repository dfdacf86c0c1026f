"""asf_search pointed at the right catalog: ASF's CMR by default, `INSARHUB_ASF_URL` otherwise.

asf_search hard-codes `https://{host}`; for a loopback catalog served over plain HTTP (the
sandbox) a transport adapter mounted on that prefix rewrites the scheme. Every catalog call
retries 429/5xx answers with backoff and jitter (`insarhub.retry`). Search errors are never posted to ASF.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import asf_search
import requests
from asf_search import ASFSearchOptions, ASFSession
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from insarhub import settings
from insarhub.retry import CATALOG_POLICY

log = logging.getLogger(__name__)

asf_search.REPORT_ERRORS = False  # never post our search errors to ASF
if logging.getLogger("asf_search").level == logging.NOTSET:  # its INFO lines dump every query
    logging.getLogger("asf_search").setLevel(logging.WARNING)

def catalog_retry(total: int = CATALOG_POLICY.attempts - 1) -> Retry:
    """Retries for catalog POSTs (`insarhub.retry`): 429/5xx and broken answers.

    A catalog that cannot be reached at all is retried twice only, so that a wrong
    INSARHUB_ASF_URL fails in about a second instead of hanging."""
    policy = replace(CATALOG_POLICY, attempts=total + 1)
    return policy.urllib3_retry(connect=min(total, 2))


class PlainHTTPAdapter(HTTPAdapter):
    """Sends `https://host:port/...` requests as `http://host:port/...` (loopback catalogs)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, *args, **kwargs)


def catalog_host(url: str | None = None) -> str:
    """The `host[:port]` asf_search should search: from `url`, `INSARHUB_ASF_URL`, or ASF's CMR."""
    url = url or settings.asf_url()
    if not url:
        return settings.ASF_DEFAULT_HOST
    parts = urlsplit(url if "//" in url else f"https://{url}")
    return parts.netloc


def catalog_session(url: str | None = None, retries: int = 5) -> ASFSession:
    """An ASFSession for the catalog at `url` (default: `INSARHUB_ASF_URL`, else ASF), with retries."""
    url = url or settings.asf_url()
    session = ASFSession()
    host = catalog_host(url)
    if url and urlsplit(url if "//" in url else f"https://{url}").scheme == "http":
        session.mount(f"https://{host}", PlainHTTPAdapter(max_retries=catalog_retry(retries)))
    else:
        session.mount("https://", HTTPAdapter(max_retries=catalog_retry(retries)))
    return session


def search_options(url: str | None = None, **keywords: Any) -> ASFSearchOptions:
    """ASFSearchOptions carrying the catalog host and session plus the search keywords."""
    return ASFSearchOptions(host=catalog_host(url), session=catalog_session(url), **keywords)
