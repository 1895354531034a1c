"""filter_document inside the Beam stage wrapper: every document accounted for, counters by reason."""

from __future__ import annotations

import functools

from interleaf.filters.config import FilterConfig
from interleaf.filters.document import STAGE, filter_document
from interleaf.schemas import Document, ImageNode, Source, TextNode

PROSE = (
    "The flamingo stood on one leg in the shallow water of the lake, looking for the small shrimp that "
    "give the bird its pink colour. When the wind rose, the whole flock took off at once."
)
GERMAN = "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen begabt."


def _doc(i: int, *texts: str, images: int = 1) -> Document:
    nodes = [TextNode(t) for t in texts] + [ImageNode(url=f"https://e.org/{i}/{k}.jpg") for k in range(images)]
    return Document(id=f"d{i}", url=f"https://e.org/{i}", source=Source("html"), nodes=nodes)


def test_filter_stage_on_the_direct_runner():
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline
    from interleaf.pipeline.run import LOCAL_RUNNER
    from apache_beam.testing.util import assert_that, equal_to

    from interleaf.pipeline.stage import Stage

    docs = [
        _doc(0, PROSE, "Share this"),  # kept, one paragraph removed
        _doc(1, PROSE),  # kept
        _doc(2, GERMAN),  # lang_not_allowed
        _doc(3, PROSE, images=0),  # too_few_images
        _doc(4, "Home", images=0),  # empty
    ]
    p = TestPipeline(runner=LOCAL_RUNNER)
    kept, dropped, errors = p | beam.Create(docs) | Stage(STAGE, functools.partial(filter_document, config=FilterConfig()))
    assert_that(kept | "Ids" >> beam.Map(lambda d: (d.id, d.lang, len(d.texts))), equal_to([("d0", "en", 1), ("d1", "en", 1)]), label="kept")
    assert_that(
        dropped | "Reasons" >> beam.Map(lambda d: (d.doc_id, d.level, d.reason)),
        equal_to([("d0", "text", "too_few_words"), ("d2", "document", "lang_not_allowed"),
                  ("d3", "document", "too_few_images"), ("d4", "document", "empty")]),
        label="dropped",
    )  # fmt: skip
    assert_that(errors, equal_to([]), label="errors")
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(MetricsFilter())["counters"]}
    assert counters["in"] == 5 and counters["kept"] == 2
    assert counters["dropped.lang_not_allowed"] == counters["dropped.too_few_images"] == counters["dropped.empty"] == 1
    assert counters["nodes_dropped.text.too_few_words"] == 1
