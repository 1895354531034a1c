"""A safe, polite image downloader, and the Beam DoFn around it.

``Downloader(config).fetch_many(urls)`` yields one ``FetchResult`` per URL, in completion order.
Under it: a thread pool (``concurrency`` threads) and a scheduler that keeps at most ``per_host``
requests in flight per host, with urllib3 connection pools for keep-alive. Threads suit this job:
it waits on sockets, with the GIL released, the code stays synchronous and
testable, and a Beam worker runs one DoFn instance per core anyway. urllib3 (not http.client)
gives pooled keep-alive connections, connect/read timeouts and incremental reads; we steer it to
connect to the address we checked (``HTTP(S)ConnectionPool`` on the IP, with the ``Host`` header,
TLS SNI and certificate check set to the hostname).

Per URL, per redirect hop: refuse schemes other than http(s); resolve the host (cached) and
refuse it if any address is not public (``netsafety``); optionally check robots.txt; send the
request; on the response headers, before any body byte is read, refuse ``X-Robots-Tag`` opt-outs,
non-image content types and a ``Content-Length`` over the cap; then read at most ``max_bytes``
(stopping and closing the connection past it). 429, 5xx, timeouts, refused and broken
connections are retried with exponential backoff (a ``Retry-After`` up to ``max_retry_after`` is
honoured); other 4xx never are.

Limits of the politeness: ``per_host`` counts the hostname a URL starts at (a redirect to another
host is not counted against that host) and holds per Downloader, i.e. per DoFn instance; workers
do not coordinate. Proxies from the environment are not used (we connect to checked addresses).

Reasons (``FetchResult.reason``; None means success):

    bad_url, bad_scheme      not an absolute http(s) URL
    dns                      the host does not resolve
    blocked_address          the host resolves to a private/loopback/link-local/... address
    robots_disallowed        robots.txt forbids the path (only with respect_robots_txt)
    opted_out                X-Robots-Tag says noai / noimageai (configurable)
    timeout, refused         connect or read timed out; connection refused
    connection_error         reset or protocol failure
    tls_error                handshake or certificate failure (not retried)
    truncated                the body ended before its Content-Length
    http_4xx, http_5xx       final status (429 counts as http_4xx once retries are spent)
    too_many_redirects       more than max_redirects hops, or a redirect without Location
    too_large                Content-Length or the bytes read exceed max_bytes
    not_image                a Content-Type that is not image/* (or octet-stream), or an empty body
    error                    anything unforeseen (the exception is in the detail), counted, never raised
"""

from __future__ import annotations

import ipaddress
import queue
import threading
import time
from collections import OrderedDict, defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Iterator
from urllib.parse import quote, urljoin, urlsplit

import apache_beam as beam
import urllib3
from apache_beam.utils.windowed_value import WindowedValue
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from .netsafety import AddressRefused, Resolver, resolve_checked, system_resolver
from .robots import RobotsCache, header_opts_out
from .stage import Counters

REDIRECTS = (301, 302, 303, 307, 308)
RETRY_REASONS = frozenset({"timeout", "refused", "connection_error", "truncated", "http_5xx", "http_429"})
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
# Kept as written when a path or query is re-quoted: only spaces, controls and non-ASCII get encoded.
URL_SAFE = "/%:@!$&'()*+,;=-._~[]|"
CHUNK = 64 * 1024
DNS_CACHE_SIZE = 100_000
DRAIN_LIMIT = 64 * 1024  # error bodies up to this are read to keep the connection alive


@dataclass(frozen=True)
class DownloadConfig:
    concurrency: int = 64  # threads per Downloader (per DoFn instance)
    per_host: int = 8  # requests in flight per host
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # per socket read
    total_timeout: float = 30.0  # per attempt, from request to last byte (slow-drip bodies)
    retries: int = 2  # extra attempts on retryable failures
    backoff: float = 0.5  # seconds; attempt n waits backoff * 2**n
    max_retry_after: float = 10.0  # a longer Retry-After gives up instead of waiting
    max_bytes: int = 16 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "interleaf/0.1 (+https://github.com/interleaf/interleaf)"
    allow_networks: tuple[str, ...] = ()  # CIDRs exempt from the address block; tests: ("127.0.0.0/8",)
    ca_certs: str | None = None  # PEM bundle for TLS verification; None: the system's
    respect_robots_txt: bool = False
    opt_out_directives: tuple[str, ...] = ("noai", "noimageai")
    dns_ttl: float = 300.0
    backlog: int = 4096  # URLs held back waiting for a busy host before input reading pauses

    @property
    def agent(self) -> str:
        """The product token that robots rules name, e.g. "interleaf"."""
        return self.user_agent.split("/", 1)[0].strip().lower()


