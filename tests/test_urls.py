from hypothesis import given
from hypothesis import strategies as st

import pytest

from interleaf.pipeline.urls import canonical_url, is_tracking_param, url_host


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTP://WWW.Example.COM/a", "http://www.example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?utm_source=tw&utm_medium=x&id=7&fbclid=Z", "https://example.com/a?id=7"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/%7Euser/", "https://example.com/~user/"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),  # an escaped slash is not a separator
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/s?q=a%26b", "https://example.com/s?q=a%26b"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/p;jsessionid=0AB3?x=1", "https://example.com/p?x=1"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com/Path/Case", "https://example.com/Path/Case"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_tracking_params():
    assert is_tracking_param("utm_campaign") and is_tracking_param("GCLID") and is_tracking_param("_ga")
    assert not is_tracking_param("id") and not is_tracking_param("page") and not is_tracking_param("q")


def test_url_host():
    assert url_host("https://WWW.Example.org/x") == "example.org"
    assert url_host("http://blog.example.org:8080/") == "blog.example.org"


_segment = st.text(alphabet="abcXYZ019-._~%/é ", max_size=8)


@given(
    scheme=st.sampled_from(["http", "HTTPS", "https"]),
    host=st.sampled_from(["example.com", "EXAMPLE.com", "www.example.org", "bücher.de", "127.0.0.1", "[::1]"]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=st.lists(_segment, max_size=4),
    query=st.lists(st.tuples(st.sampled_from(["a", "b", "utm_source", "q"]), _segment), max_size=3),
    fragment=st.sampled_from(["", "#x", "#"]),
)
def test_canonical_url_is_idempotent(scheme, host, port, path, query, fragment):
    q = "&".join(f"{k}={v}" for k, v in query)
    url = f"{scheme}://{host}{port}/{'/'.join(path)}{'?' + q if q else ''}{fragment}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once and "utm_source" not in once
