"""Every threshold of the text and document filters, in one object a YAML file or the CLI can set.

The filters are OBELICS's (Laurençon et al., 2023), with the MassiveText (Rae et al., 2021)
document rules that OBELICS lacks. Defaults are OBELICS's published values except where noted
beside a field. A threshold set to ``None`` (``null`` in YAML) turns its filter off.

    languages: [en, de]        # allow-list; [] or ["*"] keeps every language, labelled
    min_lang_score: 0.65
    paragraph: {min_words: 4, max_spam_ratio: 0.3}
    document: {min_images: 0}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from interleaf.schemas.config import ConfigError, build_config

from .lexicons import supported_languages


class FilterConfigError(ConfigError):
    """A filter configuration that cannot be used; the message names the offending key."""


# Words of cookie banners, share bars and sign-up boxes (OBELICS's spam-paragraph rule).
SPAM_WORDS = (
    "share", "shares", "shared", "cookie", "cookies", "click", "clicking", "subscribe", "subscription",
    "newsletter", "login", "log", "sign", "signup", "register", "advertisement", "privacy", "policy",
    "terms", "copyright", "reserved", "javascript", "browser", "accept", "follow", "tweet", "facebook",
    "twitter", "instagram", "pinterest", "linkedin", "whatsapp", "email", "print", "comment", "comments",
    "reply", "download", "app",
)  # fmt: skip


@dataclass
class ParagraphFilters:
    """Applied to each text node; a failing node is removed from the document.

    Where a default departs from OBELICS (value in the comment) it is because OBELICS's value
    removed real article text on the article-extraction-benchmark (``benchmarks/filters.py``).
    """

    min_words: int | None = 4
    max_words: int | None = 1000
    # OBELICS 0.1; on a paragraph the top-sqrt(n) statistic is noise: one repeated name fails it.
    max_char_repetition: float | None = None  # character n-grams
    max_word_repetition: float | None = 0.1  # word n-grams
    max_special_char_ratio: float | None = 0.35  # OBELICS 0.3: sports scores, prices, dates
    min_stopword_ratio: float | None = 0.2  # OBELICS 0.3 (with its own shorter list)
    max_flagged_ratio: float | None = None  # OBELICS 0.01: one word in a news paragraph; kept per document
    # OBELICS 0.001 (sentence ends per word): removes every heading and caption, the text that
    # sits next to an image in an interleaved document.
    min_punctuation_ratio: float | None = None
    max_spam_ratio: float | None = 0.3
    spam_words: tuple[str, ...] = SPAM_WORDS


@dataclass
class DocumentFilters:
    """Applied to the text a document keeps after the paragraph filters, and to its images."""

    min_words: int | None = 10
    max_words: int | None = 20000  # OBELICS 2000: drops every long article whole
    max_char_repetition: float | None = 0.15  # OBELICS 0.1: grows with length, long articles reach it
    max_word_repetition: float | None = 0.3  # OBELICS 0.2: meal plans and recipes repeat lines
    max_special_char_ratio: float | None = 0.3  # OBELICS 0.275
    min_stopword_ratio: float | None = 0.3  # OBELICS 0.35
    max_flagged_ratio: float | None = 0.01
    min_punctuation_ratio: float | None = 0.01  # OBELICS 0.03: recipes, meal plans, fixture lists
    min_images: int | None = 1
    max_images: int | None = 30
    # MassiveText rules; mean word length only for languages with word lists (see lexicons)
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_line_ratio: float | None = 0.9
    max_ellipsis_line_ratio: float | None = 0.3
    min_alphabetic_word_ratio: float | None = 0.8


@dataclass
class FilterConfig:
    languages: list[str] = field(default_factory=lambda: ["en"])
    min_lang_score: float | None = 0.65
    char_ngram: int = 10
    word_ngram: int = 5
    paragraph: ParagraphFilters = field(default_factory=ParagraphFilters)
    document: DocumentFilters = field(default_factory=DocumentFilters)

    def __post_init__(self) -> None:
        self.languages = list(self.languages)
        unsupported = sorted(set(self.allowed_languages or ()) - supported_languages())
        if unsupported:
            raise FilterConfigError(
                f"languages: {unsupported} not supported (no stop-word and flagged-word list); "
                f"supported: {sorted(supported_languages())}, or ['*'] to keep every language"
            )

    @property
    def allowed_languages(self) -> frozenset[str] | None:
        """The allow-list, or None when every language is kept (label only)."""
        if not self.languages or "*" in self.languages:
            return None
        return frozenset(self.languages)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "FilterConfig":
        return build_config(cls, data or {}, "filters", FilterConfigError)

    @classmethod
    def from_yaml(cls, path: str) -> "FilterConfig":
        """Read a YAML mapping; a file holding a whole run config may nest it under ``filters:``."""
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if isinstance(data, dict) and set(data) == {"filters"}:
            data = data["filters"]
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
