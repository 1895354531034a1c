"""Deduplication rules as plain functions; pipeline/dedupe.py runs them at corpus scale in Beam.

Every choice of which duplicate survives goes through a total order (``doc_rank``,
``image_rank``), so the same corpus gives the same survivors whatever the arrival order.
Near-duplicates are found through band keys (LSH): two items that may be near share a key,
items are compared only within a key, and each item links to the best-ranked item within
the threshold, or to none, in which case it represents its cluster.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from interleaf.schemas import Document, Dropped, ImageNode, StageResult, TextNode

from .urls import canonical_url, url_host

PHASH_BITS = 64


@dataclass
class DedupeConfig:
    # Images on more than this many documents (by URL or content sha1) are logos, buttons, ads.
    max_docs_per_image: int = 10  # OBELICS used 10
    image_distance: int = 4  # pHash Hamming distance of near-duplicate images (of 64 bits)
    match_mirrored: bool = True  # also compare the mirrored image's pHash (one extra DCT per image)
    near_dup_images: str = "drop"  # "drop" the non-representatives, or "link" them in doc.meta
    max_bucket: int = 64  # an LSH bucket compares its items with at most this many best-ranked ones
    # Near-duplicate documents: MinHash over word shingles.
    jaccard_threshold: float = 0.8
    shingle_words: int = 5
    num_perm: int = 128
    # Paragraphs on more than this many documents of one domain are boilerplate.
    max_docs_per_paragraph: int = 3
    min_paragraph_chars: int = 1  # shorter paragraphs are never counted as repeats
    # Decontamination: images within this distance of an evaluation image are dropped.
    decontam_distance: int = 4

    def __post_init__(self) -> None:
        if self.near_dup_images not in ("drop", "link"):
            raise ValueError(f"near_dup_images must be 'drop' or 'link', got {self.near_dup_images!r}")
        if not 0 <= self.image_distance < PHASH_BITS:
            raise ValueError(f"image_distance must be in [0, {PHASH_BITS}), got {self.image_distance}")
        if not 0.0 < self.jaccard_threshold <= 1.0:
            raise ValueError(f"jaccard_threshold must be in (0, 1], got {self.jaccard_threshold}")


# ---------------------------------------------------------------- documents: exact duplicates


def fetched_timestamp(doc: Document) -> float:
    """Seconds since the epoch of the crawl, or -inf when unknown (an unknown fetch ranks last)."""
    fetched = doc.source.fetched
    if not fetched:
        return float("-inf")
    ts = datetime.fromisoformat(fetched.replace("Z", "+00:00"))
    if ts.tzinfo is None:  # naive times in crawl metadata are UTC
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.timestamp()


def iso_time(timestamp: float) -> str:
    """ISO 8601 UTC of a ``fetched_timestamp``; "unknown" for -inf."""
    if timestamp == float("-inf"):
        return "unknown"
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat().replace("+00:00", "Z")


def doc_rank(doc: Document) -> tuple:
    """Total order of documents, best first: most recent fetch, then smallest id, URL, content."""
    digest = hashlib.sha1(doc.to_json().encode("utf-8")).hexdigest()
    return (-fetched_timestamp(doc), doc.id, doc.url, digest)


def url_key(doc: Document) -> str:
    return canonical_url(doc.url)


def _normalize_text(text: str) -> str:
    return " ".join(text.lower().split())


def content_hash(doc: Document) -> str:
    """Hash of what a page contributes: its normalised text and its images' content, in order."""
    h = hashlib.sha1()
    for node in doc.nodes:
        if isinstance(node, TextNode):
            h.update(b"T" + _normalize_text(node.text).encode("utf-8") + b"\0")
        else:
            h.update(b"I" + (node.sha1 or canonical_url(node.url)).encode("utf-8") + b"\0")
    return h.hexdigest()


def duplicate_detail(rank: tuple) -> str:
    """Drop detail naming the fetch that was kept, from its ``doc_rank``."""
    return f"kept {rank[2]} fetched {iso_time(-rank[0])}"


