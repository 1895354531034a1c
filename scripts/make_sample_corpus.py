"""Make the bundled sample corpus: a WARC of article pages and their images.

Everything is generated here, deterministically from a seed: English prose from sentence
templates, pictures drawn with Pillow, and page templates with the boilerplate real sites carry
(header, nav, cookie banner, share buttons, related links, footer, tracking pixel). Deliberate
bad cases sit among the good pages so every drop reason of the first stages shows up:
broken HTML, non-UTF-8 pages, a page with no text, a non-English page, a noai page, a 404, a
stylesheet response, a truncated image, an oversized image, a tracking pixel, an image that
is not in the WARC, duplicate images under different URLs, the same page crawled twice.

    python scripts/make_sample_corpus.py -o data/sample/sample.warc.gz
"""

from __future__ import annotations

import argparse
import io
import random
import uuid
from datetime import datetime, timedelta, timezone
from html import escape

from PIL import Image, ImageDraw, ImageFilter
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SITE = "https://news.example.org"
CDN = "https://cdn.example.org"
N_ARTICLES = 30

SUBJECTS = [
    "the flamingo colony", "a team of marine biologists", "the city council", "our local bakery",
    "the mountain rescue service", "a group of volunteers", "the museum's new director",
    "the river ferry", "a small vineyard", "the national weather office", "the village school",
    "a family of otters", "the regional orchestra", "the old lighthouse keeper", "a young architect",
    "the harbour master", "the football club", "a retired train driver", "the botanical garden",
    "the night market traders",
]
VERBS = [
    "has spent the winter", "was seen", "has started working", "opened its doors", "gathered",
    "has been preparing", "returned", "spent three weeks", "is planning a festival",
    "reported unusual activity", "decided to rebuild", "celebrated an anniversary",
]
PLACES = [
    "near the salt lakes", "along the northern coast", "in the old town square",
    "beside the railway bridge", "on the edge of the forest", "at the top of the valley",
    "in a converted warehouse", "around the harbour", "behind the cathedral",
    "in the shallow lagoon", "on the island", "under the new footbridge",
]
TIMES = [
    "for the first time in a decade", "after a long and difficult year", "during the spring rains",
    "before the summer season begins", "at the end of last month", "despite the cold weather",
    "while the roads were closed", "on a quiet Sunday morning",
]
DETAILS = [
    "Residents said they had never seen anything like it, and many came back the next day with their children.",
    "It took almost two years of planning, and most of the money came from small donations.",
    "Visitors are asked to keep their distance and to stay on the marked paths.",
    "The results will be published in the autumn, together with a short film about the project.",
    "Several people described the atmosphere as calm, friendly and surprisingly quiet.",
    "Local shops have reported more customers than usual, especially in the afternoons.",
    "Experts believe that the change in water levels explains most of what happened.",
    "A second phase is expected to begin next year if the funding is confirmed.",
    "The old photographs on display show how much the area has changed since the 1950s.",
    "Organisers thanked everyone who helped, from the drivers to the cooks in the kitchen.",
    "Some of the older members still remember when the building was used as a school.",
    "There are plans to open a small exhibition about the history of the place.",
    "Nobody expected the response to be so large, and the first tickets sold out within hours.",
    "The weather was mild, with a light wind from the west and only a few clouds.",
    "Children from the nearby school painted the signs that now stand at the entrance.",
    "Everyone agreed that the new arrangement works better than the old one.",
]
QUOTES = [
    "\u201cWe simply wanted to do something useful for the town,\u201d one of the organisers said.",
    "\u201cIt is the kind of work that you can only do with patience,\u201d she explained.",
    "\u201cI have been coming here since I was a boy, and it still surprises me,\u201d he told us.",
    "\u201cThe birds seem to know exactly when to arrive,\u201d a guide said with a smile.",
    "\u201cWe learned a lot, and we made a few mistakes too,\u201d the director admitted.",
]
CAPTIONS = [
    "The view from the eastern path early in the morning.", "Volunteers at work on the first day.",
    "A detail of the restored facade.", "Visitors gather near the entrance.",
    "The colony feeding in shallow water.", "The new footbridge seen from the river bank.",
    "One of the exhibits in the main hall.", "Preparations in the kitchen before the opening.",
]
GERMAN = (
    "Die Stadtverwaltung hat am Montag einen neuen Plan für den Ausbau des Hafens vorgestellt. "
    "Nach Angaben der Behörden sollen die Arbeiten im Frühjahr beginnen und etwa zwei Jahre dauern. "
    "Viele Anwohner begrüßen das Vorhaben, andere befürchten mehr Verkehr und Lärm in der Altstadt. "
    "Die Kosten werden auf rund zwölf Millionen Euro geschätzt, ein Teil davon kommt vom Land."
)
JAPANESE = (
    "市の図書館は来月から開館時間を延長すると発表しました。平日は午後九時まで利用できるようになります。"
    "担当者によると、学生や仕事帰りの利用者からの要望が多かったということです。"
)


