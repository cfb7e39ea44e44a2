"""Samples of one measured case, and the honest summaries the benchmark prints.

Every figure is a median with its range (min-max) beside it; a ratio between
two cases is taken round by round (pair by pair, both measured in the same
round) and then summarised, so load that hits one round hits both sides of
its ratio; a per-step cost is marginal, (T(N) - T(1)) / (N - 1), so a tool's
fixed start-up cost is never spread over its steps.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float = 0.0  # the tool's CPU seconds (its process and the children it reaped)
    sshd: float = 0.0  # the sshd's CPU seconds during the run
    logins: int = 0
    switches: int = 0  # the tool's context switches (voluntary and not)


@dataclass
class Series:
    """One case measured round after round (round 0, the warm-up, is not kept)."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def values(self, what: str = "wall") -> list[float]:
        return [float(getattr(s, what)) for s in self.samples]

    def ok(self) -> bool:
        return self.error is None and bool(self.samples)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))

    def ms(self, digits: int = 1) -> str:
        """``median [min-max]`` in milliseconds."""
        return (f"{_num(self.median * 1000, digits)} "
                f"[{_num(self.low * 1000, digits)}-{_num(self.high * 1000, digits)}]")

    def times(self) -> str:
        """``median [min-max]`` of a ratio."""
        return f"{self.median:.2f}x [{self.low:.2f}-{self.high:.2f}]"


def _num(value: float, digits: int) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def paired(a: Series, b: Series, combine: Callable[[Sample, Sample], float]) -> Spread | None:
    """``combine`` of a's and b's samples of the same round, summarised over the rounds."""
    if not (a.ok() and b.ok()):
        return None
    return Spread.of([combine(x, y) for x, y in zip(a.samples, b.samples, strict=False)])


def ratio(a: Series, b: Series, what: str = "wall") -> Spread | None:
    """a / b, round by round."""
    return paired(a, b, lambda x, y: float(getattr(x, what)) / float(getattr(y, what)))


def marginal(big: Series, small: Series, n_big: int, n_small: int,
             what: str = "wall") -> Spread | None:
    """(T(n_big) - T(n_small)) / (n_big - n_small), round by round: one more unit's cost."""
    return paired(big, small, lambda x, y: (float(getattr(x, what)) - float(getattr(y, what)))
                  / (n_big - n_small))


def spread(s: Series, what: str = "wall") -> Spread | None:
    return Spread.of(s.values(what)) if s.ok() else None


def cell(value: Spread | None, kind: str = "ms") -> str:
    if value is None:
        return "—"
    return value.ms() if kind == "ms" else value.times()
