"""filter_document: paragraph filters, language id and document filters; FilterConfig; languages."""

from __future__ import annotations

import copy

import pytest

from interleaf.filters import language, lexicons
from interleaf.filters.config import FilterConfig, FilterConfigError
from interleaf.filters.document import STAGE, filter_document
from interleaf.schemas import Document, ImageNode, Source, TextNode

# Article 1 of the Universal Declaration of Human Rights (public domain; OHCHR translations),
# one text for every language the allow-list accepts.
UDHR = {
    "da": "Alle mennesker er født frie og lige i værdighed og rettigheder. De er udstyret med fornuft og samvittighed, og de bør handle mod hverandre i en broderskabets ånd.",
    "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen.",
    "en": "All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience and should act towards one another in a spirit of brotherhood.",
    "es": "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como están de razón y conciencia, deben comportarse fraternalmente los unos con los otros.",
    "fr": "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité.",
    "it": "Tutti gli esseri umani nascono liberi ed eguali in dignità e diritti. Essi sono dotati di ragione e di coscienza e devono agire gli uni verso gli altri in spirito di fratellanza.",
    "nl": "Alle mensen worden vrij en gelijk in waardigheid en rechten geboren. Zij zijn begiftigd met verstand en geweten, en behoren zich jegens elkander in een geest van broederschap te gedragen.",
    "pl": "Wszyscy ludzie rodzą się wolni i równi pod względem swej godności i swych praw. Są oni obdarzeni rozumem i sumieniem i powinni postępować wobec innych w duchu braterstwa.",
    "pt": "Todos os seres humanos nascem livres e iguais em dignidade e em direitos. Dotados de razão e de consciência, devem agir uns para com os outros em espírito de fraternidade.",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью и должны поступать в отношении друг друга в духе братства.",
    "sv": "Alla människor är födda fria och lika i värde och rättigheter. De har utrustats med förnuft och samvete och bör handla gentemot varandra i en anda av gemenskap.",
}
PROSE = [
    "The flamingo stood on one leg in the shallow water of the lake, looking for the small shrimp that give the bird its pink colour.",
    "When the wind rose in the afternoon, the whole flock took off at once and flew low over the water towards the far shore.",
    "Nobody knows for sure why they stand on one leg, but it may help them to keep warm while they rest in the cold water.",
]


def image(i: int = 0) -> ImageNode:
    return ImageNode(url=f"https://example.org/{i}.jpg", width=640, height=480, member=f"{i:03d}.jpg")


def make_doc(*nodes) -> Document:
    nodes = [TextNode(n) if isinstance(n, str) else n for n in nodes]
    return Document(id="d1", url="https://example.org/post", source=Source("html"), nodes=list(nodes))


def test_supported_languages_have_both_lists_and_a_fasttext_label():
    assert lexicons.supported_languages() == set(UDHR)
    for lang in UDHR:
        assert len(lexicons.stop_words(lang)) >= 100, lang
        assert lexicons.flagged_words(lang), lang


@pytest.mark.parametrize("lang", sorted(UDHR))
def test_each_allowed_language_is_identified_and_kept(lang):
    doc = make_doc(image(), UDHR[lang])
    result = filter_document(doc, FilterConfig(languages=[lang]))
    assert result.doc is not None, result.drops
    assert result.drops == []
    assert result.doc.lang == lang and result.doc.lang_score >= 0.65
    other = "de" if lang == "en" else "en"
    dropped = filter_document(doc, FilterConfig(languages=[other]))
    assert dropped.doc is None and dropped.drops[0].reason == "lang_not_allowed"


def test_paragraph_filters_remove_nodes_and_report_them():
    doc = make_doc(image(), PROSE[0], "Share on Facebook", "Click here to subscribe to our newsletter", PROSE[1], image(1), PROSE[2])
    before = copy.deepcopy(doc)
    result = filter_document(doc, FilterConfig())
    assert doc == before, "the input document must not be modified"
    kept = result.doc
    assert [n.text for n in kept.texts] == PROSE
    assert len(kept.images) == 2 and kept.lang == "en"
    assert [(d.stage, d.level, d.reason) for d in result.drops] == [
        (STAGE, "text", "too_few_words"),
        (STAGE, "text", "spam"),
    ]
    assert result.drops[1].sample.startswith("Click here") and result.drops[1].doc_id == "d1"
    assert "spam-word ratio" in result.drops[1].detail


