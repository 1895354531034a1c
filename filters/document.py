"""The filter stage: paragraph filters, then language id, then document filters.

``filter_document(doc, config) -> StageResult`` is the plain function the pipeline wraps in its
Beam ``Stage``. Reason codes (``Dropped.reason``), the same at paragraph ("text") and document level:

    too_few_words, too_many_words, low_punctuation, special_chars, low_stopwords, flagged_words,
    word_repetition, char_repetition
    spam                       paragraph only: share/cookie/click... words
    empty                      document only: no text and no image left
    lang_not_allowed, low_lang_score
    too_few_images, too_many_images
    mean_word_length, symbol_ratio, bullet_lines, ellipsis_lines, alphabetic_words   (MassiveText)
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable, NamedTuple

from interleaf.schemas import Document, Dropped, StageResult, TextNode

from . import lexicons
from . import text_quality as tq
from .config import DocumentFilters, FilterConfig, ParagraphFilters
from .image_checks import Rejection
from .language import LanguageGuess, identify

STAGE = "filter"
SAMPLE_CHARS = 500
REGUESS_SHARE = 0.1  # identify the language again when paragraphs removed more than this share of the text
log = logging.getLogger(__name__)
_noted_languages: set[str] = set()


@dataclass(frozen=True)
class Lexicon:
    lang: str | None
    stop_words: frozenset[str]
    flagged: tq.PhraseList

    @classmethod
    def of(cls, lang: str | None) -> "Lexicon":
        if lang in lexicons.supported_languages():
            return cls(lang, lexicons.stop_words(lang), lexicons.flagged_words(lang))
        if lang is not None and lang not in _noted_languages:
            # Only reachable with languages ["*"]. Thresholds are calibrated per language: a
            # stop-word list alone misleads (Korean particles fuse with their words).
            _noted_languages.add(lang)
            log.info("language %r has no stop-word and flagged-word lists: those filters are skipped for it", lang)
        return cls(lang, frozenset(), tq.PhraseList.from_entries(()))


@dataclass(frozen=True)
class Measured:
    """What the checks read: a paragraph's or a document's text, its words and word lists."""

    text: str
    tokens: list[str]
    lex: Lexicon
    n_images: int = 0
    word_ngram: int = 5
    char_ngram: int = 10
    spam_words: frozenset[str] = frozenset()


class Check(NamedTuple):
    field: str  # the threshold's name in ParagraphFilters / DocumentFilters
    is_min: bool  # True: fails below the threshold; False: fails above it
    reason: str
    what: str  # how the detail names the measure
    measure: Callable[[Measured], float]
    needs_lists: bool = False  # only for languages with stop-word and flagged-word lists


# Cheapest first: the first failing check decides and the rest are never computed.
COMMON_CHECKS = (
    Check("min_words", True, "too_few_words", "words", lambda m: len(m.tokens)),
    Check("max_words", False, "too_many_words", "words", lambda m: len(m.tokens)),
    Check("min_punctuation_ratio", True, "low_punctuation", "sentence ends per word",
          lambda m: tq.punctuation_ratio(m.text, len(m.tokens))),
    Check("max_special_char_ratio", False, "special_chars", "special-character ratio",
          lambda m: tq.special_char_ratio(m.text)),
    Check("min_stopword_ratio", True, "low_stopwords", "stop-word ratio",
          lambda m: tq.word_list_ratio(m.tokens, m.lex.stop_words), needs_lists=True),
    Check("max_flagged_ratio", False, "flagged_words", "flagged-word ratio",
          lambda m: tq.flagged_ratio(m.tokens, m.lex.flagged), needs_lists=True),
    Check("max_word_repetition", False, "word_repetition", "word n-gram repetition",
          lambda m: tq.word_repetition_ratio(m.tokens, m.word_ngram)),
    Check("max_char_repetition", False, "char_repetition", "character n-gram repetition",
          lambda m: tq.char_repetition_ratio(m.text, m.char_ngram)),
)  # fmt: skip
PARAGRAPH_CHECKS = COMMON_CHECKS + (
    Check("max_spam_ratio", False, "spam", "spam-word ratio", lambda m: tq.word_list_ratio(m.tokens, m.spam_words)),
)
DOCUMENT_CHECKS = (
    (
        Check("min_images", True, "too_few_images", "images", lambda m: m.n_images),
        Check("max_images", False, "too_many_images", "images", lambda m: m.n_images),
    )
    + COMMON_CHECKS
    + (
        # Word length means nothing where words() counts characters (Chinese, Japanese).
        Check("min_mean_word_length", True, "mean_word_length", "mean word length",
              lambda m: tq.mean_word_length(m.tokens), needs_lists=True),
        Check("max_mean_word_length", False, "mean_word_length", "mean word length",
              lambda m: tq.mean_word_length(m.tokens), needs_lists=True),
        Check("max_symbol_word_ratio", False, "symbol_ratio", "symbols per word",
              lambda m: tq.symbol_word_ratio(m.text, len(m.tokens))),
        Check("max_bullet_line_ratio", False, "bullet_lines", "bulleted-line ratio",
              lambda m: tq.bullet_line_ratio(m.text)),
        Check("max_ellipsis_line_ratio", False, "ellipsis_lines", "ellipsis-line ratio",
              lambda m: tq.ellipsis_line_ratio(m.text)),
        Check("min_alphabetic_word_ratio", True, "alphabetic_words", "alphabetic-word ratio",
              lambda m: tq.alphabetic_word_ratio(m.text)),
    )
)  # fmt: skip


@functools.lru_cache(maxsize=8)
def _as_set(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(words)


def run_checks(checks: tuple[Check, ...], limits: ParagraphFilters | DocumentFilters, m: Measured) -> Rejection | None:
    for check in checks:
        limit = getattr(limits, check.field)
        if limit is None or (check.needs_lists and not m.lex.stop_words):
            continue
        value = check.measure(m)
        if value < limit if check.is_min else value > limit:
            return Rejection(check.reason, f"{check.what} {value:.3g} {'<' if check.is_min else '>'} {limit:g}")
    return None


def check_paragraph(text: str, tokens: list[str], config: FilterConfig, lex: Lexicon) -> Rejection | None:
    """Verdict on one text node (``tokens`` = ``words(text)``): None to keep it, else the reason it goes."""
    limits = config.paragraph
    m = Measured(text, tokens, lex, 0, config.word_ngram, config.char_ngram, _as_set(limits.spam_words))
    return run_checks(PARAGRAPH_CHECKS, limits, m)


def check_document(doc: Document, tokens: list[str], config: FilterConfig, lex: Lexicon) -> Rejection | None:
    """Verdict on a document's remaining text (``tokens`` = ``words(doc.text())``) and its images."""
    m = Measured(doc.text("\n"), tokens, lex, len(doc.images), config.word_ngram, config.char_ngram)
    return run_checks(DOCUMENT_CHECKS, config.document, m)


