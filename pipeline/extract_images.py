"""Image candidates of a page: which URL an <img> really shows, and whether it is content.

Pages hide the real image behind lazy-load attributes and ``srcset``; the URL we keep is the
largest candidate the page offers, resolved to an absolute URL. Images that cannot be article
content (tracking pixels, ads, logos, icons, avatars, inline data) are rejected with a reason.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from lxml import etree

# Attributes that lazy-loading scripts copy into ``src``; checked before ``src``, which then
# usually holds a placeholder (a data: URI or a 1x1 gif).
LAZY_SRC_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-hi-res-src")
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset")

_TRACKING_URL = re.compile(
    r"(?<![a-z0-9])(pixel|beacon|spacer|blank|clear|transparent|1x1)\.(gif|png)|(?<![a-z0-9])(pixel|beacon)(\?|/|$)"
    r"|/tr\?|(?<![a-z0-9])track(ing)?(\?|/|\.gif)|google-analytics|scorecardresearch|quantserve|facebook\.com/tr"
    r"|/[bpt]\.gif",
    re.I,
)
_AD_URL = re.compile(r"doubleclick|googlesyndication|adsystem|adserver|adservice|/ads?/|/adv/|/banners?/", re.I)
# Decorative images: named so in the URL, class, id or alt text ("icon" but not "silicon").
_DECORATIVE = re.compile(
    r"(?<![a-z])(logo|avatar|gravatar|icons?(?![a-z])|sprite|favicon|badge|emoji|spinner|loader|placeholder"
    r"|headshot|authors?(?![a-z]))",
    re.I,
)


def _declared_size(value: str | None) -> int | None:
    """Pixel size from a width/height attribute ("640", "640px"); None for "100%" or garbage."""
    if not value:
        return None
    m = re.match(r"\s*(\d+)(?:\.\d+)?\s*(px)?\s*$", value)
    return int(m.group(1)) if m else None


_SRCSET_CANDIDATE = re.compile(r"[\s,]*(\S+)(?:\s+([^,]*))?")


def parse_srcset(srcset: str) -> list[tuple[str, float]]:
    """``srcset`` candidates as (url, size), size being the w or x descriptor (1.0 when absent).

    Follows the HTML parsing rule that a URL is a run of non-space characters (so URLs with
    commas, as image CDNs write them, survive) and a comma ends the descriptors.
    """
    out: list[tuple[str, float]] = []
    pos, n = 0, len(srcset)
    while pos < n:
        m = _SRCSET_CANDIDATE.match(srcset, pos)
        if m is None:
            break
        url, descriptors = m.group(1), m.group(2) or ""
        if url.endswith(","):
            # "a.jpg, b.jpg": the comma ends this candidate, what follows is the next one.
            url, descriptors, pos = url.rstrip(","), "", m.end(1)
        else:
            pos = m.end()
        size = 1.0
        for d in descriptors.split():
            if d[-1:] in ("w", "x"):
                try:
                    size = float(d[:-1])
                except ValueError:
                    pass
        if url:
            out.append((url, size))
    return out


def _largest(srcset: str) -> tuple[str, float] | None:
    candidates = parse_srcset(srcset)
    return max(candidates, key=lambda c: c[1]) if candidates else None


def raw_image_url(img: etree._Element) -> str:
    """The URL (maybe relative) an <img> shows: largest srcset candidate, lazy attrs, then src.

    For an <img> inside <picture>, the sibling <source> elements are candidates too.
    """
    get = img.get
    best: tuple[str, float] | None = None
    sets = [get(a) for a in LAZY_SRCSET_ATTRS + ("srcset",)]
    # libxml2 does not know <source> is empty and nests what follows inside it, so the
    # <picture> may be the parent or an ancestor a few <source> levels up.
    picture = img.getparent()
    while picture is not None and picture.tag == "source":
        picture = picture.getparent()
    if picture is not None and picture.tag == "picture":
        for source in picture.iter("source"):
            if "svg" not in (source.get("type") or ""):
                sets.append(source.get("data-srcset") or source.get("srcset"))
    for srcset in sets:
        if srcset and not srcset.startswith("data:"):
            cand = _largest(srcset)
            if cand and (best is None or cand[1] > best[1]):
                best = cand
    if best is not None and best[1] > 1.0:
        return best[0]
    for attr in LAZY_SRC_ATTRS:
        value = get(attr)
        if value and not value.startswith("data:"):
            return value.strip()
    src = (get("src") or "").strip()
    if best is not None and (not src or src.startswith("data:")):
        return best[0]
    return src


def absolute_url(base_url: str, raw: str) -> str:
    """``urljoin`` with a shortcut for URLs that are already absolute (most image URLs are)."""
    if raw.startswith(("https://", "http://")):
        return raw
    return urljoin(base_url, raw)


def image_url(img: etree._Element, base_url: str) -> str:
    """The absolute URL of an <img> (its src, or a lazy-load attribute), without judging it."""
    raw = next((v for v in (img.get(a) for a in LAZY_SRC_ATTRS + ("src",)) if v and not v.startswith("data:")), "")
    raw = raw.strip()
    return absolute_url(base_url, raw) if raw else ""


def judge_image(img: etree._Element, base_url: str) -> tuple[str, str | None]:
    """(absolute URL, rejection reason or None) for one <img> element."""
    raw = raw_image_url(img)
    if not raw:
        return "", "no_src"
    if raw.startswith("data:"):
        return raw[:64], "data_uri"
    url = absolute_url(base_url, raw)
    if not url.startswith(("http://", "https://")):
        return url, "bad_url"
    width, height = _declared_size(img.get("width")), _declared_size(img.get("height"))
    if (width is not None and width <= 2) or (height is not None and height <= 2) or _TRACKING_URL.search(url):
        return url, "tracking_pixel"
    if _AD_URL.search(url):
        return url, "ad"
    hints = f"{url} {img.get('class') or ''} {img.get('id') or ''} {img.get('alt') or ''}"
    if _DECORATIVE.search(hints):
        return url, "decorative"
    if url.lower().split("?")[0].endswith(".svg"):
        return url, "svg"
    sides = [s for s in (width, height) if s is not None]
    if sides and min(sides) < 48:
        return url, "too_small"
    return url, None
