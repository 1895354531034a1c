"""DOM -> text and image nodes in reading order, keeping only the page's main content.

One lxml parse, then two cheap walks, both iterative (a 10,000-deep DOM cannot overflow
the stack) and neither modifying the tree:

1. score: one post-order walk skips never-content subtrees (scripts, navigation, forms,
   hidden elements), measures each block's text and link text, and sums a score per subtree:
   prose blocks count for their length, link lists and short scraps against it. Elements
   whose class or id names boilerplate (share bars, related lists, comments...) and lists of
   teaser cards count against their ancestors. The best-scoring subtree is the article; it
   is narrowed to a child that holds nearly all of its score;
2. emit: a walk of the article writes one TextNode per block and an ImageNode per kept image,
   in DOM order; image-holding neighbours of the article (a lead figure, the article's own
   header) add their figures. When no subtree stands out (galleries, list pages) every
   link-poor paragraph of the page is kept instead.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree

from interleaf.schemas import ImageNode, Node, TextNode

from .extract_images import image_url, judge_image


@dataclass
class ExtractConfig:
    max_html_bytes: int = 5_000_000  # larger pages are dropped with reason "too_large", not parsed
    min_paragraph_chars: int = 50  # a block this long (and under the link density limit) is prose
    max_link_density: float = 0.3  # fallback mode: link chars / chars above which a block is not text
    # Blocks above this link density are navigation: they score against their container and
    # are not emitted. Article lists whose items lead with a linked sentence stay under it.
    drop_link_density: float = 0.7
    link_block_weight: float = 1.0  # score per char of a navigation block, negative
    short_block_weight: float = 0.3  # score of a short link-poor block, per char, negative
    boilerplate_hint_weight: float = 0.25  # factor on the score of an element named boilerplate
    sibling_paragraph_bonus: float = 0.5  # share of its child paragraphs' score added to a container
    min_teaser_cards: int = 3  # children with an image, a link to a page and little text: a teaser list
    max_teaser_chars: int = 600  # the most text a teaser card holds
    narrow_share: float = 0.8  # a child with this share of the best subtree's score replaces it
    min_article_chars: int = 250  # below this best-subtree score, fall back to page paragraphs
    max_figure_text_chars: int = 600  # a neighbour of the article with less text is image-only
    min_text_chars: int = 1  # emitted text blocks shorter than this are dropped
    keep_captions: bool = True  # figure captions as text after their image (False: images only)


@dataclass
class Extraction:
    nodes: list[Node]
    title: str
    drop_reason: str | None  # None when kept; "too_large", "parse_error", "too_deep", "no_content", "opted_out"
    detail: str = ""
    dropped_images: list[tuple[str, str]] = field(default_factory=list)  # (image url, reason)
    image_opt_out: bool = False  # <meta name="robots" content="noimageai">: images must not be used


# Never content: removed with their subtree before anything is measured.
_REMOVE_TAGS = frozenset((
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
    "nav", "aside", "footer", "header", "menu", "dialog", "button", "select", "input", "textarea", "label",
    "link", "meta", "head",
))  # fmt: skip
# Elements that start a new text block; everything else flows inline.
_BLOCK_TAGS = frozenset(
    "address article blockquote body center dd details dialog div dl dt fieldset figcaption figure form"
    " h1 h2 h3 h4 h5 h6 hr html li main ol p pre section summary table tbody td tfoot th thead tr ul br"
    " caption".split()
)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_IMAGE_TAGS = ("img", "amp-img")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# A class or id token that names boilerplate: the word alone, after one prefix part, or
# before a widget-ish suffix: "share-bar", "article__related", "comments" match;
# "post-share-enabled", "modal-enabled" and "has-comments" do not.
_BOILERPLATE_TOKEN = re.compile(
    r"^(?:(?!has|no|with|is|show|enable)[a-z0-9]+[-_]+)?"
    r"(share|sharing|social|related|recommended|recommendations|comments?|newsletter|subscribe|subscription"
    r"|signup|cookies?|consent|promo|advert|advertisement|ads?|sponsored|sidebar|breadcrumbs?|popup|modal|banner"
    r"|outbrain|taboola|navigation|nav|menu|footer|masthead|byline|tags|toolbar|paywall|disclaimer|author-bio"
    r"|more-stories|read-more|most-popular|trending)"
    r"(?:[-_]+(?:bar|box|buttons?|links?|list|container|wrapper|wrap|widget|section|area|block|module|tools"
    r"|icons|panel|items?|content|posts|articles|stories|top|bottom))?$"
)
_IMAGE_FILE = re.compile(r"\.(jpe?g|png|gif|webp|avif)(\?.*)?$", re.I)
_KEEP_TAGS = frozenset(("html", "body", "article", "main"))


def extract(html: str, url: str, config: ExtractConfig = ExtractConfig()) -> Extraction:
    """Main content of one decoded HTML page as nodes in reading order."""
    too_large = Extraction([], "", "too_large", f"more than {config.max_html_bytes} bytes")
    if len(html) > config.max_html_bytes:  # more characters than bytes allowed: not even encoded
        return too_large
    # Bytes with a declared encoding: lxml refuses a str that carries an XML encoding declaration,
    # and parses UTF-8 bytes faster than a str.
    data = html.encode("utf-8", "surrogatepass")
    if len(data) > config.max_html_bytes:
        return too_large
    parser = etree.HTMLParser(
        remove_comments=True, remove_pis=True, huge_tree=True, collect_ids=False, encoding="utf-8"
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as e:
        return Extraction([], "", "parse_error", str(e)[:200])
    if root is None:
        return Extraction([], "", "parse_error", "empty document")
    if any(err.type_name == "ERR_RESOURCE_LIMIT" for err in parser.error_log):
        # libxml2 stops at its nesting limit and silently loses the rest of the page.
        return Extraction([], "", "too_deep", "nesting deeper than the parser's limit")
    return extract_tree(root, url, config)


def extract_tree(root: etree._Element, url: str, config: ExtractConfig = ExtractConfig()) -> Extraction:
    """``extract`` on an already parsed tree (plain lxml elements); the tree is not modified."""
    head = root.find("head")
    title, base, robots = _read_head(head) if head is not None else ("", None, set())
    if "noai" in robots:
        return Extraction([], title, "opted_out", "meta robots noai")
    base_url = _resolve_base(url, base)
    body = root.find("body")
    if body is None:
        body = root
    images = list(body.iter(_IMAGE_TAGS))
    scored = _score(body, config)
    emitter = _Emitter(base_url, scored.skip, config)
    if scored.best_score >= config.min_article_chars:
        for segment, is_article in _article_segments(scored, config):
            if is_article:
                emitter.walk(segment)
            else:
                emitter.walk_media(segment)
    else:
        emitter.fallback = True
        emitter.walk(body)
    dropped = emitter.rejected
    for img in images:
        if img not in emitter.judged:
            # Outside the article: not worth judging, only named for the record.
            url = image_url(img, base_url)
            if url:
                dropped.append((url, "boilerplate"))
    nodes = emitter.nodes
    if not any(isinstance(n, TextNode) for n in nodes):
        return Extraction([], title, "no_content", "no article text found", dropped, "noimageai" in robots)
    return Extraction(nodes, title, None, "", dropped, "noimageai" in robots)


def _read_head(head: etree._Element) -> tuple[str, str | None, set[str]]:
    """(title, <base href>, meta robots directives)."""
    title, base, robots = "", None, set()
    for el in head.iter("title", "base", "meta"):
        if el.tag == "title" and not title:
            title = " ".join((el.text or "").split())
        elif el.tag == "base" and base is None:
            base = el.get("href")
        elif el.tag == "meta" and (el.get("name") or "").strip().lower() == "robots":
            robots.update(t for t in re.split(r"[\s,]+", (el.get("content") or "").lower()) if t)
    return title, base, robots


def _resolve_base(url: str, base: str | None) -> str:
    return urljoin(url, base.strip()) if base and base.strip() else url


def _is_removed(el: etree._Element, tag: str, attrs: list[str]) -> bool:
    """Never content: a non-content tag, a hidden element, or a widget form.

    Nothing is deleted from the tree (removing subtrees costs lxml a walk of each one): the
    walks skip these subtrees and keep their tails. ``attrs`` is ``el.keys()``: one call that
    spares the attribute lookups on the many elements that have none.
    """
    if tag in _REMOVE_TAGS:
        # An article's own <header> holds its lead image; the page's header is a masthead.
        return tag != "header" or not any(a.tag in ("article", "main") for a in el.iterancestors())
    if attrs:
        if "style" in attrs:
            style = el.get("style")
            if ("none" in style or "hidden" in style) and _HIDDEN_STYLE.search(style):
                return True
        if "hidden" in attrs or ("aria-hidden" in attrs and el.get("aria-hidden") == "true"):
            return True
    # A <form> wrapping the whole page (ASP.NET) holds the article; small forms are widgets.
    return tag == "form" and el.find(".//p") is None


@functools.lru_cache(maxsize=65536)
def _is_boilerplate_name(names: str) -> bool:
    """Does a class or id attribute value name a boilerplate widget? (Values repeat: cached.)"""
    return any(_BOILERPLATE_TOKEN.match(t) for t in names.lower().split())


@dataclass
class _Scored:
    best: etree._Element
    best_score: float
    stats: dict  # element -> (total chars, link chars, score) of its subtree
    skip: set  # removed and boilerplate-named elements: not emitted


def _block_score(chars: int, link_chars: int, tag: str, config: ExtractConfig) -> float:
    if chars == 0:
        return 0.0
    density = link_chars / chars
    if density > config.drop_link_density:
        return -config.link_block_weight * chars
    if tag in _HEADINGS:
        return 0.0
    if chars >= config.min_paragraph_chars:
        # Prose with inline links still counts, less so the more of it is links.
        return chars - 2 * link_chars
    return -config.short_block_weight * chars


def _score(body: etree._Element, config: ExtractConfig) -> _Scored:
    """Post-order walk: per subtree its text, link text and score; the best subtree wins."""
    # Frame: [boilerplate-named, inline chars, inline link chars, subtree score, total chars, total link chars,
    #         score of child paragraphs, images, links to pages, teaser-card children], or None for a removed
    #         element.
    stack: list[list | None] = []
    stats: dict = {}
    skip: set = set()
    best, best_score = body, float("-inf")
    boilerplate_factor = config.boilerplate_hint_weight
    paragraph_bonus = config.sibling_paragraph_bonus
    min_cards, max_card_chars = config.min_teaser_cards, config.max_teaser_chars
    block_tags, remove_tags = _BLOCK_TAGS, _REMOVE_TAGS
    in_link = 0
    in_hinted = 0  # open boilerplate-named ancestors: nothing inside them is the article
    walker = etree.iterwalk(body, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        if event == "start":
            attrs = el.keys()
            if (tag in remove_tags or attrs or tag == "form") and _is_removed(el, tag, attrs) and el is not body:
                walker.skip_subtree()
                skip.add(el)
                stack.append(None)
                continue
            if tag == "a":
                in_link += 1
            hinted = (
                attrs
                and tag not in _KEEP_TAGS
                and (
                    ("class" in attrs and _is_boilerplate_name(el.get("class")))
                    or ("id" in attrs and _is_boilerplate_name(el.get("id")))
                )
            )
            if hinted:
                in_hinted += 1
            text = el.text
            n = len(text.strip()) if text else 0
            page_link = tag == "a" and "href" in attrs and not _IMAGE_FILE.search(el.get("href"))
            stack.append([hinted, n, n if in_link else 0, 0.0, 0, 0, 0.0, 1 if tag in _IMAGE_TAGS else 0, page_link, 0])
            continue
        frame = stack.pop()
        tail = el.tail
        n = len(tail.strip()) if tail else 0
        if frame is None:
            stats[el] = (0, 0, float("-inf"))
            if stack:  # the tail of a removed element is still text of its parent
                stack[-1][1] += n
                stack[-1][2] += n if in_link else 0
            continue
        hinted, chars, links, score, total, total_links, direct, images, page_links, cards = frame
        block = 0.0
        if tag == "a":
            in_link -= 1
        if tag in block_tags:
            if chars:
                block = _block_score(chars, links, tag, config)
                score += block
                total += chars
                total_links += links
                chars = links = 0
        # Several teaser cards side by side (thumbnail, linked title, blurb) and no paragraph
        # of its own: a list of other stories, whatever its class says.
        teasers = cards >= min_cards and not direct
        # Paragraphs side by side make an article container; teaser cards each hold one.
        candidate = score + paragraph_bonus * direct
        if in_hinted or teasers:
            candidate *= boilerplate_factor
        if candidate > best_score:
            best, best_score = el, candidate
        if hinted:
            in_hinted -= 1
        if hinted or teasers:
            skip.add(el)
            score = -(total + chars)
        stats[el] = (total + chars, total_links + links, candidate)
        if stack:
            parent = stack[-1]
            parent[1] += chars + n
            parent[2] += links + (n if in_link else 0)
            parent[3] += score
            parent[4] += total
            parent[5] += total_links
            if block > 0:
                parent[6] += block
            parent[7] += images
            parent[8] += page_links
            if images and page_links and 0 < total + chars <= max_card_chars:
                parent[9] += 1
    # The best subtree may hold the article plus teasers around it; step down while one child
    # keeps nearly all of the score, so the article container itself is chosen.
    while True:
        child = max(best.iterchildren(tag=etree.Element), key=lambda c: stats[c][2], default=None)
        if child is None or stats[child][2] < config.narrow_share * best_score:
            break
        best = child
    return _Scored(best, best_score, stats, skip)


def _article_segments(scored: _Scored, config: ExtractConfig) -> list[tuple[etree._Element, bool]]:
    """(element, is the article) for the article and its image-holding neighbours, in DOM order.

    Neighbours are the siblings of the article and of its parent that hold an image and little
    text (a lead figure, the article's own header), so a hero image placed just outside the text
    container is kept; only their figures are emitted.
    """
    best = scored.best
    segments = [(best, True)]
    node = best
    for _ in range(2):
        parent = node.getparent()
        if parent is None:
            break
        before, after, seen = [], [], False
        for sib in parent.iterchildren(tag=etree.Element):
            if sib is node:
                seen = True
            elif _is_figure(sib, scored, config):
                (after if seen else before).append((sib, False))
        segments = before + segments + after
        node = parent
    return segments


def _is_figure(el: etree._Element, scored: _Scored, config: ExtractConfig) -> bool:
    if el in scored.skip or el.tag == "a":
        return False
    total, links, _ = scored.stats.get(el, (0, 0, 0.0))
    if total > config.max_figure_text_chars or links > total / 2:
        return False
    return next(el.iter(_IMAGE_TAGS), None) is not None


def _ancestors_below(el: etree._Element, top: etree._Element) -> list[etree._Element]:
    """``el`` and its ancestors up to, not including, ``top``."""
    out = [el]
    for a in el.iterancestors():
        if a is top:
            break
        out.append(a)
    return out


class _Emitter:
    """Writes the nodes of one or more subtrees: a TextNode per block, images in place."""

    def __init__(self, base_url: str, skip: set, config: ExtractConfig) -> None:
        self.base_url = base_url
        self.skip = skip
        self.config = config
        self.fallback = False  # keep only blocks that read as article text on their own
        self.nodes: list[Node] = []
        self.judged: set = set()  # images met in the article, kept or rejected
        self.rejected: list[tuple[str, str]] = []
        self.urls: set[str] = set()
        self.parts: list = []  # str pieces and ImageNodes of the current block
        self.chars = 0
        self.link_chars = 0
        self.in_link = 0

    def add_text(self, text: str | None) -> None:
        if text:
            self.parts.append(text)
            n = len(text.strip())
            self.chars += n
            if self.in_link:
                self.link_chars += n

    def add_image(self, img: etree._Element) -> None:
        self.judged.add(img)
        url, reason = judge_image(img, self.base_url)
        if reason is None and url in self.urls:
            reason = "duplicate"
        if reason is not None:
            self.rejected.append((url, reason))
            return
        self.urls.add(url)
        self.parts.append((url, ImageNode(url=url, alt=" ".join((img.get("alt") or "").split()))))

    def flush(self) -> None:
        parts, chars, links = self.parts, self.chars, self.link_chars
        self.parts, self.chars, self.link_chars = [], 0, 0
        if not parts:
            return
        config = self.config
        keep_text = chars >= config.min_text_chars and links <= config.drop_link_density * chars
        if self.fallback:
            keep_text = keep_text and chars >= config.min_paragraph_chars and links <= config.max_link_density * chars
        # Images of a dropped link block (related-story thumbnails) go with it; an image-only
        # block has no text to judge and is kept.
        keep_images = keep_text or chars == 0
        run: list[str] = []
        for part in parts:
            if isinstance(part, str):
                run.append(part)
                continue
            url, node = part
            if keep_text:
                self._text(run)
            run = []
            if keep_images:
                self.nodes.append(node)
            else:
                self.rejected.append((url, "boilerplate"))
        if keep_text:
            self._text(run)

    def _text(self, run: list[str]) -> None:
        text = " ".join("".join(run).split())
        # Escaped markup shown as text (a tracking <img> in a text template) and a bare URL are
        # not prose. Repeated blocks stay: recipes and plans repeat lines on purpose.
        markup = text[:1] == "<" and text[-1:] == ">"
        bare_url = text.startswith(("http://", "https://")) and " " not in text
        if text and not markup and not bare_url:
            self.nodes.append(TextNode(text))

    def walk_media(self, top: etree._Element) -> None:
        """Only the figures and images of ``top`` (a neighbour of the article), in order."""
        done: set = set()
        for el in top.iter("figure", *_IMAGE_TAGS):
            if any(a in self.skip or a in done for a in _ancestors_below(el, top)):
                continue
            done.add(el)
            if el.tag == "figure":
                self.walk(el)
            else:
                self.flush()
                self.add_image(el)
                self.flush()

    def walk(self, top: etree._Element) -> None:
        skip, block_tags, flush, add_text = self.skip, _BLOCK_TAGS, self.flush, self.add_text
        if not self.config.keep_captions:
            skip = skip | set(top.iter("figcaption"))
        walker = etree.iterwalk(top, events=("start", "end"))
        for event, el in walker:
            tag = el.tag
            if event == "start":
                if el in skip and el is not top:
                    walker.skip_subtree()
                    continue
                if tag in block_tags:
                    flush()
                elif tag == "a":
                    self.in_link += 1
                elif tag in _IMAGE_TAGS:
                    self.add_image(el)
                add_text(el.text)
                continue
            if el in skip and el is not top:
                # skip_subtree still reports the end event: keep the tail, which is not boilerplate.
                add_text(el.tail)
                continue
            if tag in block_tags:
                flush()
            elif tag == "a":
                self.in_link -= 1
            if el is not top:
                add_text(el.tail)
        flush()
