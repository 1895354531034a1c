"""A local HTTP server with the behaviours a web image crawler meets, for the downloader's tests
and benchmark. Serves only on 127.0.0.1; every route is bounded in bytes and time."""

from __future__ import annotations

import io
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import numpy as np
from PIL import Image


def jpeg(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR).save(out, "JPEG", quality=85)
    return out.getvalue()


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()  # path -> requests
        self.sent: Counter[str] = Counter()  # path -> body bytes the client accepted
        self.active: Counter[str] = Counter()  # Host header -> requests in progress
        self.max_active: Counter[str] = Counter()  # Host header (and "*" for all hosts) -> peak
        self.user_agents: set[str] = set()
        self.hosts: set[str] = set()
        self.image = jpeg()


ROBOTS = b"User-agent: interleaf\nDisallow: /private/\n\nUser-agent: *\nDisallow:\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State  # set on the subclass made per server

    def log_message(self, *args) -> None:  # quiet
        pass

    def send(self, status: int, body: bytes = b"", ctype: str = "image/jpeg", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        # The client may start its next request as soon as this body arrives: count this one done first.
        self.leave()
        self.wfile.write(body)
        self.count(len(body))

    def leave(self) -> None:
        """End this request's share of the in-progress counts (once)."""
        if self.entered:
            self.entered = False
            with self.state.lock:
                self.state.active[self.host] -= 1
                self.state.active["*"] -= 1

    def count(self, n: int) -> None:
        with self.state.lock:
            self.state.sent[self.path] += n

    def stream(self, total: int, chunk: int = 65536, delay: float = 0.0, length: int | None = None, **headers) -> None:
        """Send ``total`` bytes in chunks; stops quietly when the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", headers.pop("ctype", "image/jpeg"))
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for start in range(0, total, chunk):
                piece = b"\xff" * min(chunk, total - start)
                self.wfile.write(piece)
                self.wfile.flush()
                self.count(len(piece))
                time.sleep(delay)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: C901 - one branch per route reads best here
        st, path = self.state, self.path
        host = self.host = self.headers.get("Host", "")
        self.entered = True
        with st.lock:
            st.hits[path] += 1
            st.user_agents.add(self.headers.get("User-Agent", ""))
            st.hosts.add(host)
            for key in (host, "*"):
                st.active[key] += 1
                st.max_active[key] = max(st.max_active[key], st.active[key])
            hits = st.hits[path]
        try:
            self.route(path, hits)
        finally:
            self.leave()

    def route(self, path: str, hits: int) -> None:
        st = self.state
        if path.startswith(("/img/", "/private/")):
            self.send(200, st.image)
        elif path.startswith("/busy/"):  # slow enough for requests to overlap
            time.sleep(0.05)
            self.send(200, st.image)
        elif path == "/robots.txt":
            self.send(200, ROBOTS, "text/plain")
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            self.send(302, b"", "text/html", Location=f"/redirect/{n - 1}" if n else "/img/final.jpg")
        elif path.startswith("/redirect-to?"):
            self.send(302, b"", "text/html", Location=unquote(path.split("?", 1)[1]))
        elif path == "/slow-headers":
            time.sleep(1.5)
            self.send(200, st.image)
        elif path == "/slow-body":
            self.stream(200_000, chunk=2000, delay=0.1, length=200_000)
        elif path == "/huge-declared":
            self.stream(256 * 1024, length=1 << 30)
        elif path == "/huge-undeclared":
            self.stream(64 << 20)
        elif path == "/html":
            self.send(200, b"<html><body>not an image</body></html>", "text/html; charset=utf-8")
        elif path == "/noai":
            self.stream(64 << 20, length=64 << 20, X_Robots_Tag="noimageai, noindex")
        elif path == "/noai-other-bot":
            self.send(200, st.image, X_Robots_Tag="otherbot: noai")
        elif path == "/flaky429":
            if hits == 1:
                self.send(429, b"slow down", "text/plain", Retry_After="0")
            else:
                self.send(200, st.image)
        elif path == "/always503":
            self.send(503, b"", "text/plain")
        elif path == "/missing":
            self.send(404, b"not found", "text/plain")
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(st.image)))
            self.end_headers()
            self.wfile.write(st.image[: len(st.image) // 2])
            self.close_connection = True
        elif path == "/truncated-image":
            self.send(200, st.image[: len(st.image) // 2])
        elif path == "/empty":
            self.send(200, b"")
        else:
            self.send(404, b"", "text/plain")


class ImageServer:
    """``with ImageServer() as srv: srv.url("/img/a.jpg")``: a threaded server on 127.0.0.1."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.state = State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.scheme = "https" if tls else "http"
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> "ImageServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
