"""Connecting to Argilla: where the server is and who we are come from the environment only.

ARGILLA_API_URL and ARGILLA_API_KEY point at any Argilla 2.x: the local one from
`scripts/argilla-local.sh up`, or a team's own deployment; nothing else changes.

Usage:
    connection = ArgillaConnection.from_env()
    client = connection.client()
    client.me.username
    # -> 'argilla'
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ftcore.errors import FtdataError
from ftcore.example import Example

if TYPE_CHECKING:
    import argilla as rg

URL_VARIABLE = "ARGILLA_API_URL"
KEY_VARIABLE = "ARGILLA_API_KEY"


class ArgillaUnavailable(FtdataError):
    """The Argilla server is not configured, not reachable, or refused our key."""


class ArgillaRequestError(FtdataError):
    """Argilla answered a request with an error (4xx, or 5xx after retries)."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class ArgillaConnection:
    api_url: str
    api_key: str = field(repr=False)  # a secret: never in a repr, a log line or an error message

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ArgillaConnection:
        environ = os.environ if environ is None else environ
        missing = [name for name in (URL_VARIABLE, KEY_VARIABLE) if not environ.get(name)]
        if missing:
            raise ArgillaUnavailable(
                f"{' and '.join(missing)} not set: point them at your Argilla, or start the local one with "
                '`eval "$(scripts/argilla-local.sh up)"`'
            )
        return cls(api_url=environ[URL_VARIABLE].rstrip("/"), api_key=environ[KEY_VARIABLE])

    def client(self, timeout: int = 60, retries: int = 5) -> rg.Argilla:
        """An SDK client for this server. Pass it on as `client=` everywhere: the SDK also makes
        every new `rg.Argilla` its global default, which must never be relied upon."""
        import argilla as rg  # the SDK import takes ~1 s; keep it off `ftdata --help`

        try:
            client = rg.Argilla(api_url=self.api_url, api_key=self.api_key, timeout=timeout, retries=retries)
            client.me  # noqa: B018 - touches the server: fails here, not at first use, on a bad URL or key
        except Exception as error:
            raise ArgillaUnavailable(f"cannot use Argilla at {self.api_url}: {self._describe(error)}") from None
        return client

    def _describe(self, error: Exception) -> str:
        """An error's first line, safe to show: the key is cut out should the SDK ever echo it."""
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return text.replace(self.api_key, "***")

    def request(self, method: str, path: str, *, api_key: str | None = None, attempts: int = 4, **kwargs: Any) -> Any:
        """One call of Argilla's REST API (`/api/v1/...`), as this connection's user or with `api_key`.

        Dropped connections and 5xx answers are retried with exponential backoff: after an HTTP 500
        the next request on a keep-alive connection can fail with a disconnect, and a server that is
        restarting answers again within seconds. A 4xx is the caller's problem and raised at once.
        """
        headers = {"X-Argilla-Api-Key": api_key or self.api_key}
        for attempt in range(1, attempts + 1):
            try:
                response = httpx.request(method, f"{self.api_url}{path}", headers=headers, timeout=60, **kwargs)
            except httpx.TransportError as error:
                if attempt == attempts:
                    raise ArgillaUnavailable(
                        f"cannot reach Argilla at {self.api_url}: {self._describe(error)}"
                    ) from None
            else:
                if response.status_code < 500 or attempt == attempts:
                    break
            time.sleep(0.5 * 2 ** (attempt - 1))
        if response.status_code >= 400:
            detail = response.text[:300].replace(self.api_key, "***")
            raise ArgillaRequestError(f"{method} {path}: HTTP {response.status_code}: {detail}", response.status_code)
        return response.json() if response.content else None

    def server_version(self) -> str:
        """The server's version string, from its unauthenticated /api/v1/version."""
        try:
            response = httpx.get(f"{self.api_url}/api/v1/version", timeout=10)
            response.raise_for_status()
            return response.json()["version"]
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise ArgillaUnavailable(f"cannot reach Argilla at {self.api_url}: {self._describe(error)}") from None


def record_fields(example: Example) -> dict[str, object]:
    """An example as Argilla fields: the conversation up to the last user turn (a ChatField) and
    the candidate answer (a TextField)."""
    return {
        "conversation": [message.to_dict() for message in example.prompt_messages],
        "answer": example.completion,
    }
