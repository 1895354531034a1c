"""Text quality measures of the published web-corpus filters (OBELICS, BigScience ROOTS, MassiveText).

Each function measures one property of a text as a number; the thresholds that turn numbers
into verdicts live in ``interleaf.filters.config`` and are applied by ``interleaf.filters.document``.

Words are what ``words()`` returns: runs of letters, combining marks, digits and underscores (apostrophes and hyphens
inside a word kept), lower-cased, with every Han or kana character counted as one word so that
unsegmented scripts still get a meaningful count.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Collection, Iterable, Sequence

import numpy as np


def _mark_class() -> str:
    """Combining marks of the Basic Multilingual Plane as a regex class body: Python's ``\\w``
    leaves them out, which would split Devanagari or Bengali words at every vowel sign."""
    marks = [cp for cp in range(0x300, 0x10000) if unicodedata.category(chr(cp)).startswith("M")]
    ranges, start = [], marks[0]
    for prev, cp in zip(marks, marks[1:] + [None]):
        if cp != prev + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{prev:04x}" if prev != start else ""))
            start = cp
    return "".join(ranges)


_LETTERS = rf"[\w{_mark_class()}]+"  # underscores count as letters: one class is twice as fast
_WORD = re.compile(rf"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|{_LETTERS}(?:['’\-]{_LETTERS})*")
# Characters that end a sentence, across scripts (Latin, CJK, Devanagari, Arabic, Ethiopic...).
SENTENCE_END = frozenset(".!?…。！？।॥؟۔።")
_ALPHABETIC_TOKEN = re.compile(r"\S*[^\W\d_]\S*")
_HASH_BASE = np.uint64(1_000_003)
_BULLET = re.compile(r"^\s*(?:[-*•·‣◦▪►–—]|\d{1,3}[.)])\s")
_ELLIPSIS = ("...", "…")


def words(text: str) -> list[str]:
    # Typographic apostrophes are folded so "don’t" matches the stop word "don't".
    return _WORD.findall(text.lower().replace("’", "'"))


def char_repetition_ratio(text: str, n: int = 10) -> float:
    """Share of character n-gram occurrences that belong to the most repeated n-grams.

    After BigScience ROOTS (used by OBELICS): the k = floor(sqrt(distinct n-grams)) most frequent
    n-grams are taken, counting only those that occur more than once, so a short text without
    any repetition scores 0 instead of k / total.
    """
    total = len(text) - n + 1
    if total <= 0:
        return 0.0
    # N-grams are compared by a 64-bit polynomial hash of their code points, vectorised: a
    # 10,000-character text costs well under a millisecond instead of 10,000 string slices.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    h = np.zeros(total, dtype=np.uint64)
    for j in range(n):
        h = h * _HASH_BASE + codes[j : j + total]
    counts = np.sort(np.unique(h, return_counts=True)[1])[::-1]
    top = counts[: math.isqrt(len(counts))]
    return float(top[top > 1].sum()) / total


def word_repetition_ratio(tokens: Sequence[str], n: int = 5) -> float:
    """Share of word n-gram occurrences whose n-gram occurs more than once (BigScience ROOTS)."""
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    counts = Counter(zip(*(tokens[i:] for i in range(n))))
    return sum(c for c in counts.values() if c > 1) / total


@functools.lru_cache(maxsize=65536)
def _is_special(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "LM"


def special_char_ratio(text: str) -> float:
    """Share of characters that are neither letters nor combining marks: digits, punctuation,
    symbols, emoji and whitespace (BigScience ROOTS counts whitespace as special too)."""
    if not text:
        return 0.0
    # One category look-up per distinct character, not per character.
    special = sum(c for ch, c in Counter(text).items() if _is_special(ch))
    return special / len(text)


def word_list_ratio(tokens: Sequence[str], vocabulary: Collection[str]) -> float:
    """Share of tokens in ``vocabulary`` (stop words, spam words)."""
    if not tokens:
        return 0.0
    return sum(map(vocabulary.__contains__, tokens)) / len(tokens)


@dataclass(frozen=True)
class PhraseList:
    """Words and multi-word phrases to look for in a token sequence (flagged words)."""

    single: frozenset[str]
    phrases: frozenset[tuple[str, ...]]
    starts: frozenset[str]  # first words of the phrases: only there can a phrase begin
    sizes: tuple[int, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> "PhraseList":
        single, phrases = set(), set()
        for entry in entries:
            tokens = tuple(words(entry))
            if len(tokens) == 1:
                single.add(tokens[0])
            elif tokens:
                phrases.add(tokens)
        return cls(
            frozenset(single), frozenset(phrases), frozenset(p[0] for p in phrases), tuple(sorted({len(p) for p in phrases}))
        )

    def __bool__(self) -> bool:
        return bool(self.single or self.phrases)

    def count(self, tokens: Sequence[str]) -> int:
        """Occurrences of listed words and phrases; a phrase counts once per occurrence."""
        hits = sum(map(self.single.__contains__, tokens))
        if self.starts.isdisjoint(tokens):
            return hits
        for i, t in enumerate(tokens):
            if t in self.starts:
                hits += sum(1 for size in self.sizes if tuple(tokens[i : i + size]) in self.phrases)
        return hits


def flagged_ratio(tokens: Sequence[str], flagged: PhraseList) -> float:
    """Flagged words and phrases per token."""
    return flagged.count(tokens) / len(tokens) if tokens else 0.0


def punctuation_ratio(text: str, n_words: int) -> float:
    """Sentence-ending punctuation marks per word: near 0 for menus, tag clouds and lists."""
    if not n_words:
        return 0.0
    return sum(map(text.count, SENTENCE_END)) / n_words


def mean_word_length(tokens: Sequence[str]) -> float:
    return sum(map(len, tokens)) / len(tokens) if tokens else 0.0


def symbol_word_ratio(text: str, n_words: int) -> float:
    """Hash signs and ellipses per word (MassiveText: at most 0.1)."""
    if not n_words:
        return 0.0
    return (text.count("#") + text.count("...") + text.count("…")) / n_words


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def bullet_line_ratio(text: str) -> float:
    """Share of non-empty lines that start with a bullet or list number (MassiveText: at most 0.9)."""
    lines = _lines(text)
    return sum(1 for line in lines if _BULLET.match(line)) / len(lines) if lines else 0.0


def ellipsis_line_ratio(text: str) -> float:
    """Share of non-empty lines ending in an ellipsis, the mark of truncated teasers (MassiveText: at most 0.3)."""
    lines = _lines(text)
    return sum(1 for line in lines if line.rstrip().endswith(_ELLIPSIS)) / len(lines) if lines else 0.0


def alphabetic_word_ratio(text: str) -> float:
    """Share of whitespace-separated tokens containing at least one letter (MassiveText: at least 0.8)."""
    n_tokens = len(text.split())
    return len(_ALPHABETIC_TOKEN.findall(text)) / n_tokens if n_tokens else 0.0
