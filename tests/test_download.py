"""The downloader against a local server (127.0.0.1 only) that misbehaves in every usual way."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import replace

import pytest
from download_server import ImageServer

from interleaf.pipeline.download import DownloadConfig, Downloader, FetchResult
from interleaf.pipeline.images import ImageConfig, ImageRejected, normalize_image

LOOPBACK = ("127.0.0.0/8",)
FAST = DownloadConfig(
    concurrency=16, per_host=4, connect_timeout=1.0, read_timeout=0.5, total_timeout=1.0,
    retries=2, backoff=0.01, max_bytes=1 << 20, allow_networks=LOOPBACK,
)  # fmt: skip


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """Safety net: a test that would open a connection anywhere but loopback fails instead."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        ip = ipaddress.ip_address(address[0])
        if not (ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback)):
            raise AssertionError(f"connection attempted to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="module")
def server():
    with ImageServer() as srv:
        yield srv


def fake_resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def fetch(url: str, config: DownloadConfig = FAST, resolver=None) -> FetchResult:
    with Downloader(config, **({"resolver": resolver} if resolver else {})) as d:
        [result] = d.fetch_many([url])
    return result


def test_good_image(server):
    r = fetch(server.url("/img/good.jpg"))
    assert r.ok and r.data == server.state.image and r.status == 200 and r.attempts == 1
    assert r.content_type == "image/jpeg" and r.final_url == r.url
    assert normalize_image(r.data, ImageConfig()).width == 320
    assert FAST.user_agent in server.state.user_agents


@pytest.mark.parametrize(
    "path,reason,attempts",
    [
        ("/missing", "http_4xx", 1),  # never retried
        ("/always503", "http_5xx", 3),
        ("/truncated", "truncated", 3),
        ("/slow-headers", "timeout", 3),
        ("/slow-body", "timeout", 3),
        ("/huge-declared", "too_large", 1),
        ("/huge-undeclared", "too_large", 1),
        ("/html", "not_image", 1),
        ("/noai", "opted_out", 1),
        ("/empty", "not_image", 1),
        ("/redirect/9", "too_many_redirects", 6),
        ("/redirect-to?ftp://example.org/a.jpg", "bad_scheme", 1),
        ("/redirect-to?http://10.1.2.3/a.jpg", "blocked_address", 1),
        ("/redirect-to?http://169.254.169.254/latest/meta-data", "blocked_address", 1),
        ("/redirect-to?http://[::ffff:10.0.0.1]/a.jpg", "blocked_address", 1),
    ],
)
def test_failures(server, path, reason, attempts):
    before = server.state.hits[path]
    r = fetch(server.url(path))
    assert (r.reason, r.data) == (reason, None), r.detail
    assert r.attempts == attempts
    if not path.startswith("/redirect"):
        assert server.state.hits[path] - before == attempts


@pytest.mark.parametrize("path", ["/huge-undeclared", "/noai", "/huge-declared"])
def test_large_bodies_are_not_downloaded(server, path):
    fetch(server.url(path))
    # The server stops when we hang up: what it wrote is at most the cap plus socket buffers,
    # far from the 64 MiB (or declared 1 GiB) on offer.
    assert server.state.sent[path] < 16 << 20


def test_retry_after_429_then_success(server):
    r = fetch(server.url("/flaky429"))
    assert r.ok and r.attempts == 2 and server.state.hits["/flaky429"] == 2


def test_redirect_chain_is_followed(server):
    r = fetch(server.url("/redirect/3"))
    assert r.ok and r.final_url == server.url("/img/final.jpg") and r.attempts == 5


def test_x_robots_tag_for_another_bot_does_not_apply(server):
    assert fetch(server.url("/noai-other-bot")).ok


def test_truncated_image_downloads_but_fails_to_decode(server):
    r = fetch(server.url("/truncated-image"))
    assert r.ok
    with pytest.raises(ImageRejected) as e:
        normalize_image(r.data, ImageConfig())
    assert e.value.reason == "decode_error"


def test_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nobody listens there
    r = fetch(f"http://127.0.0.1:{port}/a.jpg", replace(FAST, retries=1))
    assert (r.reason, r.attempts) == ("refused", 2)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001", "[::ffff:127.0.0.1]"]
)
def test_loopback_spellings_blocked_by_default_and_reached_when_allowed(server, host):
    url = f"http://{host}:{server.port}/img/odd.jpg"
    blocked = fetch(url, replace(FAST, allow_networks=()))
    assert blocked.reason == "blocked_address"
    assert fetch(url).ok  # the odd spelling really is 127.0.0.1, and that is where we connected


