"""Consent signals: the ``X-Robots-Tag`` response header and, as an option, robots.txt per origin."""

from __future__ import annotations

import threading
import urllib.robotparser
from collections import OrderedDict
from typing import Callable, Iterable


def header_opts_out(values: Iterable[str], agent: str, directives: Iterable[str]) -> str | None:
    """The opt-out directive that ``X-Robots-Tag`` header values give for our agent, or None.

    Values look like ``noai, noimageai`` or ``otherbot: noindex`` (a directive list for one agent
    only); directives for another agent do not apply to us.
    """
    wanted = {d.lower() for d in directives}
    agent = agent.lower()
    for value in values:
        scope = None
        for part in value.split(","):
            part = part.strip().lower()
            if ":" in part:
                # "bot: directive" starts a list for that bot (unless it is "max-snippet: 20" & co.)
                name, _, rest = part.partition(":")
                if not name.startswith(("max-", "unavailable_after")):
                    scope, part = name.strip(), rest.strip()
            if part in wanted and scope in (None, "*", agent):
                return part
    return None


class _Origin:
    """One origin's rules, loaded once under its own lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: urllib.robotparser.RobotFileParser | bool | None = None


class RobotsCache:
    """robots.txt rules per origin, fetched once each through ``fetch(url) -> (status, body)``.

    Following RFC 9309: a 4xx (no robots.txt) allows everything; a 5xx or a network failure
    (status None) disallows everything, since the site may be overloaded. The cache keeps the
    ``max_origins`` origins used last: a worker that sees millions of hosts must not keep them all.
    """

    def __init__(
        self, agent: str, fetch: Callable[[str], tuple[int | None, bytes]], max_origins: int = 10_000
    ) -> None:
        self.agent = agent
        self._fetch = fetch
        self._max = max_origins
        self._origins: OrderedDict[str, _Origin] = OrderedDict()
        self._guard = threading.Lock()

    def _load(self, origin: str) -> urllib.robotparser.RobotFileParser | bool:
        status, body = self._fetch(origin + "/robots.txt")
        if status is None or status >= 500:
            return False
        if status >= 400:
            return True
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(body.decode("utf-8", "replace").splitlines())
        return parser

    def allowed(self, origin: str, url: str) -> bool:
        with self._guard:
            entry = self._origins.get(origin)
            if entry is None:
                entry = self._origins[origin] = _Origin()
                if len(self._origins) > self._max:
                    self._origins.popitem(last=False)  # threads still holding it finish with it
            self._origins.move_to_end(origin)
        with entry.lock:  # one fetch per origin, however many threads ask at once
            if entry.rules is None:
                entry.rules = self._load(origin)
        if isinstance(entry.rules, bool):
            return entry.rules
        return entry.rules.can_fetch(self.agent, url)