def check_language(guess: LanguageGuess | None, config: FilterConfig) -> Rejection | None:
    """The allow-list and the minimum score; nothing to check without text or allow-list."""
    allowed = config.allowed_languages
    if allowed is None or guess is None:
        return None
    if guess.lang not in allowed:
        return Rejection("lang_not_allowed", f"language {guess.lang} ({guess.score:.2f}) not in {sorted(allowed)}")
    if config.min_lang_score is not None and guess.score < config.min_lang_score:
        return Rejection("low_lang_score", f"{guess.lang} score {guess.score:.3g} < {config.min_lang_score:g}")
    return None


def filter_document(doc: Document, config: FilterConfig) -> StageResult:
    """Paragraph filters, then language id on what is left, then document filters.

    The input document is not modified (Beam forbids mutating inputs); a kept document is a copy
    with the failing text nodes removed and ``lang``/``lang_score`` set.
    """
    # Paragraphs are judged with the word lists of the page's language (a first guess on the whole
    # page), even when that language is not allowed: the document then leaves as lang_not_allowed,
    # not as paragraphs that failed another language's stop-word test.
    first = identify(doc.text(" "))
    lex = Lexicon.of(first.lang if first else None)
    nodes, drops, kept_tokens = [], [], []
    removed_chars = 0
    for node in doc.nodes:
        if not isinstance(node, TextNode):
            nodes.append(node)
            continue
        tokens = tq.words(node.text)
        rejection = check_paragraph(node.text, tokens, config, lex)
        if rejection is None:
            nodes.append(node)
            kept_tokens += tokens
        else:
            removed_chars += len(node.text)
            drops.append(Dropped(STAGE, rejection.reason, "text", doc.id, doc.url, rejection.detail, node.text[:SAMPLE_CHARS]))
    out = dataclasses.replace(doc, nodes=nodes, meta=dict(doc.meta))
    if not nodes:
        return StageResult.dropped(out, STAGE, "empty", "no text or image left" + _removed_summary(drops))

    # Language of what is left. When little was removed (headings, share bars) that is the first
    # guess: a second fastText call would cost a quarter of the stage for the same answer.
    if not out.texts:
        guess = None
    elif removed_chars > REGUESS_SHARE * sum(len(t.text) for t in doc.texts):
        guess = identify(out.text(" "))
    else:
        guess = first
    if guess is not None:
        out.lang, out.lang_score = guess.lang, round(guess.score, 4)
        if guess.lang != lex.lang:
            lex = Lexicon.of(guess.lang)
    rejection = check_language(guess, config) or check_document(out, kept_tokens, config, lex)
    if rejection is not None:
        return StageResult.dropped(out, STAGE, rejection.reason, rejection.detail + _removed_summary(drops))
    return StageResult.kept(out, drops)


def _removed_summary(drops: list[Dropped]) -> str:
    """Why paragraphs went before the document did: a document-level drop reports only itself."""
    removed = Counter(d.reason for d in drops)
    return f"; paragraphs removed before: {dict(sorted(removed.items()))}" if removed else ""
