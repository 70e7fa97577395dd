"""Recall's lexical search: deterministic scores and order."""

from __future__ import annotations

from orchestrion.domain.recall import recall, score, terms

TEXTS = {
    "a": (1, "Prefers email follow-ups about billing"),
    "b": (2, "Asked about the delivery of order 1234"),
    "c": (3, "Billing address changed to Paris"),
    "d": (4, "Likes the new app"),
}


def run(query: str | None, limit: int = 10, threshold: float = 0.0) -> list[tuple[str, float | None]]:
    hits = recall(
        query,
        list(TEXTS),
        text=lambda k: TEXTS[k][1],
        recency=lambda k: (TEXTS[k][0], k),
        limit=limit,
        threshold=threshold,
    )
    return [(h.item, h.score) for h in hits]


def test_terms_are_case_folded_words_without_common_ones_or_plural_s() -> None:
    assert terms("The ORDERS of Ada's address, please!") == {"order", "ada", "address", "please"}
    assert terms("deliveries") == terms("delivery")


def test_a_score_is_the_share_of_the_query_terms_a_text_holds() -> None:
    assert score(terms("billing address"), "Billing address changed") == 1.0
    assert score(terms("billing address"), "billing only") == 0.5
    assert score(terms("billing"), "nothing related") == 0.0


def test_best_first_then_newest_and_texts_without_a_term_left_out() -> None:
    assert run("billing address") == [("c", 1.0), ("a", 0.5)]
    assert run("billing") == [("c", 1.0), ("a", 1.0)]


def test_the_threshold_and_the_limit_cut_the_list() -> None:
    assert run("billing address", threshold=0.75) == [("c", 1.0)]
    assert run("billing", limit=1) == [("c", 1.0)]
    assert run("billing", limit=0) == []


def test_without_a_query_term_the_newest_come_first_without_a_score() -> None:
    assert run(None, limit=2) == [("d", None), ("c", None)]
    assert run("the of and") == [("d", None), ("c", None), ("b", None), ("a", None)]


def test_the_same_query_always_gives_the_same_answer() -> None:
    assert run("order delivery app") == run("order delivery app") == [("b", 0.6667), ("d", 0.3333)]
