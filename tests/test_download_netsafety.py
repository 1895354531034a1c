"""Address checks, URL parsing and consent headers: pure functions, no network."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from interleaf.pipeline.download import _Failure, parse_target
from interleaf.pipeline.netsafety import AddressRefused, address_allowed, literal_address, resolve_checked
from interleaf.pipeline.robots import RobotsCache, header_opts_out

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    "host,address",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("example.org", None),
        ("cafe.be", None),  # hex letters, but a name
        ("deadbeef.com", None),
        ("256.1.1.1.1", None),
    ],
)
def test_literal_spellings(host, address):
    got = literal_address(host)
    assert got == (ipaddress.ip_address(address) if address else None)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.0.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "198.18.0.1",
        "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::", "2002:a00:1::", "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe", "2001:db8::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "::127.0.0.1",
    ],
)  # fmt: skip
def test_private_and_special_addresses_are_blocked(address):
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:2800:220:1::", "2a00:1450:4001:80b::200e",
                                     "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808"])  # fmt: skip
def test_public_addresses_are_allowed(address):
    assert address_allowed(ipaddress.ip_address(address))


def test_allowed_networks_open_only_what_they_name():
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("::1"), LOOPBACK)


def resolver(table):
    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def refusal(host, table, allow=()):
    with pytest.raises(AddressRefused) as e:
        resolve_checked(host, 80, resolver(table), allow)
    return e.value.reason


def test_resolution_is_checked_before_use():
    table = {"ok.test": ["93.184.216.34"], "inside.test": ["10.0.0.1"], "both.test": ["93.184.216.34", "127.0.0.1"],
             "v6.test": ["fd00::5"], "empty.test": []}  # fmt: skip
    assert resolve_checked("ok.test", 80, resolver(table)) == "93.184.216.34"
    assert refusal("inside.test", table) == "blocked_address"
    assert refusal("both.test", table, LOOPBACK[:0]) == "blocked_address"  # one bad address refuses the host
    assert refusal("v6.test", table) == "blocked_address"
    assert refusal("nowhere.test", table) == "dns"
    assert refusal("empty.test", table) == "dns"
    assert refusal("0x7f.1", {}) == "blocked_address"  # numeric spellings never reach the resolver
    assert resolve_checked("0x7f.1", 80, resolver({}), LOOPBACK) == "127.0.0.1"


def test_parse_target():
    t = parse_target("https://Bücher.example/a b/ü.jpg?x=1 2#frag")
    assert (t.scheme, t.host, t.port) == ("https", "xn--bcher-kva.example", 443)
    assert t.path == "/a%20b/%C3%BC.jpg?x=1%202" and t.host_header == "xn--bcher-kva.example"
    t = parse_target("http://[::1]:8080")
    assert (t.host, t.port, t.path, t.host_header) == ("::1", 8080, "/", "[::1]:8080")
    for url, reason in [("javascript:alert(1)", "bad_scheme"), ("//x.org/a.jpg", "bad_scheme"),
                        ("http://x.org:99999/", "bad_url"), ("http://", "bad_url")]:  # fmt: skip
        with pytest.raises(_Failure) as e:
            parse_target(url)
        assert e.value.reason == reason


@pytest.mark.parametrize(
    "values,opted_out",
    [
        (["noai"], "noai"),
        (["noindex, NoImageAI"], "noimageai"),
        (["noindex", "noai"], "noai"),
        (["interleaf: noai"], "noai"),
        (["otherbot: noai"], None),
        (["otherbot: noindex, interleaf: noimageai"], "noimageai"),
        (["max-snippet: 20, noai"], "noai"),
        (["noindex, nofollow"], None),
        ([], None),
    ],
)
def test_x_robots_tag(values, opted_out):
    assert header_opts_out(values, "interleaf", ("noai", "noimageai")) == opted_out


def test_robots_cache_rules_per_origin():
    calls = []
    answers = {
        "http://a.test/robots.txt": (200, b"User-agent: interleaf\nDisallow: /x/\n"),
        "http://b.test/robots.txt": (404, b""),
        "http://c.test/robots.txt": (503, b""),
        "http://d.test/robots.txt": (None, b""),
    }

    def fetch(url):
        calls.append(url)
        return answers[url]

    cache = RobotsCache("interleaf", fetch)
    assert not cache.allowed("http://a.test", "http://a.test/x/1.jpg")
    assert cache.allowed("http://a.test", "http://a.test/y/1.jpg")
    assert cache.allowed("http://b.test", "http://b.test/x/1.jpg")  # no robots.txt: allowed
    assert not cache.allowed("http://c.test", "http://c.test/1.jpg")  # server error: disallowed (RFC 9309)
    assert not cache.allowed("http://d.test", "http://d.test/1.jpg")  # unreachable: disallowed
    assert calls == list(answers)  # each fetched once


def test_robots_cache_keeps_the_origins_used_last():
    calls = []

    def fetch(url):
        calls.append(url)
        return 200, b"User-agent: *\nDisallow: /private/\n"

    cache = RobotsCache("interleaf", fetch, max_origins=2)
    for origin in ("http://a.test", "http://b.test", "http://a.test", "http://c.test", "http://a.test", "http://b.test"):
        assert not cache.allowed(origin, origin + "/private/1.jpg")
    # c evicted b (a was used more recently), so b is fetched again; a never is
    assert calls == [f"http://{h}.test/robots.txt" for h in ("a", "b", "c", "b")]
