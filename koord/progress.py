"""Progress lines for long steps, on stderr so stdout stays clean for results."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


def thousands(n: int) -> str:
    """A count as the console prints it: ``12 345`` (a space between thousands, Swedish style)."""
    return f"{n:,}".replace(",", " ")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label …` before and its elapsed time after a long step."""
    t0 = time.perf_counter()
    say(f"  {label} …")
    yield
    say(f"  {label}: {time.perf_counter() - t0:.1f} s")


class Counter:
    """`[i/n] label` progress for a loop over n items."""

    def __init__(self, n: int, label: str) -> None:
        self.n, self.i, self.label = n, 0, label

    def tick(self, item: str = "") -> None:
        self.i += 1
        say(f"  [{self.i}/{self.n}] {self.label} {item}".rstrip())
