"""Where the services are and who we are: environment variables and credentials.

`INSARHUB_ASF_URL` (catalog), `INSARHUB_HYP3_URL` (HyP3 API) and `EARTHDATA_TOKEN` point every
entry point at another service, such as the sandbox. Secrets are held as `SecretStr` so that
they never print, and `redact()` scrubs them from any text before it is logged or raised.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from pydantic import SecretStr

ASF_URL_ENV = "INSARHUB_ASF_URL"
HYP3_URL_ENV = "INSARHUB_HYP3_URL"
TOKEN_ENV = "EARTHDATA_TOKEN"

ASF_DEFAULT_HOST = "cmr.earthdata.nasa.gov"
HYP3_DEFAULT_URL = "https://hyp3-api.asf.alaska.edu"
EARTHDATA_LOGIN_HOST = "urs.earthdata.nasa.gov"


def asf_url() -> str | None:
    """The catalog base URL from the environment, or None for ASF's own catalog."""
    value = os.environ.get(ASF_URL_ENV, "").strip()
    return value.rstrip("/") or None


def hyp3_url() -> str:
    """The HyP3 API base URL: the environment's, else ASF's production API."""
    value = os.environ.get(HYP3_URL_ENV, "").strip()
    return value.rstrip("/") or HYP3_DEFAULT_URL


def is_loopback(url: str) -> bool:
    """True for a URL on this machine (the sandbox)."""
    host = urlparse(url if "//" in url else f"//{url}").hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


def earthdata_token() -> SecretStr | None:
    """The Earthdata bearer token from `EARTHDATA_TOKEN`, if set."""
    value = os.environ.get(TOKEN_ENV, "").strip()
    return SecretStr(value) if value else None


def netrc_login(host: str = EARTHDATA_LOGIN_HOST) -> tuple[str, SecretStr] | None:
    """(username, password) for `host` from `~/.netrc` (or `$NETRC`), if present."""
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError):
        return None
    if not entry or not entry[0] or not entry[2]:
        return None
    return entry[0], SecretStr(entry[2])


def known_secrets() -> list[str]:
    """Every secret value this process knows of, for `redact`."""
    secrets: list[str] = []
    token = earthdata_token()
    if token:
        secrets.append(token.get_secret_value())
    login = netrc_login()
    if login:
        secrets.append(login[1].get_secret_value())
    return [s for s in secrets if len(s) >= 4]


def redact(text: str, extra: list[str] | None = None) -> str:
    """`text` with every known secret replaced by `***`."""
    for secret in known_secrets() + list(extra or []):
        if secret:
            text = text.replace(secret, "***")
    return text
