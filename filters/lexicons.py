"""Stop words and flagged words per language, from maintained public lists.

- Stop words: stopwords-iso, through the ``stopwordsiso`` package (MIT).
- Flagged words: LDNOOBW (CC BY 4.0), shipped in ``wordlists/ldnoobw/`` with its licence.

A language is *supported* by the filters when both lists exist for it; the language allow-list
accepts only supported languages (see ``interleaf.filters.config``). LDNOOBW's Turkish list is
not shipped: Turkish glues its function words onto other words (as Korean does), so UDHR
article 1 scores a stop-word ratio of 0.24 and the thresholds, set on English, do not transfer.
"""

from __future__ import annotations

import functools
from importlib.resources import files

import stopwordsiso

from .text_quality import PhraseList, words

_FLAGGED_DIR = files("interleaf.filters").joinpath("wordlists", "ldnoobw")


@functools.cache
def flagged_languages() -> frozenset[str]:
    return frozenset(p.name.removesuffix(".txt") for p in _FLAGGED_DIR.iterdir() if p.name.endswith(".txt"))


@functools.cache
def supported_languages() -> frozenset[str]:
    """Languages with both a stop-word and a flagged-word list."""
    return frozenset(lang for lang in flagged_languages() if stopwordsiso.has_lang(lang))


@functools.cache
def stop_words(lang: str) -> frozenset[str]:
    """Single-word stop words of ``lang``, tokenised as ``words()`` does; empty without a list."""
    return frozenset(t[0] for t in map(words, stopwordsiso.stopwords(lang)) if len(t) == 1)


@functools.cache
def flagged_words(lang: str) -> PhraseList:
    """LDNOOBW entries of ``lang``; empty for a language without a list."""
    if lang not in flagged_languages():
        return PhraseList.from_entries(())
    return PhraseList.from_entries(_FLAGGED_DIR.joinpath(f"{lang}.txt").read_text(encoding="utf-8").splitlines())
