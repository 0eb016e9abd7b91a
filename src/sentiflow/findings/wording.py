"""Numbers as the findings' sentences write them: accuracies and differences to three decimals, rates as percents,
each interval in brackets after its estimate."""

from __future__ import annotations

import math

from sentiflow.findings.verdict import Evidence


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: float | None, digits: int = 3) -> str:
    return "–" if missing(value) else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    return "–" if missing(value) else f"{value:+.{digits}f}"


def interval(piece: Evidence, digits: int = 3, sign: bool = False) -> str:
    """The piece's interval as "[low, high]", or "(no interval)"."""
    if piece.ci_low is None or piece.ci_high is None:
        return "(no interval)"
    show = signed if sign else number
    return f"[{show(piece.ci_low, digits)}, {show(piece.ci_high, digits)}]"


def percent(value: float | None) -> str:
    return "–" if missing(value) else f"{100 * value:.0f}%"


def rate(piece: Evidence) -> str:
    """A failure or error rate with its interval in percent: "62% [42, 84]"."""
    if piece.ci_low is None or piece.ci_high is None:
        return f"{percent(piece.estimate)} (no interval)"
    return f"{percent(piece.estimate)} [{100 * piece.ci_low:.0f}, {100 * piece.ci_high:.0f}]"


def difference(piece: Evidence) -> str:
    """A difference with its interval: "+0.080 [+0.020, +0.140]"."""
    return f"{signed(piece.estimate)} {interval(piece, sign=True)}"


def estimate(piece: Evidence) -> str:
    """A value with its interval: "0.873 [0.851, 0.894]"."""
    return f"{number(piece.estimate)} {interval(piece)}"


def count(n: int | None, noun: str) -> str:
    """ "1 case", "8 cases"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def listing(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
