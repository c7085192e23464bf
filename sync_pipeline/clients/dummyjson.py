"""HTTP client for the DummyJSON product API (or any server that speaks it).

The client makes one attempt per call, except that it waits out a 429 for as long
as ``Retry-After`` says (bounded) and tries again. Everything else that may pass
(timeouts, dropped connections, 5xx, truncated bodies) is raised as
``SourceUnavailable`` so the Dagster step's retry policy decides what happens next;
anything that will not pass by retrying (4xx, a body that is not the API's shape) is
``SourceError``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import requests
from pydantic import ValidationError

from sync_pipeline.clients.models import DummyJSONPage
from sync_pipeline.settings import DEFAULT_DUMMYJSON_URL

log = logging.getLogger(__name__)

# DummyJSON's rate limit window is 10 s: a 429 without Retry-After waits that long.
DEFAULT_RATE_LIMIT_WAIT = 10.0


class SourceError(Exception):
    """The source answered, but with something a retry will not fix."""


class SourceUnavailable(SourceError):
    """A failure that may pass: timeout, dropped connection, 5xx, 429, truncated body."""


class DummyJSONClient:
    def __init__(
        self,
        base_url: str = DEFAULT_DUMMYJSON_URL,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_rate_limit_waits: int = 3,
        max_retry_after: float = 60.0,
        max_response_bytes: int = 20 * 1024 * 1024,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept", "application/json")
        self._sleep = sleep
        self.rate_limit_waits = 0

    def close(self) -> None:
        self.session.close()

    def fetch_page(self, *, skip: int, limit: int) -> DummyJSONPage:
        """One page of products in a stable order (by id, so new ids append at the end)."""
        body = self._get_json(
            "/products", {"limit": limit, "skip": skip, "sortBy": "id", "order": "asc"}
        )
        try:
            return DummyJSONPage.model_validate(body)
        except ValidationError as error:
            raise SourceError(
                f"GET /products?skip={skip}&limit={limit} is not a product page: {error}"
            ) from error

    def fetch_total(self) -> int:
        """How many products the source has (one product's id is all it sends besides)."""
        body = self._get_json("/products", {"limit": 1, "skip": 0, "select": "id"})
        try:
            return DummyJSONPage.model_validate(body).total
        except ValidationError as error:
            raise SourceError(f"GET /products?limit=1 is not a product page: {error}") from error

    def fetch_categories(self) -> list[Any]:
        """The category list, in whichever shape the server speaks (objects or bare slugs)."""
        body = self._get_json("/products/categories", {})
        if not isinstance(body, list):
            raise SourceError(f"GET /products/categories: expected a JSON array, got {body!r:.80}")
        return body

    def _get_json(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        waits = 0
        while True:
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, stream=True)
            except requests.Timeout as error:
                raise SourceUnavailable(f"GET {path}: timed out ({error})") from error
            except requests.RequestException as error:
                raise SourceUnavailable(
                    f"GET {path}: connection failed ({_reason(error)})"
                ) from error
            with response:
                if response.status_code == 429 and waits < self.max_rate_limit_waits:
                    waits += 1
                    self.rate_limit_waits += 1
                    wait = self._retry_after(response)
                    log.warning("GET %s: rate limited, waiting %.1f s (Retry-After)", path, wait)
                    self._sleep(wait)
                    continue
                return self._decode(path, response)

    def _retry_after(self, response: requests.Response) -> float:
        header = response.headers.get("Retry-After", "")
        try:
            wait = float(header)
        except ValueError:
            wait = DEFAULT_RATE_LIMIT_WAIT
        return min(max(wait, 0.0), self.max_retry_after)

    def _decode(self, path: str, response: requests.Response) -> Any:
        status = response.status_code
        if status == 429 or status >= 500:
            raise SourceUnavailable(f"GET {path}: HTTP {status} {_message(response)}")
        if status >= 400:
            raise SourceError(f"GET {path}: HTTP {status} {_message(response)}")
        raw = self._read_bounded(path, response)
        try:
            # Bytes that are not UTF-8 become lone surrogates instead of sinking the whole
            # page: the record holding them then fails validation alone, naming the field.
            return json.loads(raw.decode("utf-8-sig", errors="surrogateescape"))
        except ValueError as error:
            # A truncated body is a network failure more often than a server bug.
            raise SourceUnavailable(
                f"GET {path}: body is not valid JSON ({len(raw)} bytes): {error}"
            ) from error

    def _read_bounded(self, path: str, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise SourceError(
                        f"GET {path}: response larger than {self.max_response_bytes} bytes; "
                        "refusing to read further"
                    )
                chunks.append(chunk)
        except requests.RequestException as error:
            raise SourceUnavailable(f"GET {path}: body cut off ({error})") from error
        return b"".join(chunks)


def _reason(error: Exception) -> str:
    """The operating system's words for a failed connection ("Connection refused", "Name or
    service not known"), not requests' nested retry wrapper."""
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    return found[-1].strip() if found else type(error).__name__


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        text = re.sub(r"<[^>]*>", " ", response.text)  # an HTML error page: its words
        return " ".join(text.split())[:200]