def test_empty_document():
    result = filter_document(make_doc("Share on Facebook", "Home"), FilterConfig())
    assert result.doc is None
    [drop] = result.drops
    assert (drop.level, drop.reason) == ("document", "empty")
    assert drop.detail == "no text or image left; paragraphs removed before: {'too_few_words': 2}"
    assert filter_document(make_doc(), FilterConfig()).drops[0].reason == "empty"


def test_images_per_document_bounds():
    config = FilterConfig()
    assert filter_document(make_doc(*PROSE), config).drops[0].reason == "too_few_images"
    only_images = filter_document(make_doc(image(), "Share this"), config).drops[0]
    assert (only_images.reason, only_images.detail) == ("too_few_words", "words 0 < 10; paragraphs removed before: {'too_few_words': 1}")
    assert filter_document(make_doc(*PROSE, *[image(i) for i in range(30)]), config).doc is not None
    assert filter_document(make_doc(*PROSE, *[image(i) for i in range(31)]), config).drops[0].reason == "too_many_images"
    config.document.min_images = None
    assert filter_document(make_doc(*PROSE), config).doc is not None


def test_wildcard_keeps_every_language_labelled():
    doc = make_doc(image(), "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。")
    assert filter_document(doc, FilterConfig()).drops[0].reason == "lang_not_allowed"
    for languages in (["*"], []):
        result = filter_document(doc, FilterConfig(languages=languages))
        assert result.doc is not None, result.drops
        assert result.doc.lang == "zh"


def test_low_language_score():
    doc = make_doc(image(), UDHR["en"])
    result = filter_document(doc, FilterConfig(min_lang_score=0.99999))
    assert result.drops[0].reason == "low_lang_score"


def test_document_filters_see_only_the_kept_paragraphs():
    # Price lines pass the paragraph filters only when those are off; the document filter then
    # judges the whole that is left, and the detail says by how much it failed.
    listing = ["Ford Mustang Mach E, $44,000, 2021 model year", "Tesla Model Y, $52,990, 2020 model year"] * 3
    config = FilterConfig()
    config.paragraph.min_stopword_ratio = config.paragraph.max_special_char_ratio = None
    result = filter_document(make_doc(image(), *listing, PROSE[0]), config)
    assert result.doc is None and result.drops[0].level == "document"
    assert result.drops[0].reason == "special_chars"
    assert result.drops[0].detail == "special-character ratio 0.386 > 0.3"
    assert result.drops[0].sample.startswith("Ford Mustang")


def test_fasttext_model_is_loaded_once():
    language.identify("warm up")
    first = language._model()
    assert language.identify("Ceci est une phrase en français.").lang == "fr"
    assert language._model() is first
    assert language.identify("  \n ") is None


def test_config_from_yaml(tmp_path):
    path = tmp_path / "filters.yaml"
    path.write_text(
        "filters:\n  languages: [en, de]\n  min_lang_score: 0.5\n"
        "  paragraph: {min_words: 2, max_flagged_ratio: null}\n  document: {min_images: 0, max_words: 500}\n"
    )
    config = FilterConfig.from_yaml(str(path))
    assert config.allowed_languages == {"en", "de"}
    assert config.paragraph.min_words == 2 and config.paragraph.max_flagged_ratio is None
    assert config.document.min_images == 0 and config.document.max_words == 500
    assert config.document.min_stopword_ratio == FilterConfig().document.min_stopword_ratio
    assert FilterConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "data,message",
    [
        ({"paragraph": {"min_wrods": 3}}, "unknown option(s) ['min_wrods']"),
        ({"langauges": ["en"]}, "unknown option(s) ['langauges']"),
        ({"languages": ["xx"]}, "not supported"),
        ({"languages": ["zh"]}, "not supported"),
        ({"languages": ["tr"]}, "not supported"),
        ({"languages": "en"}, "expected a list of strings"),
        ({"document": {"max_words": "many"}}, "filters.document.max_words: expected int"),
        ({"document": {"min_images": True}}, "expected int"),
        ({"char_ngram": None}, "may not be null"),
        ({"paragraph": 3}, "expected a mapping"),
    ],
)
def test_config_errors_name_the_key(data, message):
    with pytest.raises(FilterConfigError) as e:
        FilterConfig.from_dict(data)
    assert message in str(e.value)


def test_config_int_accepted_for_float():
    assert FilterConfig.from_dict({"min_lang_score": 1}).min_lang_score == 1.0
