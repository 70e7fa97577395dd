"""Identifiers: how values are normalized, which addresses and traits give which identifier."""

from __future__ import annotations

import pytest

from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.identity import Identifier, addresses_of, identifier_of, normalize, promoted


@pytest.mark.parametrize(
    "raw",
    ["+13175556789", "1-317-555-6789", "(317) 555-6789", "317.555.6789", "whatsapp:+13175556789", " +1 317 555 6789 "],
)
def test_a_phone_number_is_normalized_to_e164(raw: str) -> None:
    assert normalize("phone", raw) == Identifier("phone", "+13175556789")


@pytest.mark.parametrize("raw", ["not a number", "+0123", "+1234567890123456", ""])
def test_what_is_no_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize("phone", raw)


def test_an_email_is_lower_cased_without_spaces_and_other_types_trimmed() -> None:
    assert normalize("email", " Alyssa.Mock @Example.com") == Identifier("email", "alyssa.mock@example.com")
    assert normalize("externalId", "  A-17 ") == Identifier("externalId", "A-17")


def test_an_id_type_is_two_to_thirty_plain_characters() -> None:
    with pytest.raises(InvalidInput):
        normalize("x", "1")
    with pytest.raises(InvalidInput):
        normalize("has space", "1")


def test_a_number_on_any_phone_channel_is_the_phone_identifier() -> None:
    for channel, address in [
        (Channel.SMS, "+13175556789"),
        (Channel.WHATSAPP, "whatsapp:+13175556789"),
        (Channel.RCS, "rcs:+13175556789"),
        (Channel.VOICE, "+13175556789"),
    ]:
        assert identifier_of(channel, address) == Identifier("phone", "+13175556789")
    assert identifier_of(Channel.CHAT, "ada") == Identifier("chat", "ada")


def test_the_addresses_of_an_identifier_give_it_back() -> None:
    phone = Identifier("phone", "+13175556789")
    assert {identifier_of(c, a) for c, a in addresses_of(phone)} == {phone}
    assert addresses_of(Identifier("chat", "ada")) == ((Channel.CHAT, "ada"),)
    assert addresses_of(Identifier("email", "a@example.com")) == ()


def test_phone_and_email_traits_of_any_group_are_identifiers() -> None:
    traits = {"Contact": {"phone": "317-555-6789", "firstName": "Alyssa"}, "Work": {"email": "A@Example.com"}}
    assert list(promoted(traits)) == [Identifier("phone", "+13175556789"), Identifier("email", "a@example.com")]
    assert list(promoted({"Contact": {"phone": 3175556789}})) == []
