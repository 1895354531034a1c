"""Fault injection for the runner tests. A module of its own so that worker processes (the
multi_processing runner's) can import it: the tests put this folder on their PYTHONPATH."""

from __future__ import annotations

import os
from typing import Any, Callable


def fail_once(*args: Any, real: Callable, markers: str, key: Callable[..., str]) -> Any:
    """``real(*args)``, except that the first call for each ``key(*args)`` raises, as a write to
    storage fails now and then; a marker file in ``markers``, holding the failing process's id,
    remembers it across processes."""
    marker = os.path.join(markers, key(*args))
    if not os.path.exists(marker):
        with open(marker, "x") as f:
            f.write(str(os.getpid()))
        raise ConnectionError("injected: storage write failed")
    return real(*args)


def shard_key(out_dir: str, part: int, index: int, docs: Any) -> str:
    """write_shard's arguments -> the shard it writes."""
    return f"{part}-{index}"
