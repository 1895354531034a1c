"""Rules of pipeline/extract.py on small hand-written pages."""

from __future__ import annotations

from lxml import etree

from interleaf.pipeline.extract import ExtractConfig, extract, extract_tree
from interleaf.pipeline.extract_images import parse_srcset
from interleaf.schemas import ImageNode, TextNode

URL = "https://news.example.org/2024/05/story.html"
PARA = (
    "The river rose through the night and by morning the lower town was under water, "
    "its streets turned into canals that carried furniture, cars and fences downstream."
)


def paragraphs(n: int, prefix: str = "") -> str:
    return "".join(f"<p>{prefix}{i} {PARA}</p>" for i in range(n))


def page(article: str, head: str = "", around: str = "") -> str:
    return (
        f"<html><head><title>Flood  story</title>{head}</head><body>"
        "<header><a href='/'>Home</a><img src='/logo.png'></header>"
        "<nav><ul><li><a href='/a'>World</a></li><li><a href='/b'>Sport</a></li></ul></nav>"
        f"<div class='main'><article>{article}</article>{around}</div>"
        "<footer><p>Copyright 2024 Example News, all rights reserved, reproduction forbidden.</p></footer>"
        "</body></html>"
    )


def texts(result) -> list[str]:
    return [n.text for n in result.nodes if isinstance(n, TextNode)]


def images(result) -> list[str]:
    return [n.url for n in result.nodes if isinstance(n, ImageNode)]


def test_article_paragraphs_kept_in_order_and_boilerplate_dropped():
    related = "<div class='related-articles'><ul>" + "".join(
        f"<li><a href='/s{i}'>Another story number {i} you may like</a></li>" for i in range(6)
    ) + "</ul></div>"
    share = "<div class='share-bar'><p>Share this article with your friends on every network</p></div>"
    result = extract(page(paragraphs(4) + share, around=related), URL)
    assert result.drop_reason is None
    assert result.title == "Flood story"
    assert texts(result) == [f"{i} {PARA}" for i in range(4)]


def test_whitespace_collapsed_one_node_per_block_and_inline_tags_joined():
    html = page(f"<p>  Some   <b>bold</b>\n\t<i>words</i> here.  {PARA}</p><h2>A  heading</h2>" + paragraphs(2))
    got = texts(extract(html, URL))
    assert got[0] == f"Some bold words here. {PARA}"
    assert got[1] == "A heading"


def test_hidden_nodes_dropped():
    hidden = (
        "<p hidden>hidden attribute text that is long enough to count as a paragraph of prose</p>"
        "<p aria-hidden='true'>aria hidden text that is long enough to count as a paragraph here</p>"
        "<p style='color: red; display : none'>display none text that is long enough to count as prose</p>"
        "<div style='visibility:hidden'>visibility hidden text that is long enough to count as prose</div>"
    )
    got = " ".join(texts(extract(page(paragraphs(3) + hidden), URL)))
    assert "hidden" not in got and "display" not in got
    assert PARA in got


def test_scripts_styles_forms_dropped_but_tail_text_kept():
    article = (
        f"<p>Before <script>var x = 'script text';</script>the script. {PARA}</p>"
        "<style>.a{color:red}</style><form><input name=q><p>no</p></form>"
        "<form><label>Search</label><button>Go</button></form>" + paragraphs(2)
    )
    got = texts(extract(page(article), URL))
    assert got[0] == f"Before the script. {PARA}"
    assert not any("script text" in t or "color" in t or "Search" in t for t in got)


def test_lists_and_tables_kept_as_text():
    article = paragraphs(3) + (
        "<ul><li>first item of the list</li><li>second item of the list</li></ul>"
        "<table><tr><th>City</th><th>Rain</th></tr><tr><td>Lyon</td><td>12 mm</td></tr></table>"
    )
    got = texts(extract(page(article), URL))
    assert "first item of the list" in got and "second item of the list" in got
    assert "Lyon" in got and "12 mm" in got


def test_article_images_in_place_with_captions_and_alt():
    article = (
        paragraphs(1, "a")
        + "<figure><img src='img/one.jpg' alt='the  flooded square' width='800' height='600'>"
        "<figcaption>The square at dawn.</figcaption></figure>"
        + paragraphs(1, "b")
        + "<p><img src='/img/two.png'></p>"
        + paragraphs(1, "c")
    )
    result = extract(page(article), URL)
    kinds = [(type(n).__name__, getattr(n, "url", None) or n.text[:2]) for n in result.nodes]
    assert kinds == [
        ("TextNode", "a0"),
        ("ImageNode", "https://news.example.org/2024/05/img/one.jpg"),
        ("TextNode", "Th"),
        ("TextNode", "b0"),
        ("ImageNode", "https://news.example.org/img/two.png"),
        ("TextNode", "c0"),
    ]
    assert result.nodes[1].alt == "the flooded square"
    assert ("https://news.example.org/logo.png", "boilerplate") in result.dropped_images


