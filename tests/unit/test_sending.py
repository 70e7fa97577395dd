"""The rules of a SEND_MESSAGE request (domain.sending, pure) and the sandbox's timeline (channels.sandbox)."""

from __future__ import annotations

import pytest

from orchestrion.channels.sandbox import knobs, timeline
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Address, Participant
from orchestrion.domain.outcomes import MessageStatus
from orchestrion.domain.sending import (
    EndpointRef,
    MessageContent,
    ResolvedEndpoint,
    SendMessageCommand,
    SendRequest,
    check_command,
    check_recipients,
    communication_text,
    pick_address,
    resolved_channel,
)

SMS = Address(Channel.SMS, "+14155550199")
WHATSAPP = Address(Channel.WHATSAPP, "whatsapp:+14155550199")


def participant(*addresses: Address) -> Participant:
    return Participant(
        id="conv_participant_01jq7z8k9m0n1p2q3r4s5t6v7w",
        conversation_id="conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w",
        account_sid="AC0123456789abcdef0123456789abcdef",
        name=None,
        type="CUSTOMER",
        profile_id=None,
        addresses=addresses,
        created_ms=0,
        updated_ms=0,
    )


def command(**changes: object) -> SendMessageCommand:
    fields: dict[str, object] = {
        "sender": EndpointRef(address="+14155550100", channel=Channel.SMS),
        "to": (EndpointRef(address="+14155550199", channel=Channel.SMS),),
        "content": MessageContent(text="hi"),
    }
    fields.update(changes)
    return SendMessageCommand(**fields)  # type: ignore[arg-type]


def test_participant_and_channel_pick_that_channels_address() -> None:
    ref = EndpointRef(participant_id="p", channel=Channel.WHATSAPP)
    assert pick_address(participant(SMS, WHATSAPP), ref, "payload.to[0]") == WHATSAPP


def test_participant_alone_needs_exactly_one_address() -> None:
    assert pick_address(participant(SMS), EndpointRef(participant_id="p"), "x") == SMS
    with pytest.raises(InvalidInput, match=r"has 2 addresses .*give a channel"):
        pick_address(participant(SMS, WHATSAPP), EndpointRef(participant_id="p"), "x")
    with pytest.raises(InvalidInput, match="has no address to send with"):
        pick_address(participant(), EndpointRef(participant_id="p"), "x")


def test_participant_with_an_address_must_own_it() -> None:
    ref = EndpointRef(participant_id="p", address="+14155550000", channel=Channel.SMS)
    with pytest.raises(InvalidInput, match="does not belong to participant"):
        pick_address(participant(SMS), ref, "x")


def test_participant_without_the_channel_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no address on channel CHAT"):
        pick_address(participant(SMS), EndpointRef(participant_id="p", channel=Channel.CHAT), "x")


def test_one_message_uses_one_channel() -> None:
    assert resolved_channel([("a", Channel.SMS), ("b", Channel.SMS)]) is Channel.SMS
    with pytest.raises(InvalidInput, match="b is on channel CHAT but a is on SMS"):
        resolved_channel([("a", Channel.SMS), ("b", Channel.CHAT)])


@pytest.mark.parametrize("channel", [Channel.VOICE, Channel.VIDEO])
def test_voice_and_video_cannot_send(channel: Channel) -> None:
    with pytest.raises(InvalidInput, match="cannot send"):
        check_command(command(sender=EndpointRef(address="room", channel=channel)))


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.RCS, Channel.WHATSAPP])
def test_phone_channels_take_exactly_one_recipient(channel: Channel) -> None:
    with pytest.raises(InvalidInput, match="exactly one recipient"):
        check_recipients(channel, "a", ["b", "c"])


def test_chat_takes_several_recipients_but_none_twice() -> None:
    check_recipients(Channel.CHAT, "bot", ["alice", "bob"])
    with pytest.raises(InvalidInput, match="listed twice"):
        check_recipients(Channel.CHAT, "bot", ["alice", "alice"])
    with pytest.raises(InvalidInput, match="sender's own address"):
        check_recipients(Channel.CHAT, "bot", ["bot"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"content": MessageContent()}, "non-empty text or a contentId"),
        ({"content": MessageContent(text="")}, "non-empty text or a contentId"),
        ({"to": ()}, "at least one recipient"),
        ({"sender": EndpointRef(address="+14155550100")}, "payload.from.channel is required"),
        ({"sender": EndpointRef(channel=Channel.SMS)}, "payload.from needs a participantId"),
        ({"to": (EndpointRef(address="4155550199", channel=Channel.SMS),)}, "not an E.164 phone number"),
    ],
)
def test_malformed_commands_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_command(command(**changes))


def test_the_resolved_request_survives_json() -> None:
    request = SendRequest(
        channel=Channel.SMS,
        sender=ResolvedEndpoint("+14155550100", "conv_participant_a"),
        to=(ResolvedEndpoint("+14155550199", "conv_participant_b"),),
        content=MessageContent(text="hi", media_urls=("https://example.com/a.jpg",)),
        channel_settings={"sandbox": {"stepMs": 5}},
    )
    assert SendRequest.from_json(request.to_json()) == request


def test_a_template_without_text_is_recorded_as_a_rendering() -> None:
    content = MessageContent(content_id="HX1", variables={"b": "2", "a": "1"})
    assert communication_text(content) == '[template HX1 {"a":"1","b":"2"}]'
    assert communication_text(MessageContent(text="hello", content_id="HX1")) == "hello"


# --- The sandbox's timeline


def test_an_ordinary_number_is_sent_then_delivered() -> None:
    steps = timeline(Channel.SMS, "+14155550100", ["+14155550199"], 50)
    assert [(s.status, s.after_ms) for s in steps] == [(MessageStatus.SENT, 50), (MessageStatus.DELIVERED, 50)]


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_twilios_magic_numbers_fail_at_the_first_step(number: str, code: int) -> None:
    [step] = timeline(Channel.SMS, "+14155550100", [number], 50)
    assert (step.status, step.error_code) == (MessageStatus.FAILED, code)
    assert step.error_message is not None and number in step.error_message


def test_magic_numbers_work_inside_whatsapp_addresses() -> None:
    [step] = timeline(Channel.WHATSAPP, "whatsapp:+14155550100", ["whatsapp:+15005550001"], 5)
    assert step.error_code == 21211


def test_orchestrions_own_numbers_fail_after_sent_or_are_read() -> None:
    undelivered = timeline(Channel.SMS, "+14155550100", ["+15005550010"], 5)
    assert [(s.status, s.error_code) for s in undelivered] == [
        (MessageStatus.SENT, None),
        (MessageStatus.UNDELIVERED, 30003),
    ]
    read = timeline(Channel.SMS, "+14155550100", ["+15005550011"], 5)
    assert [s.status for s in read] == [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]


def test_sandbox_knobs_come_from_channel_settings_and_ignore_nonsense() -> None:
    assert knobs(None, 50) == knobs({}, 50) == knobs({"sandbox": "fast"}, 50)
    chosen = knobs({"sandbox": {"stepMs": 7, "sendDelayMs": 100, "failFirstAttempts": 2}}, 50)
    assert (chosen.step_ms, chosen.send_delay_ms, chosen.fail_first_attempts) == (7, 100, 2)
    ignored = knobs({"sandbox": {"stepMs": -1, "sendDelayMs": "soon", "failFirstAttempts": True}}, 50)
    assert (ignored.step_ms, ignored.send_delay_ms, ignored.fail_first_attempts) == (50, 0, 0)
