"""Recall: a deterministic lexical search, the stand-in for Conversation Memory's hybrid search.

No model and no network, so the same query over the same texts always ranks
them the same way. A text's score for a query is the share of the query's
distinct terms that it contains, from 0 to 1. Terms are runs of letters and
digits, case-folded, with common English words and single characters left
out and plurals made singular the simple way (``orders`` finds ``order``,
``deliveries`` finds ``delivery``). Texts scoring 0, or under the
threshold, are left out; the others come best first, then newest first, then
by id. A query without any term (absent, or only common words) ranks nothing:
the newest texts come first, without a score, as the Memory API does when it
has no query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset(
    """a about after again all am an and any are as at be because been before being but by can could did do does
    for from had has have having he her here hers him his how i if in into is it its just me more most my no nor
    not now of off on once only or other our ours out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours""".split()  # noqa: SIM905 - a word list reads better as text
)


def terms(text: str) -> frozenset[str]:
    out = set()
    for word in _WORD.findall(text.casefold()):
        if len(word) < 2 or word in STOP_WORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return frozenset(out)


def score(query_terms: frozenset[str], text: str) -> float:
    if not query_terms:
        return 0.0
    return len(query_terms & terms(text)) / len(query_terms)


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    item: T
    score: float | None  # None: ordered by recency, not by relevance


def recall(
    query: str | None,
    items: Sequence[T],
    *,
    text: Callable[[T], str],
    recency: Callable[[T], tuple[int, str]],
    limit: int,
    threshold: float = 0.0,
) -> list[Hit[T]]:
    """The best ``limit`` items for ``query`` (see the module); ``recency`` gives (time, id), newest largest."""
    if limit <= 0:
        return []
    query_terms = terms(query or "")
    newest_first = sorted(items, key=recency, reverse=True)
    if not query_terms:
        return [Hit(item, None) for item in newest_first[:limit]]
    scored = [(score(query_terms, text(item)), position, item) for position, item in enumerate(newest_first)]
    kept = [entry for entry in scored if entry[0] > 0 and entry[0] >= threshold]
    kept.sort(key=lambda entry: (-entry[0], entry[1]))
    return [Hit(item, round(s, 4)) for s, _, item in kept[:limit]]
