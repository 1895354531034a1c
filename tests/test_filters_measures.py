"""The text measures of interleaf.filters.text_quality, and every threshold's boundary."""

from __future__ import annotations

import dataclasses

import pytest

from interleaf.filters import text_quality as tq
from interleaf.filters.config import DocumentFilters, FilterConfig, ParagraphFilters
from interleaf.filters.document import DOCUMENT_CHECKS, PARAGRAPH_CHECKS, Lexicon, Measured, run_checks

PROSE = (
    "The flamingo stood on one leg in the shallow water of the lake. It was looking for small shrimp, "
    "which give the bird its pink colour. When the wind rose, the whole flock took off at once!"
)


def test_words_tokenisation():
    assert tq.words("Don’t re-use THE state-of-the-art  tools, 2!") == ["don't", "re-use", "the", "state-of-the-art", "tools", "2"]
    # Combining vowel signs stay inside their word (Python's \w alone would split at each).
    assert tq.words("किताब नमस्ते") == ["किताब", "नमस्ते"]
    # Han and kana count one word per character; hangul and Cyrillic words stay whole.
    assert tq.words("人人生而自由") == list("人人生而自由")
    assert tq.words("안녕하세요 세계, Привет мир") == ["안녕하세요", "세계", "привет", "мир"]
    assert tq.words("...  —  !!") == []


def test_char_repetition_ratio():
    assert tq.char_repetition_ratio("short", 10) == 0.0
    assert tq.char_repetition_ratio("a" * 20, 10) == 1.0
    # No 10-gram repeats in ordinary prose: short texts are not penalised for their length.
    assert tq.char_repetition_ratio("A flamingo stood on one leg in the lake.", 10) == 0.0
    # The same 41-character sentence twice: 73 10-grams, 41 distinct, 32 of them twice; the
    # isqrt(41) = 6 most frequent count 2 each.
    once = "A flamingo stood on one leg in the lake. "
    assert tq.char_repetition_ratio(once * 2, 10) == pytest.approx(12 / 73)


def test_word_repetition_ratio():
    assert tq.word_repetition_ratio("a b c d".split(), 5) == 0.0
    assert tq.word_repetition_ratio("a b c d e f g h".split(), 5) == 0.0
    # Six 5-grams, "a b c d e" twice.
    assert tq.word_repetition_ratio("a b c d e a b c d e".split(), 5) == pytest.approx(2 / 6)
    assert tq.word_repetition_ratio(["spam"] * 10, 5) == 1.0


def test_special_char_ratio():
    assert tq.special_char_ratio("") == 0.0
    assert tq.special_char_ratio("ab1 ") == 0.5
    assert tq.special_char_ratio("€€ab") == 0.5
    # Devanagari vowel signs are combining marks, part of the word, not special characters.
    assert tq.special_char_ratio("किताब") == 0.0
    assert tq.special_char_ratio("😀😀ab") == 0.5


def test_word_lists_and_flagged_phrases():
    assert tq.word_list_ratio([], {"a"}) == 0.0
    assert tq.word_list_ratio(["a", "b", "a", "c"], {"a"}) == 0.5
    flagged = tq.PhraseList.from_entries(["Bad", "two words", "", "three word phrase"])
    assert flagged.single == {"bad"} and flagged.sizes == (2, 3)
    tokens = tq.words("a bad two words and BAD three word phrase two")
    assert flagged.count(tokens) == 4
    assert tq.flagged_ratio(tokens, flagged) == pytest.approx(4 / len(tokens))
    assert not tq.PhraseList.from_entries([])


def test_punctuation_symbols_and_lines():
    assert tq.punctuation_ratio("One. Two! Three? Four…", 4) == 1.0
    assert tq.punctuation_ratio("人人生而自由。", 6) == pytest.approx(1 / 6)
    assert tq.punctuation_ratio("no end here", 0) == 0.0
    assert tq.symbol_word_ratio("#tag #tag words...", 3) == 1.0
    assert tq.mean_word_length(["ab", "abcd"]) == 3.0
    text = "- one\n- two\n\n3. three\nplain line…\nend..."
    assert tq.bullet_line_ratio(text) == 0.6
    assert tq.ellipsis_line_ratio(text) == 0.4
    assert tq.alphabetic_word_ratio("abc 123 - x1") == 0.5
    assert tq.bullet_line_ratio("") == tq.ellipsis_line_ratio("") == tq.alphabetic_word_ratio("") == 0.0


def _only(cls: type, field: str, value: float):
    """Thresholds with every filter off but one."""
    limits = cls(**{f.name: None for f in dataclasses.fields(cls) if f.name != "spam_words"})
    return dataclasses.replace(limits, **{field: value})


@pytest.mark.parametrize(
    "cls,check",
    [(ParagraphFilters, c) for c in PARAGRAPH_CHECKS] + [(DocumentFilters, c) for c in DOCUMENT_CHECKS],
    ids=lambda x: getattr(x, "field", getattr(x, "__name__", "")),
)
def test_every_threshold_keeps_its_boundary_value_and_rejects_past_it(cls, check):
    lex = Lexicon.of("en")
    text = PROSE + "\n- #1 item...\ndamn " + "again and again " * 3
    m = Measured(text, tq.words(text), lex, n_images=3, spam_words=frozenset({"bird"}))
    value = check.measure(m)
    # Exactly at the threshold: kept (OBELICS thresholds are inclusive).
    assert run_checks((check,), _only(cls, check.field, value), m) is None
    # A hair past it: rejected with the check's reason code.
    past = value + 1e-9 if check.is_min else value - 1e-9
    rejection = run_checks((check,), _only(cls, check.field, past), m)
    assert rejection is not None and rejection.reason == check.reason
    # Off (None): never rejects.
    assert run_checks((check,), _only(cls, check.field, None), m) is None


def test_obelics_word_count_and_flagged_boundaries_on_text():
    lex = Lexicon.of("en")
    config = FilterConfig()

    def verdict(text: str, limits: ParagraphFilters):
        return run_checks(PARAGRAPH_CHECKS, limits, Measured(text, tq.words(text), lex))

    words = _only(ParagraphFilters, "min_words", 4)
    assert verdict("The bird is pink.", words) is None
    assert verdict("The pink bird.", words).reason == "too_few_words"
    flagged = _only(ParagraphFilters, "max_flagged_ratio", config.document.max_flagged_ratio)
    hundred = ("the bird " * 50).split()
    assert verdict(" ".join(["porn"] + hundred[1:]), flagged) is None  # 1 in 100 = 0.01
    assert verdict(" ".join(["porn", "porn"] + hundred[2:]), flagged).reason == "flagged_words"


def test_word_list_checks_are_skipped_without_lists():
    check = next(c for c in PARAGRAPH_CHECKS if c.field == "min_stopword_ratio")
    text = "Ngā manu katoa e rere ana i te rangi"
    no_lists = Measured(text, tq.words(text), Lexicon.of("mi"))
    assert run_checks((check,), _only(ParagraphFilters, "min_stopword_ratio", 0.99), no_lists) is None
