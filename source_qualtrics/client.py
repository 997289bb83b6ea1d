"""The one place that speaks HTTP to Qualtrics.

It owns authentication, the `{result, meta}` envelope, retries with `Retry-After`, timeouts,
`nextPage` pagination and the rule that the token only ever goes to the configured host.

One client serves every thread of a sync: its connection pool holds as many connections as requests
may be in flight, every attempt passes the pacer and then takes a place in the in-flight bound
(`in_flight.py`), and a credential Qualtrics refused stops every thread's next request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from source_qualtrics.auth import ApiTokenAuth, Authenticator, OAuthClientCredentials
from source_qualtrics.config import DEFAULT_MAX_CONCURRENT_REQUESTS
from source_qualtrics.errors import CredentialsRejected, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.in_flight import InFlightLimit
from source_qualtrics.pacing import DEFAULT_REQUESTS_PER_MINUTE, RequestPacer, endpoint_kind

logger = logging.getLogger("airbyte")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
STATUS_MEANINGS = {
    400: "Qualtrics refused the request as invalid",
    401: "Qualtrics rejected the credentials",
    403: "The token's user lacks permission for this resource",
    404: "Qualtrics does not know this resource",
    413: "The request is too large for Qualtrics",
    429: "Qualtrics kept rate-limiting the connector",
}
USER_AGENT = "airbyte-source-qualtrics/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a transient failure becomes an error."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 600.0
    max_total_wait: float = 1800.0
    connect_timeout: float = 15.0
    read_timeout: float = 300.0


class QualtricsClient:
    """Authenticated access to one Qualtrics datacenter's API v3."""

    def __init__(
        self,
        base_url: str,
        credentials: str | Authenticator,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        pacer: RequestPacer | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc
        self._auth: Authenticator = ApiTokenAuth(credentials) if isinstance(credentials, str) else credentials
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        if session is None:  # one pooled connection per request in flight, none opened and dropped
            pool = HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrent_requests)
            self._session.mount("https://", pool)
            self._session.mount("http://", pool)
        self._pacer = pacer or RequestPacer(requests_per_minute, sleep=sleep)
        self.max_concurrent_requests = max_concurrent_requests
        #: requests in flight at once: up to `max_concurrent_requests`, fewer for a while after a 429
        self.in_flight = InFlightLimit(max_concurrent_requests)
        #: set once Qualtrics refused the credential: the sync stops there (see SourceQualtrics.read)
        self.rejected: CredentialsRejected | None = None
        self._paging_hosts: set[str] = set()  # other hosts `nextPage` named (logged once each)
        #: set once Qualtrics answered a request: reads in the background wait for it (`page_spool.py`),
        #: so a dead credential is refused once, not once per thread that raced to try it
        self.accepted = threading.Event()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # -- JSON calls -------------------------------------------------------------------------------

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET and return the whole envelope (`result` and `meta`)."""
        response = self.request("GET", path_or_url, params=params)
        return _json_body(response)

    def get_result(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        result = self.get_json(path_or_url, params).get("result")
        return result if isinstance(result, dict) else {}

    def post_result(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.request("POST", path, json=body)
        result = _json_body(response).get("result")
        return result if isinstance(result, dict) else {}

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield `result.elements` across pages, following `result.nextPage`'s path and query."""
        next_url: str | None = self.url(path)
        next_params = params
        seen: set[str] = set()
        while next_url:
            if next_url in seen:  # a server bug must not turn into an endless sync
                raise QualtricsApiError(200, f"Qualtrics returned the same page twice ({next_url})")
            seen.add(next_url)
            result = self.get_result(next_url, next_params)
            yield from result.get("elements") or []
            next_page = result.get("nextPage")
            next_url = self._next_page_url(next_url, next_page)
            next_params = None

    def _next_page_url(self, current: str, next_page: Any) -> str | None:
        """`nextPage` on the configured host. Qualtrics may name another host of the brand there
        (recorded: a page asked of co1 pointing to az1, the brand's own datacenter); the path and query
        are what matter, and the token never leaves the configured host (`_headers_for`)."""
        if not isinstance(next_page, str) or not next_page:
            return None
        parts, ours = urlsplit(urljoin(current, next_page)), urlsplit(self.base_url)
        elsewhere = (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc)
        if elsewhere and parts.netloc not in self._paging_hosts:
            self._paging_hosts.add(parts.netloc)
            logger.info(
                "Qualtrics named %s in a nextPage link; following its path and query on %s, the "
                "configured host, which alone receives the credentials",
                parts.netloc,
                ours.netloc,
            )
        return urlunsplit((ours.scheme, ours.netloc, parts.path, parts.query, ""))

    # -- downloads --------------------------------------------------------------------------------

    def download(self, path: str, sink: IO[bytes], chunk_size: int = 1 << 20) -> int:
        """Stream a file into `sink`; return the byte count. A short body raises so it is fetched again."""
        response = self.request("GET", path, stream=True)  # keeps its place in flight until closed below
        expected = response.headers.get("Content-Length")
        written = 0
        try:
            for chunk in response.iter_content(chunk_size=chunk_size):
                sink.write(chunk)
                written += len(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise TruncatedDownload(f"download of {path} broke off after {written} bytes") from error
        finally:
            response.close()
            self.in_flight.release()
        if expected is not None and expected.isdigit() and int(expected) != written:
            raise TruncatedDownload(f"download of {path} ended at {written} of {expected} bytes")
        return written

    # -- the request loop -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one logical request, retrying what is transient; raise a mapped error otherwise.

        A `stream`ed response keeps its place in the in-flight bound until the caller has read the
        body and calls `in_flight.release()` (as `download` does).
        """
        if self.rejected is not None:
            raise self.rejected  # a credential known to be dead is not tried again
        try:
            response = self._send(method, path_or_url, params=params, json=json, stream=stream)
        except CredentialsRejected as rejected:
            self.rejected = rejected
            raise
        self.accepted.set()
        return response

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        stream: bool,
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        self._headers_for(url)  # refuse a foreign host before anything else happens
        kind = endpoint_kind(method, urlsplit(url).path)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            headers = self._headers_for(url)  # per attempt: an OAuth token may be refreshed meanwhile
            self._pacer.wait(kind)
            generation = self.in_flight.acquire()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=orjson.dumps(json) if json is not None else None,
                    headers=headers,
                    stream=stream,
                    allow_redirects=False,
                    timeout=(self._retry.connect_timeout, self._retry.read_timeout),
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as error:
                self.in_flight.release()
                delay = self._backoff(attempt)
                give_up = attempt >= self._retry.max_attempts or waited + delay > self._retry.max_total_wait
                if give_up or _is_unknown_host(error):
                    raise QualtricsConnectionError(
                        f"Could not reach {urlsplit(url).netloc}: {_short_reason(error)}"
                    ) from None
                logger.warning(
                    "Network error calling %s %s (%s); retry %d in %.1fs",
                    method,
                    _redact(url),
                    _short_reason(error),
                    attempt,
                    delay,
                )
                self._sleep(delay)
                waited += delay
                continue
            if not (stream and response.status_code < 300):
                self.in_flight.release()  # the body is read (or will not be): the place is free
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s -> %s", method, _redact(url), response.status_code)
            if response.status_code < 300:
                if isinstance(self._auth, OAuthClientCredentials):
                    self._auth.succeeded()
                return response
            if response.status_code == 401 and self._auth.recover_from_unauthorized(headers):
                logger.warning(
                    "Qualtrics answered 401 to %s %s; retrying once with a new token", method, _redact(url)
                )
                response.close()
                continue
            if response.status_code < 400:
                response.close()
                target = response.headers.get("Location", "elsewhere")
                raise QualtricsApiError(
                    response.status_code,
                    f"Qualtrics redirected {_redact(url)} to {target}; redirects are not followed "
                    f"so the token never leaves {self.host}",
                )
            if response.status_code in RETRYABLE_STATUSES:
                retry_after = self._retry_after(response)
                if response.status_code == 429:
                    self.in_flight.throttled(generation, retry_after)
                delay = retry_after or self._backoff(attempt)
                if attempt < self._retry.max_attempts and waited + delay <= self._retry.max_total_wait:
                    logger.warning(
                        "Qualtrics answered %s to %s %s; retry %d in %.1fs",
                        response.status_code,
                        method,
                        _redact(url),
                        attempt,
                        delay,
                    )
                    response.close()
                    self._sleep(delay)
                    waited += delay
                    continue
            refused = _api_error(response, url)
            if refused.status == 401:
                oauth = isinstance(self._auth, OAuthClientCredentials)
                raise CredentialsRejected.for_credential(
                    self.host, oauth=oauth, error_code=refused.error_code
                )
            raise refused

    def _headers_for(self, url: str) -> dict[str, str]:
        """The token goes only to the configured host, never to a host a response pointed us at."""
        parts = urlsplit(url)
        if parts.netloc != self.host or parts.scheme != urlsplit(self.base_url).scheme:
            raise QualtricsApiError(
                0, f"Refusing to send credentials to {parts.netloc}: only {self.host} is configured"
            )
        return {**self._auth.headers(), "Content-Type": "application/json", "Accept": "*/*"}

    def _backoff(self, attempt: int) -> float:
        delay = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return min(self._retry.max_retry_after, max(0.0, float(value)))
        except ValueError:
            return None


class TruncatedDownload(Exception):
    """The connection closed before the whole file arrived."""


def _json_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise QualtricsApiError(
            response.status_code, f"Qualtrics sent a body that is not JSON from {_redact(response.url)}"
        ) from None
    return body if isinstance(body, dict) else {}


def _api_error(response: requests.Response, url: str) -> QualtricsApiError:
    meta: dict[str, Any] = {}
    try:
        body = orjson.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("meta"), dict):
            meta = body["meta"]
    except orjson.JSONDecodeError:
        pass
    raw_error = meta.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    detail = str(error.get("errorMessage") or response.reason or "request failed")
    message = f"{STATUS_MEANINGS.get(response.status_code, 'Qualtrics refused the request')}: {detail}"
    return QualtricsApiError(
        response.status_code,
        message,
        error_code=error.get("errorCode"),
        request_id=meta.get("requestId"),
        url=_redact(url),
    )


_UNKNOWN_HOST_MARKERS = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "Failed to resolve",
)


def _is_unknown_host(error: Exception) -> bool:
    """A host that does not resolve will not start resolving on retry: fail fast and say which."""
    text = str(error)
    return any(marker in text for marker in _UNKNOWN_HOST_MARKERS)


def _short_reason(error: Exception) -> str:
    if _is_unknown_host(error):
        return "the host name does not resolve"
    text = str(error)
    for marker in ("Connection refused", "timed out", "Connection reset"):
        if marker in text:
            return marker.lower()
    return type(error).__name__


def _redact(url: str) -> str:
    """URLs carry no secrets here, but query strings can be long: keep logs to the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