def test_dns_names_are_checked_and_pinned(server):
    resolver = fake_resolver(
        {"good.test": ["127.0.0.1"], "evil.test": ["10.0.0.7"], "mixed.test": ["127.0.0.1", "192.168.1.9"]}
    )
    assert fetch(server.url("/img/a.jpg", "good.test"), resolver=resolver).ok
    assert f"good.test:{server.port}" in server.state.hosts  # Host header names the site
    assert fetch(server.url("/img/a.jpg", "evil.test"), resolver=resolver).reason == "blocked_address"
    assert fetch(server.url("/img/a.jpg", "mixed.test"), resolver=resolver).reason == "blocked_address"
    assert fetch(server.url("/img/a.jpg", "nxdomain.test"), resolver=resolver).reason == "dns"
    r = fetch(server.url("/redirect-to?http://evil.test/a.jpg", "good.test"), resolver=resolver)
    assert r.reason == "blocked_address"  # every hop is checked


@pytest.mark.parametrize("url,reason", [("ftp://example.org/a.jpg", "bad_scheme"), ("file:///etc/passwd", "bad_scheme"),
                                        ("http://[::1/a.jpg", "bad_url"), ("http:///a.jpg", "bad_url")])  # fmt: skip
def test_bad_urls(url, reason):
    assert fetch(url).reason == reason


def test_robots_txt_is_honoured_and_cached(server):
    config = replace(FAST, respect_robots_txt=True)
    with Downloader(config) as d:
        results = {r.url: r for r in d.fetch_many([server.url(f"/private/{i}.jpg") for i in range(5)]
                                                   + [server.url(f"/img/r{i}.jpg") for i in range(5)])}  # fmt: skip
    assert [r.reason for u, r in sorted(results.items())] == [None] * 5 + ["robots_disallowed"] * 5  # /img/ sorts first
    assert server.state.hits["/robots.txt"] == 1
    assert not any(server.state.hits[f"/private/{i}.jpg"] for i in range(5))


def test_concurrency_is_bounded_per_host(server):
    resolver = fake_resolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    urls = [server.url(f"/busy/{i}", host) for i in range(24) for host in ("a.test", "b.test")]
    config = replace(FAST, per_host=3, concurrency=16)
    with Downloader(config, resolver=resolver) as d:
        results = list(d.fetch_many(urls))
    assert sorted(r.url for r in results) == sorted(urls) and all(r.ok for r in results)
    for host in ("a.test", "b.test"):
        assert 2 <= server.state.max_active[f"{host}:{server.port}"] <= 3


def test_concurrency_is_bounded_per_downloader():
    hosts = {f"h{i}.test": ["127.0.0.1"] for i in range(12)}
    urls = [f"http://h{i % 12}.test:{{port}}/busy/{i}" for i in range(36)]
    with ImageServer() as srv, Downloader(replace(FAST, concurrency=5), resolver=fake_resolver(hosts)) as d:
        results = list(d.fetch_many([u.format(port=srv.port) for u in urls]))
        assert len(results) == 36 and all(r.ok for r in results)
        assert 3 <= srv.state.max_active["*"] <= 5