def test_lead_image_beside_the_article_is_kept():
    html = (
        "<html><body><div class='story'><figure><img src='/lead.jpg'><figcaption>Lead</figcaption></figure>"
        f"<div class='body-text'>{paragraphs(4)}</div></div></body></html>"
    )
    result = extract(html, URL)
    assert images(result) == ["https://news.example.org/lead.jpg"]
    assert result.nodes[0].url == "https://news.example.org/lead.jpg"


def test_lazy_loaded_srcset_and_picture_images_resolved():
    article = (
        "<p><img src='data:image/gif;base64,R0lGOD' data-src='/lazy/a.jpg'></p>"
        + paragraphs(1, "a")
        + "<p><img class='lazy' data-lazy-src='/lazy/b.jpg'></p><p><img data-original='/lazy/c.jpg'></p>"
        + "<p><img src='/small.jpg' srcset='/w400.jpg 400w, /w1600.jpg 1600w, /w800.jpg 800w'></p>"
        + "<p><img data-srcset='/x1.jpg 1x, /x2.jpg 2x'></p>"
        + "<picture><source type='image/webp' srcset='/pic-640.webp 640w, /pic-1280.webp 1280w'>"
        "<img src='/pic-320.jpg'></picture>"
        + paragraphs(2, "b")
    )
    got = images(extract(page(article), URL))
    base = "https://news.example.org"
    assert got == [
        f"{base}/lazy/a.jpg", f"{base}/lazy/b.jpg", f"{base}/lazy/c.jpg",
        f"{base}/w1600.jpg", f"{base}/x2.jpg", f"{base}/pic-1280.webp",
    ]  # fmt: skip


def test_srcset_parser_keeps_commas_inside_urls():
    assert parse_srcset("https://cdn.x/w_300,h_200/a.jpg 300w, https://cdn.x/w_600,h_400/a.jpg 600w") == [
        ("https://cdn.x/w_300,h_200/a.jpg", 300.0),
        ("https://cdn.x/w_600,h_400/a.jpg", 600.0),
    ]
    assert parse_srcset("a.jpg 1x,b.jpg 2x") == [("a.jpg", 1.0), ("b.jpg", 2.0)]


def test_base_href_resolves_relative_urls():
    html = page(paragraphs(3) + "<p><img src='pics/a.jpg'></p>", head="<base href='https://cdn.example.net/assets/'>")
    assert images(extract(html, URL)) == ["https://cdn.example.net/assets/pics/a.jpg"]


def test_tracking_pixels_ads_and_decorative_images_rejected():
    article = paragraphs(2) + (
        "<p><img src='/t.jpg' width='1' height='1'></p>"
        "<p><img src='https://www.facebook.com/tr?id=1&ev=PageView'></p>"
        "<p><img src='https://ad.doubleclick.net/ddm/ad/x.jpg'></p>"
        "<p><img src='/author-avatar.jpg'></p><p><img src='/i/x.jpg' class='icon'></p>"
        "<p><img src='/people/jane-doe.jpg' class='byline__author-image'></p>"
        "<p><img src='data:image/png;base64,iVBOR'></p><p><img src='/thumb.jpg' width='20' height='20'></p>"
        "<p><img src='/real.jpg'></p><p><img src='/real.jpg'></p>"
    ) + paragraphs(1, "z")
    result = extract(page(article), URL)
    assert images(result) == ["https://news.example.org/real.jpg"]
    reasons = [reason for _, reason in result.dropped_images]
    for reason in ("tracking_pixel", "ad", "decorative", "data_uri", "too_small", "duplicate"):
        assert reason in reasons, reason
    assert reasons.count("tracking_pixel") == 2 and reasons.count("decorative") == 3


def test_related_story_thumbnails_dropped_with_their_links():
    cards = "".join(
        f"<div><a href='/s{i}'><img src='/thumb{i}.jpg'> A related story headline {i}</a></div>" for i in range(3)
    )
    result = extract(page(paragraphs(3) + cards), URL)
    assert images(result) == []
    assert ("https://news.example.org/thumb0.jpg", "boilerplate") in result.dropped_images


def test_noai_opts_out_and_noimageai_flags_images():
    noai = extract(page(paragraphs(3), head="<meta name='robots' content='index, NoAI'>"), URL)
    assert (noai.drop_reason, noai.nodes) == ("opted_out", [])
    with_image = page(paragraphs(3) + "<p><img src='/a.jpg'></p>", head="<meta name=robots content=noimageai>")
    noimage = extract(with_image, URL)
    assert noimage.drop_reason is None and noimage.image_opt_out
    assert not extract(page(paragraphs(3)), URL).image_opt_out


def test_too_large_page_dropped_before_parsing():
    config = ExtractConfig(max_html_bytes=2_000)
    result = extract(page(paragraphs(30)), URL, config)
    assert result.drop_reason == "too_large"
    # Counted in UTF-8 bytes, not characters: 800 four-byte characters are 3,200 bytes.
    assert extract("<p>" + "😀" * 800 + "</p>", URL, config).drop_reason == "too_large"
    assert extract(page(paragraphs(3)), URL, ExtractConfig(max_html_bytes=100_000)).drop_reason is None


