"""Twilio's form fields read as Twilio sends them; anything else never becomes an error 500."""

from __future__ import annotations

import pytest

from orchestrion.api.routes.inbound import inbound_message

BASE = {"MessageSid": "SM" + "0" * 32, "From": "+14155550100", "To": "+15005550006", "Body": "hi"}


@pytest.mark.parametrize("count", ["²", "9" * 5000, "-1", "1.5", "", "abc"])
def test_a_num_media_that_is_not_a_small_number_means_no_media(count: str) -> None:
    message = inbound_message({**BASE, "NumMedia": count, "MediaUrl0": "https://m.example/a.jpg"})
    assert message.media_urls == ()


def test_media_urls_up_to_num_media_are_read() -> None:
    message = inbound_message({**BASE, "NumMedia": "2", "MediaUrl0": "https://m/a", "MediaUrl1": "https://m/b"})
    assert message.media_urls == ("https://m/a", "https://m/b")