def dedupe_fetches(docs: Iterable[Document], duplicate_of: str | None, stage: str) -> list[StageResult]:
    """The fetches of one URL (one document id): the best-ranked stays, unless ``duplicate_of``
    says its content is another document's (the detail of that drop); the others are dropped.

    Ranks are computed only when there is more than one fetch: most ids have one, and a rank
    serialises the whole document.
    """
    docs = list(docs)
    if len(docs) > 1:
        docs.sort(key=doc_rank)
    results = [StageResult.dropped(doc, stage, "duplicate_url", duplicate_detail(doc_rank(docs[0]))) for doc in docs[1:]]
    if docs:
        best = docs[0]
        results.append(
            StageResult.dropped(best, stage, "duplicate_content", duplicate_of) if duplicate_of else StageResult.kept(best)
        )
    return results


# ---------------------------------------------------------------- images




def phash_int(hex_hash: str) -> int:
    value = int(hex_hash, 16)
    if value >> PHASH_BITS:
        raise ValueError(f"pHash {hex_hash!r} has more than {PHASH_BITS} bits")
    return value


class ImageItem(NamedTuple):
    """One distinct image content in near-duplicate search; ``mirror`` is 0 when not computed."""

    sha1: str
    phash: int
    mirror: int
    area: int


def image_item(node: ImageNode, match_mirrored: bool) -> ImageItem | None:
    if not node.sha1 or not node.phash:
        return None
    mirror = phash_int(node.phash_mirror) if match_mirrored and node.phash_mirror else 0
    return ImageItem(node.sha1, phash_int(node.phash), mirror, (node.width or 0) * (node.height or 0))


class ImageFact(NamedTuple):
    """What image dedupe needs of one image node of a document."""

    url: str  # canonical
    sha1: str
    item: ImageItem | None


def image_fact(node: ImageNode, match_mirrored: bool) -> ImageFact:
    return ImageFact(canonical_url(node.url), node.sha1, image_item(node, match_mirrored))


def image_keys(facts: Iterable[ImageFact]) -> set[tuple[str, str]]:
    """Distinct ("url", canonical URL) and ("sha1", content hash) keys of a document's images."""
    keys: set[tuple[str, str]] = set()
    for fact in facts:
        keys.add(("url", fact.url))
        if fact.sha1:
            keys.add(("sha1", fact.sha1))
    return keys


def distinct_items(facts: Iterable[ImageFact]) -> dict[str, ImageItem]:
    """sha1 -> near-duplicate search item of a document's images, each content once."""
    return {f.sha1: f.item for f in facts if f.item is not None}


def image_rank(item: ImageItem) -> tuple:
    """Best first: the largest picture (the least degraded copy), then the smallest sha1."""
    return (-item.area, item.sha1)


def band_keys(value: int, n_bands: int, bits: int = PHASH_BITS) -> list[tuple[int, int]]:
    """(band index, band value) for ``n_bands`` contiguous slices of ``value``'s bits.

    Two values within Hamming distance ``n_bands - 1`` agree on at least one band (pigeonhole).
    """
    edges = [round(i * bits / n_bands) for i in range(n_bands + 1)]
    return [(i, (value >> lo) & ((1 << (hi - lo)) - 1)) for i, (lo, hi) in enumerate(zip(edges, edges[1:]))]


def image_band_keys(item: ImageItem, distance: int) -> set[tuple[int, int]]:
    """Band keys of an image: of its pHash and, when known, of its mirror's, so mirrors meet."""
    keys = set(band_keys(item.phash, distance + 1))
    if item.mirror:
        keys.update(band_keys(item.mirror, distance + 1))
    return keys


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def image_distance(a: ImageItem, b: ImageItem) -> int:
    """Hamming distance of two images, also comparing either one's mirror with the other."""
    d = hamming(a.phash, b.phash)
    if a.mirror:
        d = min(d, hamming(a.mirror, b.phash))
    if b.mirror:
        d = min(d, hamming(a.phash, b.mirror))
    return d