def test_empty_and_contentless_pages_dropped_with_reasons():
    assert extract("", URL).drop_reason == "parse_error"
    nav_only = "<html><body><nav><a href='/'>Home</a></nav><div><a href='/x'>Link</a></div></body></html>"
    assert extract(nav_only, URL).drop_reason == "no_content"


def test_fallback_keeps_link_poor_paragraphs_when_no_article_stands_out():
    tiles = "".join(
        f"<div class='tile'><img src='/g{i}.jpg'><p>Photo {i}: boats moored in the harbour at sunset "
        f"while fishermen unload.</p><a href='/p{i}'>More</a></div>"
        for i in range(2)
    )
    result = extract(f"<html><body><div class='gallery'>{tiles}</div></body></html>", URL)
    assert result.drop_reason is None
    assert [t[:7] for t in texts(result)] == ["Photo 0", "Photo 1"]
    assert images(result) == ["https://news.example.org/g0.jpg", "https://news.example.org/g1.jpg"]


def test_comment_section_does_not_win_over_a_shorter_article():
    comments = "<div id='comments'>" + "".join(
        f"<div class='comment'><div class='content'>{paragraphs(3, 'c')}</div></div>" for _ in range(2)
    ) + "</div>"
    result = extract(page(paragraphs(2, "a"), around=comments), URL)
    assert [t[:2] for t in texts(result)] == ["a0", "a1"]


def test_deep_nesting_is_walked_without_recursion():
    # A tree 12,000 levels deep built directly: lxml's parser itself stops at its depth limit.
    root = etree.Element("html")
    el = etree.SubElement(root, "body")
    for _ in range(12_000):
        el = etree.SubElement(el, "div")
    el.text = PARA
    for i in range(3):
        etree.SubElement(el, "p").text = f"{i} {PARA}"
    result = extract_tree(root, URL)
    assert result.drop_reason is None
    assert texts(result) == [PARA] + [f"{i} {PARA}" for i in range(3)]


def test_page_deeper_than_the_parser_limit_is_dropped_not_truncated():
    html = "<html><body>" + "<div>" * 10_000 + paragraphs(3) + "</div>" * 10_000 + "</body></html>"
    assert extract(html, URL).drop_reason == "too_deep"


def test_xml_declaration_and_non_ascii_text():
    article = paragraphs(2) + f"<p>Ça déborde à Genève, « vraiment » ! {PARA}</p>"
    html = '<?xml version="1.0" encoding="iso-8859-1"?>' + page(article)
    got = texts(extract(html, URL))
    assert got[-1].startswith("Ça déborde à Genève, « vraiment » !")


def test_teaser_card_lists_dropped_whatever_their_class():
    cards = "".join(
        f"<article class='card'><a href='/story{i}'><img src='/t{i}.jpg'></a>"
        f"<div class='blurb'>Teaser {i}: a council vote on the new bridge drew a large crowd.</div></article>"
        for i in range(4)
    )
    result = extract(page(paragraphs(3), around=f"<section class='more'>{cards}</section>"), URL)
    assert texts(result) == [f"{i} {PARA}" for i in range(3)]
    assert images(result) == []


def test_gallery_of_linked_full_size_images_is_not_a_teaser_list():
    gallery = "<div class='gallery'>" + "".join(
        f"<figure><a href='/full/{i}.jpg'><img src='/img/{i}.jpg'></a><figcaption>Shot {i}</figcaption></figure>"
        for i in range(3)
    ) + "</div>"
    result = extract(page(paragraphs(2, "a") + gallery + paragraphs(2, "b")), URL)
    assert images(result) == [f"https://news.example.org/img/{i}.jpg" for i in range(3)]
    assert "Shot 1" in texts(result)


def test_captions_can_be_left_out_and_bare_urls_are_not_text():
    article = (
        "<p>https://news.example.org/2024/05/story.html</p>"
        + paragraphs(2)
        + "<figure><img src='/a.jpg'><figcaption>The caption</figcaption></figure>"
    )
    kept = extract(page(article), URL)
    assert "The caption" in texts(kept) and not any(t.startswith("https://") for t in texts(kept))
    without = extract(page(article), URL, ExtractConfig(keep_captions=False))
    assert "The caption" not in texts(without)
    assert images(without) == ["https://news.example.org/a.jpg"]


def test_lead_image_in_the_articles_own_header_is_kept_but_not_the_page_header():
    html = page(
        "<header><h1>Flood story</h1><figure><img src='/lead.jpg' alt='lead'></figure></header>"
        f"<div class='story-body'>{paragraphs(4)}</div>"
    )
    result = extract(html, URL)
    assert images(result) == ["https://news.example.org/lead.jpg"]
    assert isinstance(result.nodes[0], ImageNode)
    assert texts(result) == [f"{i} {PARA}" for i in range(4)]
    assert ("https://news.example.org/logo.png", "boilerplate") in result.dropped_images
