"""HTTP client for Medusa v2's Admin API: one session, timeouts, honest errors, counted requests.

Reads (GET) are retried on transport failures and 5xx, with backoff, because repeating
them is harmless. Writes are never repeated here: a write whose answer was lost may
have committed, so only the caller, who can look up what happened, may try again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests

log = logging.getLogger(__name__)

# Node's header limit is ~16 KB; 200 filter values (~6 KB of URL) keep lookups well under it.
LOOKUP_CHUNK = 200


class MedusaError(Exception):
    """Medusa answered a request with an error (or not at all)."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        where = f"{method} {path}"
        super().__init__(f"{where}: HTTP {status}: {message}" if status else f"{where}: {message}")


class MedusaAuthError(MedusaError):
    """The credentials were refused; the message names the setting to fix."""


class MedusaUnavailable(MedusaError):
    """No usable answer (connection refused or dropped, timeout, 5xx).

    For a write this is ambiguous: the change may or may not have been committed.
    """


class MedusaClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        admin_email: str | None = None,
        admin_password: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        read_retries: int = 3,
        retry_backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("MEDUSA_BASE_URL is not set: the Medusa server's URL is required")
        if not api_key and not (admin_email and admin_password):
            raise ValueError(
                "No Medusa credentials: set MEDUSA_API_KEY (a secret API key), "
                "or MEDUSA_ADMIN_EMAIL and MEDUSA_ADMIN_PASSWORD"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.session = session or requests.Session()
        self._sleep = sleep
        self._api_key = api_key
        self._admin_email = admin_email
        self._admin_password = admin_password
        self._token: str | None = None
        if api_key:
            # A secret key goes as HTTP Basic (as Bearer Medusa answers 401).
            self.session.auth = (api_key, "")
        self.request_counts: Counter[str] = Counter()

    def __repr__(self) -> str:  # never show credentials
        return f"MedusaClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    # --- transport --------------------------------------------------------------------------

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return self._request("GET", path, params=params)
            except MedusaUnavailable:
                if attempt >= self.read_retries:
                    raise
                attempt += 1
                self._sleep(self.retry_backoff * 2 ** (attempt - 1))

    def post(self, path: str, body: Any, params: Any = None) -> dict[str, Any]:
        return self._request("POST", path, params=params, json=body)

    def delete(self, path: str) -> dict[str, Any]:
        return self._request("DELETE", path)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.request_counts["read" if method == "GET" else "write"] += 1
        headers = {"Accept": "application/json"}
        if not self._api_key:
            headers["Authorization"] = f"Bearer {self._login()}"
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout as error:
            raise MedusaUnavailable(
                method, path, None, f"timed out ({type(error).__name__})"
            ) from error
        except requests.RequestException as error:
            raise MedusaUnavailable(
                method, path, None, f"no answer from {self.base_url} ({type(error).__name__})"
            ) from error
        if response.status_code == 401:
            if not self._api_key and self._token:
                self._token = None  # an expired JWT: log in again, once
                return self._request(method, path, **kwargs)
            raise MedusaAuthError(method, path, 401, self._auth_hint())
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise MedusaUnavailable(method, path, response.status_code, _message(response))
        if response.status_code >= 400:
            raise MedusaError(method, path, response.status_code, _message(response))
        try:
            return response.json()
        except ValueError as error:
            raise MedusaUnavailable(
                method, path, response.status_code, "answer is not JSON (cut off?)"
            ) from error

    def _auth_hint(self) -> str:
        if self._api_key:
            return (
                f"Medusa at {self.base_url} refused the API key: check MEDUSA_API_KEY "
                "(a secret key, sk_…, valid and not revoked, for this server)"
            )
        return (
            f"Medusa at {self.base_url} refused the admin login: "
            "check MEDUSA_ADMIN_EMAIL and MEDUSA_ADMIN_PASSWORD"
        )

    def _login(self) -> str:
        if self._token:
            return self._token
        path = "/auth/user/emailpass"
        self.request_counts["write"] += 1
        try:
            response = self.session.post(
                f"{self.base_url}{path}",
                json={"email": self._admin_email, "password": self._admin_password},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise MedusaUnavailable(
                "POST", path, None, f"no answer from {self.base_url} ({type(error).__name__})"
            ) from error
        if response.status_code == 401:
            raise MedusaAuthError("POST", path, 401, self._auth_hint())
        if response.status_code >= 400:
            raise MedusaError("POST", path, response.status_code, _message(response))
        self._token = response.json()["token"]
        return self._token

    # --- listing ------------------------------------------------------------------------------

    def list_all(
        self, path: str, key: str, params: dict[str, Any] | None = None, page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Every row of a list endpoint, paged by offset in a stable order."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.get(
                path, {**(params or {}), "limit": page_size, "offset": offset, "order": "id"}
            )
            batch = body.get(key, [])
            rows.extend(batch)
            offset += len(batch)
            if not batch or offset >= body.get("count", 0):
                return rows

    def list_by(
        self,
        path: str,
        key: str,
        field: str,
        values: Iterable[str],
        extra: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows whose ``field`` is one of ``values``, in chunks that keep URLs short."""
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(set(values)), LOOKUP_CHUNK):
            rows.extend(self.list_all(path, key, {**(extra or {}), field: chunk}))
        return rows


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body)[:1000]
    return str(body)[:300]
