"""URL canonicalisation: one spelling per page, so the same page crawled twice gets one document id.

``canonical_url`` lowercases scheme and host (IDNA-encoded), removes default ports, userinfo,
fragments and tracking query parameters, resolves dot segments, normalises percent-escapes and
sorts the remaining query parameters. Path case is kept: servers may treat it as significant.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}

# Query parameters that identify a click or campaign, never the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "spm", "vero_id", "wickedid", "oly_anon_id",
        "oly_enc_id", "rb_clickid", "s_cid", "trk", "ncid", "cmpid", "sessionid", "phpsessid", "jsessionid",
        "zanpid", "guccounter", "si",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "mtm_", "piwik_", "__hs")

# Characters left unescaped in a path/query: RFC 3986 unreserved plus sub-delims and ":@/".
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# In a query "&", "=", "+" and ";" separate or encode fields, so they stay escaped inside values.
_QUERY_SAFE = "/:@!$'()*,-._~?"
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/?#]*", re.IGNORECASE)


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only record where a click came from."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal; urlsplit strips its brackets
        return f"[{host}]"
    if not host:
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # labels too long or invalid: keep the lowercased text
        return host


def _path(path: str) -> str:
    path = _SESSION_IN_PATH.sub("", path)
    # Decode then re-encode: "%7E" and "~" and "%7e" become one spelling; "%2F" stays escaped.
    segments = [quote(unquote(s), safe=_PATH_SAFE.replace("/", "")) for s in path.split("/")]
    path = "/".join(segments) or "/"
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    normal = posixpath.normpath(path) if path != "/" else "/"
    if normal.startswith("//"):  # normpath keeps a leading double slash
        normal = "/" + normal.lstrip("/")
    if trailing and not normal.endswith("/"):
        normal += "/"
    return normal


def canonical_url(url: str) -> str:
    """The canonical spelling of ``url`` (see module doc); idempotent.

    Not a URL parser of last resort: text that is not ``scheme://host...`` comes back stripped
    of surrounding whitespace and fragment but otherwise unchanged.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        return urlunsplit(parts._replace(fragment=""))
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:  # a non-numeric port: not ours to fix
        port = None
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    query.sort()
    return urlunsplit((scheme, netloc, _path(parts.path), urlencode(query, quote_via=quote, safe=_QUERY_SAFE), ""))


def url_host(url: str) -> str:
    """Lowercased host of ``url`` without a leading ``www.``, the unit of per-domain statistics."""
    host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host
