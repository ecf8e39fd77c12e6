"""Alternating same-process timing: csdesk and a peer, round by round, medians and ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One operation timed for csdesk and for the peer."""

    name: str
    csdesk: Callable[[], object]
    peer: Callable[[], object]
    number: int = 20_000


@dataclass(frozen=True)
class Result:
    """Medians in nanoseconds per call, and their ratio."""

    name: str
    csdesk_ns: float
    peer_ns: float

    @property
    def ratio(self) -> float:
        return self.csdesk_ns / self.peer_ns


def _time(function: Callable[[], object], number: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(number):
        function()
    return (time.perf_counter_ns() - start) / number


def measure(case: Case, rounds: int = 15) -> Result:
    """Time both sides ``rounds`` times, alternating which goes first, and take medians."""
    _time(case.csdesk, case.number // 10 or 1)  # warm up both
    _time(case.peer, case.number // 10 or 1)
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if index % 2:
            theirs.append(_time(case.peer, case.number))
            ours.append(_time(case.csdesk, case.number))
        else:
            ours.append(_time(case.csdesk, case.number))
            theirs.append(_time(case.peer, case.number))
    return Result(case.name, statistics.median(ours), statistics.median(theirs))


def report(title: str, peer: str, results: list[Result]) -> None:
    """Print a table of medians and ratios."""
    width = max(12, len(peer) + 2)
    print(f"\n{title}: csdesk vs {peer} (median ns per call; ratio = csdesk / peer)")
    print(f"{'operation':<28}{'csdesk':>12}{peer:>{width}}{'ratio':>9}")
    for result in results:
        print(
            f"{result.name:<28}{result.csdesk_ns:>12.0f}{result.peer_ns:>{width}.0f}"
            f"{result.ratio:>9.2f}"
        )
