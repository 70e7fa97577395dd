"""Medians over rounds: one result per target, and ratios taken within each round before the median.

Rounds run every target in turn, interleaved, so that a machine that slows
down (other work, thermal limits) slows every target of a round alike. A
ratio between two targets is therefore taken round by round, then the median
of those ratios is reported: never a ratio of medians from different moments.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], Any]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratio(getter: Getter, result: dict[str, Any], reference: dict[str, Any]) -> float | None:
    """Median over rounds of ``getter(result) / getter(reference)`` of the same round."""
    pairs = zip(result.get("rounds") or [result], reference.get("rounds") or [reference], strict=False)
    values = [a / b for a, b in ((getter(x), getter(y)) for x, y in pairs) if _number(a) and _number(b) and b]
    return statistics.median(values) if values else None


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per target: the median of each number over the rounds."""
    if len(rounds) == 1:
        return rounds[0]

    def merge(key: str, values: list[Any]) -> Any:
        first = values[0]
        if key == "errors":
            total: Counter[str] = Counter()
            for v in values:
                total.update(v)
            return dict(total)
        if isinstance(first, dict):
            keys = dict.fromkeys(k for v in values if isinstance(v, dict) for k in v)
            return {k: merge(k, [v[k] for v in values if isinstance(v, dict) and k in v]) for k in keys}
        if isinstance(first, list):
            return [x for v in values for x in v][:3]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(values):
            if all(isinstance(v, int) for v in numbers):
                return statistics.median_low(numbers)
            return statistics.median(numbers)
        return first

    merged: dict[str, Any] = merge("", rounds)
    errors = [r["error"] for r in rounds if "error" in r]
    if errors:
        merged["error"] = f"{len(errors)}/{len(rounds)} rounds failed: " + " | ".join(dict.fromkeys(errors))
    merged["rounds"] = rounds
    return merged