def sentence(rng: random.Random) -> str:
    s = f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(PLACES)} {rng.choice(TIMES)}."
    return s


def paragraph(rng: random.Random, details: list[str]) -> str:
    parts = [sentence(rng)]
    for _ in range(rng.randint(1, 2)):
        if details:
            parts.append(details.pop())
    if rng.random() < 0.4:
        parts.append(rng.choice(QUOTES))
    parts.append(sentence(rng))
    return " ".join(parts)


def article_text(rng: random.Random, n_paragraphs: int) -> list[str]:
    details = DETAILS[:]
    rng.shuffle(details)
    return [paragraph(rng, details) for _ in range(n_paragraphs)]


def picture(rng: random.Random, width: int, height: int) -> Image.Image:
    """A photo-like drawing: a two-colour gradient, shapes, some blur and noise."""
    c1 = tuple(rng.randint(0, 255) for _ in range(3))
    c2 = tuple(rng.randint(0, 255) for _ in range(3))
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(c1, c2)))
    for _ in range(rng.randint(4, 9)):
        x0, y0 = rng.randint(0, width - 20), rng.randint(0, height - 20)
        x1, y1 = x0 + rng.randint(20, width // 2), y0 + rng.randint(20, height // 2)
        color = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "ellipse":
            draw.ellipse([x0, y0, x1, y1], fill=color)
        elif shape == "rectangle":
            draw.rectangle([x0, y0, x1, y1], fill=color)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=color)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    noise = Image.effect_noise((width, height), 18).convert("RGB")
    return Image.blend(img, noise, 0.08)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


LOGO_URL = f"{SITE}/static/logo.png"
PIXEL_URL = "https://tracker.example.net/pixel.gif?id=42"

PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>{title} | Example News</title>
<meta name="viewport" content="width=device-width">{robots}
<link rel="stylesheet" href="/static/site.css"><script>window.dataLayer = [];</script>
<style>.hidden {{ display: none }}</style></head>
<body>
<header class="site-header"><a href="/"><img src="/static/logo.png" alt="Example News" class="logo" width="160" height="48"></a>
<nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/nature">Nature</a></li><li><a href="/culture">Culture</a></li><li><a href="/about">About us</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. By clicking accept you agree to our cookie policy. <button>Accept all cookies</button></div>
<main><article class="post">
<h1>{title}</h1>
<p class="byline">By {author} &middot; {date}</p>
{body}
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a></div>
</article>
<aside class="related"><h3>Related articles</h3><ul>{related}</ul></aside></main>
<div class="newsletter hidden">Subscribe to our newsletter</div>
<footer class="site-footer"><p>&copy; 2024 Example News. All rights reserved. <a href="/privacy">Privacy</a> &middot; <a href="/terms">Terms</a></p>
<img src="{pixel}" width="1" height="1" alt=""></footer>
</body></html>
"""


class Corpus:
    def __init__(self, out_path: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.stream = open(out_path, "wb")
        self.writer = WARCWriter(self.stream, gzip=True)
        self.clock = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
        self.n_pages = 0
        self.n_images = 0

    def _record(self, url: str, status: str, content_type: str, body: bytes, when: datetime | None = None) -> None:
        self.clock += timedelta(seconds=7)
        when = when or self.clock
        headers = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                                   protocol="HTTP/1.1")
        warc_headers = {
            "WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            # Deterministic record ids keep the sample byte-identical across regenerations.
            "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url + when.isoformat())}>",
        }
        record = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=headers, warc_headers_dict=warc_headers
        )
        self.writer.write_record(record)

    def page(self, url: str, html: str | bytes, content_type: str = "text/html; charset=utf-8",
             status: str = "200 OK", when: datetime | None = None) -> None:
        body = html.encode("utf-8") if isinstance(html, str) else html
        self._record(url, status, content_type, body, when)
        self.n_pages += 1

    def image(self, url: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self._record(url, "200 OK", content_type, data)
        self.n_images += 1

    def close(self) -> None:
        self.stream.close()


def figure_html(src: str, alt: str, caption: str, style: str, width: int, height: int) -> str:
    if style == "lazy":
        img = (f'<img class="lazyload" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="{src}" '
               f'alt="{escape(alt)}" width="{width}" height="{height}">')
    elif style == "srcset":
        small = src.replace(".jpg", "-small.jpg")
        img = (f'<img src="{small}" srcset="{small} 480w, {src} {width}w" sizes="100vw" '
               f'alt="{escape(alt)}">')
    elif style == "picture":
        # As sites do: a modern-format source, and the JPEG <img> every browser (and Pillow) can use.
        img = (f'<picture><source type="image/avif" srcset="{src.replace(".jpg", ".avif")}"><img src="{src}" '
               f'alt="{escape(alt)}"></picture>')
    else:
        img = f'<img src="{src}" alt="{escape(alt)}" width="{width}" height="{height}">'
    return f"<figure>{img}<figcaption>{escape(caption)}</figcaption></figure>"


def article(corpus: Corpus, i: int, images: list[tuple[str, bytes]], extra_body: str = "",
            robots: str = "", charset: str = "utf-8") -> tuple[str, str]:
    rng = corpus.rng
    title = f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(PLACES)}"
    paragraphs = article_text(rng, rng.randint(4, 7))
    body = []
    styles = ("plain", "lazy", "srcset", "picture")
    for j, para in enumerate(paragraphs):
        body.append(f"<p>{escape(para)}</p>")
        if j < len(images):
            src, _ = images[j]
            body.append(figure_html(src, rng.choice(CAPTIONS).rstrip("."), rng.choice(CAPTIONS),
                                    styles[(i + j) % len(styles)], 640, 480))
        if j == 1:
            body.append(f"<h2>{escape(sentence(rng).rstrip('.'))}</h2>")
    related = "".join(f'<li><a href="/article-{(i + k) % N_ARTICLES}.html">{escape(sentence(rng))}</a></li>'
                      for k in range(1, 5))
    html = PAGE.format(lang="en", charset=charset, title=escape(title), author=rng.choice(["Ana Ruiz", "Tom Becker", "Priya Nair", "Jon Olsen"]),
                       date=f"{rng.randint(1, 28)} May 2024", body="\n".join(body) + extra_body, related=related,
                       pixel=escape(PIXEL_URL), robots=robots)
    return title, html


def build(out_path: str, seed: int = 7) -> Corpus:
    corpus = Corpus(out_path, seed)
    rng = corpus.rng
    corpus._record(f"{SITE}/static/site.css", "200 OK", "text/css", b"body { font-family: serif }")
    corpus.image(LOGO_URL, encode(picture(rng, 320, 96), "PNG"), "image/png")  # on every page: a repeat
    corpus.image(PIXEL_URL, encode(Image.new("RGB", (1, 1), (255, 255, 255)), "GIF"), "image/gif")
    shared_photo = encode(picture(rng, 640, 480), "JPEG", quality=85)  # same bytes under two URLs

    for i in range(N_ARTICLES):
        images = []
        for j in range(rng.choice((2, 2, 3))):
            size = rng.choice(((640, 480), (800, 600), (720, 540), (600, 600)))
            data = encode(picture(rng, *size), "JPEG", quality=85)
            images.append((f"{CDN}/img/{i:02d}-{j}.jpg", data))
        if i in (3, 17):
            images[0] = (f"{CDN}/img/shared-{i:02d}.jpg", shared_photo)
        extra = ""
        if i == 5:  # a truncated download
            images[1] = (images[1][0], images[1][1][: len(images[1][1]) // 3])
        if i == 9:  # an oversized image: more pixels than the decompression-bomb limit
            big = Image.new("RGB", (12000, 12000), (90, 120, 160))
            ImageDraw.Draw(big).ellipse([2000, 2000, 9000, 9000], fill=(200, 60, 40))
            images.append((f"{CDN}/img/huge-{i:02d}.png", encode(big, "PNG")))
        if i == 12:  # an image the crawl did not store
            extra = figure_html(f"{CDN}/img/not-crawled.jpg", "A missing picture", "Not stored in the WARC.",
                                "plain", 640, 480)
        if i == 20:  # a banner with an extreme aspect ratio
            images.append((f"{CDN}/img/banner-{i:02d}.jpg", encode(picture(rng, 1200, 200), "JPEG", quality=85)))
        _, html = article(corpus, i, images, extra_body=extra)
        url = f"{SITE}/article-{i}.html"
        if i == 14:  # crawled twice; the later fetch wins URL dedupe
            corpus.page(url + "?utm_source=newsletter", html, when=datetime(2024, 4, 1, tzinfo=timezone.utc))
        corpus.page(url, html)
        for src, data in images:
            # The srcset style also names a -small variant; the crawl stored the full-size one.
            fmt = "image/png" if src.endswith(".png") else "image/jpeg"
            corpus.image(src if src.startswith("http") else SITE + src, data, fmt)

    # --- bad cases ---
    _, html = article(corpus, 100, [])
    broken = html.replace("</p>", "", 5).replace("</article>", "").replace("<main>", "<main><div><span><table>")
    corpus.page(f"{SITE}/broken.html", broken[: len(broken) - 200])  # unclosed tags, cut mid-document

    _, html = article(corpus, 101, [])
    # windows-1252 bytes (curly quotes, an accented name), declared only in the HTTP header.
    html = html.replace("Example News.", "Example News \u2014 caf\u00e9 edition.").replace('<meta charset="utf-8">', "")
    corpus.page(f"{SITE}/latin.html", html.encode("cp1252", errors="replace"), "text/html; charset=windows-1252")

    ja = (f'<html lang="ja"><head><meta charset="shift_jis"><title>図書館のお知らせ</title></head>'
          f"<body><article><h1>図書館のお知らせ</h1><p>{JAPANESE}</p><p>{JAPANESE}</p></article></body></html>")
    corpus.page(f"{SITE}/ja/library.html", ja.encode("shift_jis"), "text/html")  # charset only in <meta>

    de = (f'<html lang="de"><head><title>Hafenausbau</title></head><body><article><h1>Neuer Plan für den Hafen</h1>'
          f"<p>{GERMAN}</p><p>{GERMAN}</p></article></body></html>")
    corpus.page(f"{SITE}/de/hafen.html", de)

    gallery = "".join(f'<img src="/static/logo.png" alt="">' for _ in range(3))
    corpus.page(f"{SITE}/empty.html", f"<html><head><title></title></head><body>{gallery}</body></html>")

    _, html = article(corpus, 102, [], robots='\n<meta name="robots" content="noai, noimageai">')
    corpus.page(f"{SITE}/no-ai.html", html)

    corpus.page(f"{SITE}/gone.html", "<html><body>Not found</body></html>", status="404 Not Found")
    corpus.close()
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default="data/sample/sample.warc.gz")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    corpus = build(args.output, args.seed)
    print(f"wrote {args.output}: {corpus.n_pages} pages, {corpus.n_images} images")


if __name__ == "__main__":
    main()
