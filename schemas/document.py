"""The Document contract: one web page reduced to its text and images in reading order.

A Document serialises to the JSON stored as ``KEY.json`` in a shard; image bytes travel beside
it (``ImageNode.data``) and are written as the member named by ``ImageNode.member``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Union

SCHEMA_VERSION = "1.0"


class SchemaError(ValueError):
    """A document or node that does not follow the contract; the message says where and why."""


def document_id(url: str) -> str:
    """Stable document key: hex sha1 of the (canonical) URL. Never time- or process-derived."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


@dataclass
class Source:
    kind: str  # "warc" | "html" | "url"
    path: str = ""
    offset: int | None = None
    fetched: str | None = None  # ISO 8601 time of the crawl, from WARC-Date

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "offset": self.offset, "fetched": self.fetched}


@dataclass
class TextNode:
    text: str
    type: str = field(default="text", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass
class ImageNode:
    url: str
    alt: str = ""
    sha1: str | None = None
    phash: str | None = None
    phash_mirror: str | None = None  # pHash of the left-right mirror, so mirrored copies dedupe
    width: int | None = None
    height: int | None = None
    member: str | None = None  # shard member name suffix, e.g. "000.jpg"
    # Encoded bytes of the normalised image; never serialised into the JSON.
    data: bytes | None = field(default=None, repr=False, compare=False)
    type: str = field(default="image", init=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "image", "url": self.url, "alt": self.alt}
        for key in ("sha1", "phash", "phash_mirror", "width", "height", "member"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d


Node = Union[TextNode, ImageNode]


@dataclass
class Document:
    id: str
    url: str
    source: Source
    nodes: list[Node] = field(default_factory=list)
    lang: str | None = None
    lang_score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def images(self) -> list[ImageNode]:
        return [n for n in self.nodes if isinstance(n, ImageNode)]

    @property
    def texts(self) -> list[TextNode]:
        return [n for n in self.nodes if isinstance(n, TextNode)]

    def text(self, sep: str = "\n\n") -> str:
        return sep.join(n.text for n in self.texts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "url": self.url,
            "source": self.source.to_dict(),
            "lang": self.lang,
            "lang_score": self.lang_score,
            "nodes": [n.to_dict() for n in self.nodes],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        # sort_keys and fixed separators: the same document always gives the same bytes.
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Document":
        validate(d)
        nodes: list[Node] = []
        for n in d["nodes"]:
            if n["type"] == "text":
                nodes.append(TextNode(n["text"]))
            else:
                nodes.append(
                    ImageNode(
                        url=n["url"],
                        alt=n.get("alt", ""),
                        sha1=n.get("sha1"),
                        phash=n.get("phash"),
                        phash_mirror=n.get("phash_mirror"),
                        width=n.get("width"),
                        height=n.get("height"),
                        member=n.get("member"),
                    )
                )
        s = d["source"]
        return cls(
            id=d["id"],
            url=d["url"],
            source=Source(s["kind"], s.get("path", ""), s.get("offset"), s.get("fetched")),
            nodes=nodes,
            lang=d.get("lang"),
            lang_score=d.get("lang_score"),
            meta=dict(d.get("meta") or {}),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "Document":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(f"document is not valid JSON: {e}") from e
        return cls.from_dict(d)


def _require(d: dict, key: str, types: type | tuple[type, ...], where: str, optional: bool = False) -> None:
    value = d.get(key)
    if value is None:
        if optional:
            return
        raise SchemaError(f"{where}: missing required field {key!r}")
    # bool is an int subclass; no field of the contract is a bool.
    if isinstance(value, bool) or not isinstance(value, types):
        raise SchemaError(f"{where}: field {key!r} has type {type(value).__name__}, expected {types}")


def validate(d: Any) -> None:
    """Raise SchemaError naming the first field that breaks the Document contract."""
    if not isinstance(d, dict):
        raise SchemaError(f"document must be a JSON object, got {type(d).__name__}")
    version = d.get("schema_version", SCHEMA_VERSION)
    if str(version).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise SchemaError(f"document: schema_version {version!r} is not compatible with {SCHEMA_VERSION}")
    _require(d, "id", str, "document")
    _require(d, "url", str, "document")
    _require(d, "source", dict, "document")
    _require(d["source"], "kind", str, "document.source")
    _require(d, "nodes", list, "document")
    _require(d, "lang", str, "document", optional=True)
    _require(d, "lang_score", (int, float), "document", optional=True)
    _require(d, "meta", dict, "document", optional=True)
    for i, n in enumerate(d["nodes"]):
        where = f"document.nodes[{i}]"
        if not isinstance(n, dict):
            raise SchemaError(f"{where}: node must be an object")
        kind = n.get("type")
        if kind == "text":
            _require(n, "text", str, where)
        elif kind == "image":
            _require(n, "url", str, where)
            _require(n, "alt", str, where, optional=True)
            for key in ("width", "height"):
                _require(n, key, int, where, optional=True)
            for key in ("sha1", "phash", "phash_mirror", "member"):
                _require(n, key, str, where, optional=True)
        else:
            raise SchemaError(f"{where}: type must be 'text' or 'image', got {kind!r}")
