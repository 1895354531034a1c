"""Decode HTML bytes to text: HTTP header charset, then BOM / <meta charset>, then detection."""

from __future__ import annotations

import re

from bs4.dammit import EncodingDetector, UnicodeDammit

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    m = _CHARSET.search(content_type)
    return m.group(1).lower() if m else None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used).

    Tried in order, each only if it decodes the bytes cleanly: a byte-order mark, the HTTP
    header's charset, the document's own <meta> declaration, UTF-8, then statistical detection
    (which misreads short UTF-8 text, hence after UTF-8), then windows-1252.
    """
    _, bom = EncodingDetector.strip_byte_order_mark(data)
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    candidates = [e for e in (bom, header_charset(content_type), declared, "utf-8") if e]
    dammit = UnicodeDammit(data, known_definite_encodings=candidates, is_html=True)
    if dammit.unicode_markup is None:
        # Every candidate failed: keep the page with replacement characters rather than drop it.
        return data.decode("utf-8", errors="replace"), "utf-8-replace"
    return dammit.unicode_markup, dammit.original_encoding or "unknown"