@dataclass(frozen=True)
class FetchResult:
    url: str
    data: bytes | None
    reason: str | None = None  # None: success
    detail: str = ""
    status: int | None = None
    final_url: str = ""
    content_type: str = ""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.reason is None


class _Failure(Exception):
    def __init__(self, reason: str, detail: str = "", status: int | None = None, retry_after: float = 0.0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.status, self.retry_after = reason, detail, status, retry_after
        self.attempts = 0  # requests made for the hop that failed


@dataclass
class _Target:
    scheme: str
    host: str  # ASCII (IDNA) hostname, or the IP literal without brackets
    port: int
    path: str  # path and query, percent-encoded

    @property
    def origin(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def host_header(self) -> str:
        return self.origin.split("://", 1)[1]


class _Pools:
    """Keep-alive connections, one pool per (scheme, hostname, address, port), connecting to the
    checked address while TLS verifies the hostname. The least recently used pools are closed."""

    def __init__(self, config: DownloadConfig, max_pools: int = 1024) -> None:
        self._config = config
        self._max = max_pools
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, target: _Target, address: str) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.host, address, target.port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            cfg = self._config
            common = dict(
                maxsize=cfg.per_host,
                retries=False,
                timeout=urllib3.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout),
            )
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    target.port,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    ca_certs=cfg.ca_certs,
                    **common,
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, target.port, **common)
            self._pools[key] = pool
            if len(self._pools) > self._max:
                self._pools.popitem(last=False)[1].close()  # a request still using it closes its connection after
            return pool

    def clear(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def parse_target(url: str) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as e:
        raise _Failure("bad_url", str(e)) from None
    if parts.scheme not in ("http", "https"):
        raise _Failure("bad_scheme", f"scheme {parts.scheme!r}")
    if not host:
        raise _Failure("bad_url", "no host")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as e:
        raise _Failure("bad_url", f"host: {e}") from None
    path = quote(parts.path or "/", safe=URL_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=URL_SAFE + "?")
    return _Target(parts.scheme, host, port or {"http": 80, "https": 443}[parts.scheme], path)


def host_key(url: str) -> str:
    """What per-host concurrency is counted by: the URL's hostname."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: fall back to our own backoff


class Downloader:
    """Fetches image URLs concurrently, safely and politely. Use as a context manager, or close()."""

    def __init__(self, config: DownloadConfig = DownloadConfig(), resolver: Resolver = system_resolver) -> None:
        self.config = config
        self._resolver = resolver
        self._allow = [ipaddress.ip_network(n) for n in config.allow_networks]
        self._dns: dict[str, tuple[float, str | AddressRefused]] = {}
        self._dns_lock = threading.Lock()
        self._pools = _Pools(config)
        self._executor = ThreadPoolExecutor(config.concurrency, thread_name_prefix="interleaf-download")
        self._robots = RobotsCache(config.agent, self._fetch_robots) if config.respect_robots_txt else None

    def __enter__(self) -> "Downloader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()

    # -- scheduling ---------------------------------------------------------------------------

    def fetch_many(self, urls: Iterable[str]) -> Iterator[FetchResult]:
        """One result per URL, in completion order; at most ``per_host`` in flight per host."""
        cfg = self.config
        done: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        busy: dict[str, int] = defaultdict(int)
        waiting: dict[str, deque[str]] = defaultdict(deque)
        n_in_flight = n_waiting = 0
        source = iter(urls)
        exhausted = False

        def submit(url: str, key: str) -> None:
            busy[key] += 1
            future = self._executor.submit(self.fetch, url)
            future.add_done_callback(lambda f: done.put((key, f)))

        while True:
            while not exhausted and n_in_flight < cfg.concurrency and n_waiting < cfg.backlog:
                url = next(source, None)
                if url is None:
                    exhausted = True
                    break
                key = host_key(url)
                if busy[key] < cfg.per_host:
                    submit(url, key)
                    n_in_flight += 1
                else:
                    waiting[key].append(url)
                    n_waiting += 1
            if not n_in_flight:
                return  # nothing waits without something of its host in flight
            key, future = done.get()
            n_in_flight -= 1
            busy[key] -= 1
            if waiting[key]:
                n_waiting -= 1
                n_in_flight += 1
                submit(waiting[key].popleft(), key)
            elif not busy[key]:
                del busy[key], waiting[key]
            yield future.result()

    # -- one URL ------------------------------------------------------------------------------

    def fetch(self, url: str) -> FetchResult:
        """Fetch one URL, following redirects and retrying; never raises for network failures."""
        current, attempts, status = url, 0, None
        try:
            for _ in range(self.config.max_redirects + 1):
                target = parse_target(current)
                if self._robots is not None and not self._robots.allowed(target.origin, current):
                    raise _Failure("robots_disallowed", target.origin)
                address = self._address(target.host, target.port)
                status, headers, body, n = self._with_retries(target, address)
                attempts += n
                if status in REDIRECTS:
                    location = headers.get("Location")
                    if not location:
                        raise _Failure("too_many_redirects", f"{status} without Location", status)
                    current = urljoin(current, location)
                    continue
                return FetchResult(url, body, None, "", status, current, headers.get("Content-Type", ""), attempts)
            raise _Failure("too_many_redirects", f"more than {self.config.max_redirects}", status)
        except _Failure as f:
            return FetchResult(url, None, f.reason, f.detail, f.status, current, "", attempts + f.attempts)
        except Exception as e:  # noqa: BLE001 - one odd URL must not fail (and re-run) a whole bundle
            return FetchResult(url, None, "error", f"{type(e).__name__}: {e}", status, current, "", attempts)

    def _with_retries(self, target: _Target, address: str) -> tuple[int, dict, bytes | None, int]:
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            try:
                status, headers, body = self._request(target, address)
                return status, headers, body, attempt + 1
            except _Failure as f:
                retryable = f.reason in RETRY_REASONS or f.status == 429
                if not retryable or attempt == cfg.retries or f.retry_after > cfg.max_retry_after:
                    f.attempts = attempt + 1
                    if f.status == 429:
                        f.reason = "http_4xx"
                    raise
                time.sleep(max(f.retry_after, cfg.backoff * 2**attempt))
        raise AssertionError("unreachable")

    def _address(self, host: str, port: int) -> str:
        now = time.monotonic()
        with self._dns_lock:
            cached = self._dns.get(host)
        if cached is None or cached[0] < now:
            try:
                answer: str | AddressRefused = resolve_checked(host, port, self._resolver, self._allow)
            except AddressRefused as e:
                answer = e
            cached = (now + self.config.dns_ttl, answer)
            with self._dns_lock:
                if len(self._dns) >= DNS_CACHE_SIZE:
                    self._dns.clear()  # crude but bounded; hosts come back through the resolver
                self._dns[host] = cached
        if isinstance(cached[1], AddressRefused):
            raise _Failure(cached[1].reason, cached[1].detail)
        return cached[1]

    def _request(self, target: _Target, address: str, max_bytes: int | None = None, check_body: bool = True):
        """One HTTP exchange with the checked address: (status, headers, body or None on redirect)."""
        cfg = self.config
        pool = self._pools.get(target, address)
        headers = {
            "Host": target.host_header,
            "User-Agent": cfg.user_agent,
            "Accept": "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5",
            "Accept-Encoding": "identity",  # image bytes as sent; no decompression bombs
        }
        started = time.monotonic()
        try:
            resp = pool.urlopen(
                "GET", target.path, headers=headers, redirect=False, retries=False,
                preload_content=False, decode_content=False, assert_same_host=False,
            )  # fmt: skip
        except HTTPError as e:
            raise _classify(e) from None
        try:
            return self._read(resp, started, cfg.max_bytes if max_bytes is None else max_bytes, check_body)
        finally:
            resp.release_conn()

    def _read(self, resp, started: float, max_bytes: int, check_body: bool):
        cfg = self.config
        status, headers = resp.status, resp.headers
        length = headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None

        def stop(reason: str, detail: str, retry_after: float = 0.0) -> _Failure:
            _discard_body(resp, length)
            return _Failure(reason, detail, status, retry_after)

        if status in REDIRECTS:
            _discard_body(resp, length)
            return status, headers, None
        if status == 429 or status >= 500:
            kind = "http_429" if status == 429 else "http_5xx"
            raise stop(kind, f"status {status}", _retry_after(headers.get("Retry-After")))
        if status >= 400:
            raise stop("http_4xx", f"status {status}")
        if status != 200:  # 204, 206, 304...: no whole image to take
            raise stop("not_image", f"status {status}")
        if check_body:
            directive = header_opts_out(headers.getlist("X-Robots-Tag"), cfg.agent, cfg.opt_out_directives)
            if directive:
                raise stop("opted_out", f"X-Robots-Tag: {directive}")
            ctype = headers.get("Content-Type", "").lower().strip()
            if ctype and not ctype.startswith(IMAGE_TYPES):
                raise stop("not_image", f"Content-Type {ctype}")
        if length is not None and length > max_bytes:
            raise stop("too_large", f"Content-Length {length} > {max_bytes}")
        chunks, total = [], 0
        try:
            while True:
                chunk = resp.read1(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    resp.close()
                    raise _Failure("too_large", f"more than {max_bytes} bytes", status)
                if time.monotonic() - started > cfg.total_timeout:
                    resp.close()
                    raise _Failure("timeout", f"body not complete after {cfg.total_timeout}s", status)
                chunks.append(chunk)
        except HTTPError as e:
            resp.close()
            raise _classify(e, status) from None
        if length is not None and total < length:
            resp.close()
            raise _Failure("truncated", f"{total} of {length} bytes", status)
        body = b"".join(chunks)
        if check_body and not body:
            raise _Failure("not_image", "empty body", status)
        return status, headers, body

    def _fetch_robots(self, url: str) -> tuple[int | None, bytes]:
        """robots.txt through the same safety checks (addresses, caps, redirects); never raises."""
        current = url
        try:
            for _ in range(self.config.max_redirects + 1):
                target = parse_target(current)
                address = self._address(target.host, target.port)
                status, headers, body = self._request(target, address, 512 * 1024, check_body=False)
                if status not in REDIRECTS:
                    return status, body or b""
                current = urljoin(current, headers.get("Location", ""))
        except _Failure as f:
            return f.status if f.reason == "http_4xx" else None, b""
        return None, b""


def _discard_body(resp, length: int | None) -> None:
    """Read a small unwanted body so the connection can be reused; close a large or unknown one."""
    if length is not None and length <= DRAIN_LIMIT:
        resp.drain_conn()
    else:
        resp.close()


def _classify(e: HTTPError, status: int | None = None) -> _Failure:
    """A urllib3 exception as a reason code."""
    text = f"{type(e).__name__}: {e}"
    if isinstance(e, NewConnectionError):  # before timeouts: urllib3 2 derives it from ConnectTimeoutError
        refused = isinstance(e.__cause__, ConnectionRefusedError) or "refused" in str(e).lower()
        return _Failure("refused" if refused else "connection_error", text, status)
    if isinstance(e, (ConnectTimeoutError, ReadTimeoutError)):
        return _Failure("timeout", text, status)
    if isinstance(e, SSLError):
        return _Failure("tls_error", text, status)
    if isinstance(e, ProtocolError) and "IncompleteRead" in str(e):
        return _Failure("truncated", text, status)
    return _Failure("connection_error", text, status)


class DownloadImagesDoFn(beam.DoFn):
    """(image URL, payload) -> (payload, FetchResult). URLs are buffered and fetched ``batch_size``
    at a time, so many are in flight at once; the payload (what the caller needs with the result,
    such as the nodes that use the image) rides along, so no join has to bring them back together.
    Counters under ``interleaf.download``: in, kept, dropped.<reason>."""

    def __init__(self, config: DownloadConfig = DownloadConfig(), batch_size: int | None = None) -> None:
        self.config = config
        self.batch_size = batch_size or 4 * config.concurrency
        self._buffer: list[tuple[str, tuple]] = []

    def setup(self) -> None:
        self.downloader = Downloader(self.config)
        self.counters = Counters("download")

    def start_bundle(self) -> None:
        self._buffer = []

    def process(self, element: tuple[str, Any], window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        url, payload = element
        self._buffer.append((url, (payload, timestamp, window)))
        if len(self._buffer) >= self.batch_size:
            yield from self._flush()

    def finish_bundle(self):
        yield from self._flush()

    def _flush(self) -> Iterator[WindowedValue]:
        batch, self._buffer = self._buffer, []
        where = {}
        for url, place in batch:
            where.setdefault(url, []).append(place)
        for result in self.downloader.fetch_many([url for url, _ in batch]):
            self.counters.inc("in")
            self.counters.inc("kept" if result.ok else f"dropped.{result.reason}")
            payload, timestamp, window = where[result.url].pop()
            yield WindowedValue((payload, result), timestamp, [window])

    def teardown(self) -> None:
        self.downloader.close()