def best_neighbour(item, candidates: Sequence, rank, is_near) -> object | None:
    """The best-ranked candidate ranked above ``item`` and near it; ``candidates`` sorted best first."""
    own = rank(item)
    for other in candidates:
        if rank(other) >= own:
            return None
        if is_near(item, other):
            return other
    return None


def bucket_links(bucket: Iterable, max_bucket: int, rank, is_near) -> Iterator[tuple[object, object]]:
    """(item id, neighbour) for the items of one LSH bucket that have a better-ranked near one.

    Each item is compared with the ``max_bucket`` best-ranked items of the bucket, found in a
    first pass, so memory is bounded however hot the bucket; ``bucket`` is iterated twice.
    """
    top = heapq.nsmallest(max_bucket, bucket, key=rank)
    for item in bucket:
        other = best_neighbour(item, top, rank, is_near)
        if other is not None:
            yield item[0], other


def apply_image_verdicts(
    doc: Document, frequent: set[tuple[str, str]], near: dict[str, str], config: DedupeConfig, stage: str
) -> StageResult:
    """Remove repeated, too-frequent and near-duplicate images from one document.

    ``frequent`` holds the image keys (see ``image_keys``) seen on too many documents;
    ``near`` maps a sha1 to the sha1 of its cluster's better-ranked image.
    """
    drops: list[Dropped] = []
    seen: set[str] = set()
    links: dict[str, str] = {}
    nodes = []
    for node in doc.nodes:
        if isinstance(node, ImageNode):
            url = canonical_url(node.url)
            reason, detail = None, ""
            if url in seen or (node.sha1 and node.sha1 in seen):
                reason = "repeated_in_document"
            elif ("url", url) in frequent:
                reason, detail = "frequent_url", f"on > {config.max_docs_per_image} documents"
            elif node.sha1 and ("sha1", node.sha1) in frequent:
                reason, detail = "frequent_image", f"on > {config.max_docs_per_image} documents"
            elif node.sha1 in near and config.near_dup_images == "drop":
                reason, detail = "near_duplicate", f"of {near[node.sha1]}"
            seen.add(url)
            if node.sha1:
                seen.add(node.sha1)
            if reason:
                drops.append(Dropped(stage, reason, "image", doc.id, node.url, detail))
                continue
            if node.sha1 in near:
                links[node.sha1] = near[node.sha1]
        nodes.append(node)
    doc.nodes = nodes
    if links:
        doc.meta = {**doc.meta, "near_duplicate_images": links}
    return StageResult.kept(doc, drops)


# ---------------------------------------------------------------- documents: near duplicates

_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int) -> set[bytes]:
    """Word n-grams of lowercased text; a text shorter than n words is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


@lru_cache(maxsize=8)
def _permutations(num_perm: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm).permutations


def minhash_signature(text: str, config: DedupeConfig) -> np.ndarray:
    """datasketch MinHash (affine32, seed 1) of the text's word shingles, as uint32 values."""
    from datasketch import MinHash

    m = MinHash(num_perm=config.num_perm, permutations=_permutations(config.num_perm), scheme="affine32")
    m.update_batch(shingles(text, config.shingle_words))
    return m.hashvalues.astype(np.uint32)


@lru_cache(maxsize=32)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH picks for this threshold (equal FP/FN weights)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def signature_band_keys(signature: np.ndarray, config: DedupeConfig) -> list[tuple[int, bytes]]:
    bands, rows = lsh_bands(config.jaccard_threshold, config.num_perm)
    return [(i, hashlib.sha1(signature[i * rows : (i + 1) * rows].tobytes()).digest()[:12]) for i in range(bands)]


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


class DocItem(NamedTuple):
    """A document in near-duplicate search: its id, rank (best first) and signature bytes.

    The signature keeps the low 8 bits of each MinHash value: it is shuffled once per band, and
    unequal values then collide with probability 1/256, which raises an estimated Jaccard J
    by (1 - J) / 256 at most (0.001 at the 0.8 threshold).
    """

    id: str
    rank: tuple
    signature: bytes