def test_beam_dofn_outputs_and_counts(server):
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from interleaf.pipeline.download import DownloadImagesDoFn
    from interleaf.pipeline.run import LOCAL_RUNNER

    urls = [server.url(p) for p in ["/img/b1.jpg", "/img/b2.jpg", "/missing", "/html", "/redirect-to?http://10.9.9.9/"]]
    p = TestPipeline(runner=LOCAL_RUNNER)
    out = (
        p
        | beam.Create([(url, i) for i, url in enumerate(urls)])
        | beam.ParDo(DownloadImagesDoFn(FAST, batch_size=2))
        | beam.MapTuple(lambda i, r: (i, r.url, r.reason))
    )
    reasons = [None, None, "http_4xx", "not_image", "blocked_address"]
    assert_that(out, equal_to([(i, url, reason) for i, (url, reason) in enumerate(zip(urls, reasons))]))
    result = p.run()
    result.wait_until_finish()
    counters = {
        m.key.metric.name: m.committed
        for m in result.metrics().query(MetricsFilter().with_namespace("interleaf.download"))["counters"]
    }
    assert counters == {
        "in": 5, "kept": 2, "dropped.http_4xx": 1, "dropped.not_image": 1, "dropped.blocked_address": 1,
    }  # fmt: skip


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for ``name`` and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_https_connects_to_checked_address_and_verifies_the_hostname(tmp_path):
    import ssl

    cert, key = self_signed(tmp_path, "img.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    resolver = fake_resolver({"img.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    config = replace(FAST, ca_certs=cert)
    with ImageServer(tls) as srv:
        good = fetch(srv.url("/img/tls.jpg", "img.test"), config, resolver)
        assert good.ok and good.data == srv.state.image
        wrong_name = fetch(srv.url("/img/tls.jpg", "other.test"), config, resolver)
        assert wrong_name.reason == "tls_error" and "doesn't match 'img.test'" in wrong_name.detail
        untrusted = fetch(srv.url("/img/tls.jpg", "img.test"), replace(config, ca_certs=None), resolver)
        assert untrusted.reason == "tls_error" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail


def test_pipeline_downloads_normalises_and_accounts_for_every_image(server, tmp_path):
    """download_images: a page's images come from the network, each normalised where it was fetched;
    the failures leave the document as image-level drops with the download's reason."""
    import io
    import json
    import tarfile

    from PIL import Image

    from interleaf.pipeline.config import RunConfig
    from interleaf.pipeline.run import run

    prose = [
        "The flamingo stood on one leg in the shallow water of the lake, looking for the small shrimp that give the bird its pink colour.",
        "When the wind rose in the afternoon, the whole flock took off at once and flew low over the water towards the far shore.",
        "Nobody knows for sure why they stand on one leg, but it may help them to keep warm while they rest in the cold water.",
        "In the evening the birds gathered again near the reeds, and the keepers counted more than two hundred of them.",
    ]  # fmt: skip
    images = [server.url("/img/colony.jpg"), server.url("/missing"), server.url("/html")]
    body = "".join(f"<p>{text}</p><img src='{url}' alt='picture {i}'>" for i, (text, url) in enumerate(zip(prose, images)))
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "lake.html").write_text(f"<html><head><title>Lake</title></head><body>{body}<p>{prose[3]}</p></body></html>")
    config = RunConfig(download_images=True, download=FAST)
    result = run([str(pages)], str(tmp_path / "out"), config)

    stages = result.manifest["stages"]
    assert stages["download"] == {"in": 3, "kept": 1, "errors": 0, "dropped": {"http_4xx": 1, "not_image": 1},
                                  "nodes_dropped": {}}  # fmt: skip
    assert stages["images"]["nodes_dropped"]["image"] == {"http_4xx": 1, "not_image": 1}
    assert result.manifest["totals"]["documents"] == 1 and result.manifest["totals"]["images"] == 1
    assert server.state.hits["/img/colony.jpg"] == 1  # fetched once
    [shard] = (tmp_path / "out" / "shards").glob("*.tar")
    with tarfile.open(shard) as tar:
        members = {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()}
    doc = json.loads(members["json"])
    [node] = [n for n in doc["nodes"] if n["type"] == "image"]
    assert node["url"] == images[0] and node["alt"] == "picture 0"
    picture = Image.open(io.BytesIO(members[node["member"]]))
    assert picture.size == (node["width"], node["height"]) == Image.open(io.BytesIO(server.state.image)).size
