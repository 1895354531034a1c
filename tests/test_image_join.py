from interleaf.pipeline import image_join
from interleaf.pipeline.image_join import ImageOutcome, attach_images, normalize_outcome
from interleaf.pipeline.images import ImageConfig, NormalizedImage
from interleaf.schemas import Document, ImageNode, Source, TextNode


def test_unexpected_decoder_failure_is_a_reasoned_outcome(monkeypatch):
    def explode(data, config):
        raise MemoryError("decoder ran out of memory")

    monkeypatch.setattr(image_join, "normalize_image", explode)
    outcome = normalize_outcome(b"\xff\xd8", ImageConfig())
    assert outcome.image is None and outcome.reason == "error" and "MemoryError" in outcome.detail


def test_attach_names_members_in_order_and_drops_failures():
    doc = Document("d1", "https://a.org/", Source("warc"), [
        TextNode("first"), ImageNode("https://a.org/1.jpg", alt="one"), TextNode("second"),
        ImageNode("https://a.org/2.jpg"), ImageNode("https://a.org/3.jpg"),
    ])
    ok = NormalizedImage(b"jpg", "jpg", 200, 150, "sha", "ph", "hp", 400, 300, "JPEG")
    result = attach_images(doc, {1: ImageOutcome(ok), 3: ImageOutcome(None, "too_small", "10x10"), 4: ImageOutcome(ok)})
    images = result.doc.images
    assert [(n.url, n.member, n.alt) for n in images] == [
        ("https://a.org/1.jpg", "000.jpg", "one"), ("https://a.org/3.jpg", "001.jpg", "")]
    assert images[0].data == b"jpg" and images[0].width == 200 and images[0].phash_mirror == "hp"
    assert [(d.level, d.reason, d.url) for d in result.drops] == [("image", "too_small", "https://a.org/2.jpg")]
    assert [type(n).__name__ for n in result.doc.nodes] == ["TextNode", "ImageNode", "TextNode", "ImageNode"]