def doc_item(doc: Document, config: DedupeConfig) -> DocItem:
    # Ids are unique once exact duplicates are gone, so (fetch, id) is a total order and stays small.
    signature = minhash_signature(doc.text("\n"), config).astype(np.uint8)  # keeps the low 8 bits
    return DocItem(doc.id, (-fetched_timestamp(doc), doc.id), signature.tobytes())


def doc_band_keys(item: DocItem, config: DedupeConfig) -> list[tuple[int, bytes]]:
    return signature_band_keys(np.frombuffer(item.signature, np.uint8), config)


def docs_near(a: DocItem, b: DocItem, threshold: float) -> bool:
    return estimated_jaccard(np.frombuffer(a.signature, np.uint8), np.frombuffer(b.signature, np.uint8)) >= threshold


def paragraph_hash(text: str) -> str:
    return hashlib.sha1(_normalize_text(text).encode("utf-8")).hexdigest()[:20]


def paragraph_keys(doc: Document, config: DedupeConfig) -> set[tuple[str, str]]:
    """Distinct (domain, paragraph hash) of a document's paragraphs long enough to count."""
    host = url_host(doc.url)
    return {(host, paragraph_hash(n.text)) for n in doc.texts if len(n.text.strip()) >= config.min_paragraph_chars}


class DocFacts(NamedTuple):
    """What the document dedupe stages need of a document, computed once after extraction.

    Facts are small, so the dedupe stages shuffle them instead of documents: a document moves
    once, to the join that applies every stage's verdicts to it.
    """

    id: str
    url: str
    rank: tuple  # doc_rank
    content: str  # content_hash
    item: DocItem  # MinHash signature
    paragraphs: tuple[tuple[str, str], ...]  # paragraph_keys, sorted
    images: tuple[tuple[str, int], ...]  # (image URL, node index)


def doc_facts(doc: Document, config: DedupeConfig) -> DocFacts:
    images = tuple((n.url, i) for i, n in enumerate(doc.nodes) if isinstance(n, ImageNode))
    return DocFacts(
        doc.id,
        doc.url,
        doc_rank(doc),
        content_hash(doc),
        doc_item(doc, config),
        tuple(sorted(paragraph_keys(doc, config))),
        images,
    )


def apply_document_verdicts(
    doc: Document, duplicate_of: str | None, repeated: set[str], config: DedupeConfig, stage: str
) -> StageResult:
    """Drop a near-duplicate document, or remove its paragraphs repeated across its domain."""
    if duplicate_of is not None:
        return StageResult.dropped(doc, stage, "near_duplicate", f"of {duplicate_of}")
    drops, nodes = [], []
    for node in doc.nodes:
        if isinstance(node, TextNode) and paragraph_hash(node.text) in repeated:
            drops.append(
                Dropped(
                    stage,
                    "repeated_paragraph",
                    "text",
                    doc.id,
                    doc.url,
                    f"on > {config.max_docs_per_paragraph} documents of {url_host(doc.url)}",
                    node.text[:500],
                )
            )
        else:
            nodes.append(node)
    doc.nodes = nodes
    return StageResult.kept(doc, drops)


# ---------------------------------------------------------------- decontamination


class EvalHashes:
    """pHashes of evaluation images (and of their mirrors) as a uint64 array for fast lookup."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self.values = np.array(sorted({phash_int(h) for h in hashes}), dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.values)

    def nearest(self, hex_hash: str) -> int:
        """Smallest Hamming distance from ``hex_hash`` to an evaluation hash (65 when there are none)."""
        if not len(self.values):
            return PHASH_BITS + 1
        return int(np.bitwise_count(self.values ^ np.uint64(phash_int(hex_hash))).min())


def decontaminate(doc: Document, hashes: EvalHashes, distance: int, stage: str) -> StageResult:
    drops, nodes = [], []
    for node in doc.nodes:
        if isinstance(node, ImageNode) and node.phash:
            d = hashes.nearest(node.phash)
            if d <= distance:
                drops.append(Dropped(stage, "eval_image", "image", doc.id, node.url, f"pHash distance {d}"))
                continue
        nodes.append(node)
    doc.nodes = nodes
    return StageResult.kept(doc, drops)

