import json

import pyarrow as pa
import pytest

from interleaf.schemas import SCHEMA_VERSION, Document, ImageNode, SchemaError, Source, TextNode, document_id
from interleaf.schemas.arrow import DOCUMENT_SCHEMA, documents_table, obelics_lists


def make_doc() -> Document:
    return Document(
        id=document_id("https://example.org/post"),
        url="https://example.org/post",
        source=Source("warc", "a.warc.gz", 1234, "2024-05-01T12:00:00Z"),
        nodes=[
            TextNode("A paragraph about flamingos."),
            ImageNode("https://example.org/a.jpg", alt="a flamingo", sha1="ab", phash="e1c3", phash_mirror="3c1e", width=640,
                      height=480, member="000.jpg", data=b"\xff\xd8bytes"),
            TextNode("Next paragraph."),
        ],
        lang="en",
        lang_score=0.97,
        meta={"title": "Flamingos", "n_words": 5},
    )


def test_json_round_trip_keeps_everything_but_bytes():
    doc = make_doc()
    back = Document.from_json(doc.to_json())
    assert back == doc  # data is excluded from comparison and from JSON
    assert back.images[0].data is None
    d = json.loads(doc.to_json())
    assert d["schema_version"] == SCHEMA_VERSION
    assert [n["type"] for n in d["nodes"]] == ["text", "image", "text"]
    assert "data" not in d["nodes"][1]


def test_json_is_byte_stable():
    assert make_doc().to_json() == make_doc().to_json()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("url"), "missing required field 'url'"),
        (lambda d: d["nodes"].append({"type": "video"}), "nodes[3]: type must be"),
        (lambda d: d["nodes"][1].update(width="640"), "nodes[1]: field 'width'"),
        (lambda d: d["nodes"][1].update(width=True), "nodes[1]: field 'width'"),
        (lambda d: d["nodes"][0].pop("text"), "nodes[0]: missing required field 'text'"),
        (lambda d: d.update(schema_version="2.0"), "not compatible"),
        (lambda d: d["source"].pop("kind"), "document.source: missing"),
    ],
)
def test_validation_names_the_field(mutate, message):
    d = make_doc().to_dict()
    mutate(d)
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Document.from_dict(d)


def test_not_json_is_a_schema_error():
    with pytest.raises(SchemaError, match="not valid JSON"):
        Document.from_json(b"{nope")


def test_arrow_table_and_obelics_view():
    doc = make_doc()
    texts, images = obelics_lists(doc)
    assert texts == ["A paragraph about flamingos.", None, "Next paragraph."]
    assert images[0] is None and images[2] is None and images[1]["url"] == "https://example.org/a.jpg"
    table = documents_table([(doc, "shard-00000.tar")])
    assert table.schema.equals(DOCUMENT_SCHEMA, check_metadata=True)
    row = table.to_pylist()[0]
    assert row["n_images"] == 1 and row["n_words"] == 6 and row["title"] == "Flamingos"
    assert table.schema.metadata[b"interleaf_schema_version"] == SCHEMA_VERSION.encode()
    assert isinstance(table.column("texts").type, pa.ListType)
