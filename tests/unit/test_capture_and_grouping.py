"""Capture rules, grouping keys and the inbound signature: the pure rules of ingestion."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from orchestrion.domain.capture import CaptureRule, best_match, choose, rules_of, specificity
from orchestrion.domain.channels import Channel
from orchestrion.domain.grouping import BY_ADDRESSES, BY_ADDRESSES_AND_CHANNEL, group_query, participants_group
from orchestrion.domain.inbound import InboundMessage, bare, channel_of, signature_matches, twilio_signature

AGENT = "+18005550100"
CUSTOMER = "+14155550199"


def test_an_exact_rule_matches_only_its_two_addresses() -> None:
    rule = CaptureRule(CUSTOMER, AGENT)
    assert specificity(rule, CUSTOMER, AGENT, {}) is not None
    assert specificity(rule, "+14155550100", AGENT, {}) is None
    assert specificity(rule, CUSTOMER, "+18005550101", {}) is None


def test_a_wildcard_matches_any_address_on_its_side() -> None:
    assert specificity(CaptureRule("*", AGENT), "+14155550123", AGENT, {}) is not None
    assert specificity(CaptureRule(CUSTOMER, "*"), CUSTOMER, "+18005550999", {}) is not None
    assert specificity(CaptureRule("*", AGENT), CUSTOMER, "+18005550999", {}) is None


def test_a_rule_matches_an_address_with_or_without_its_channel_prefix() -> None:
    assert specificity(CaptureRule("*", AGENT), f"whatsapp:{CUSTOMER}", f"whatsapp:{AGENT}", {}) is not None
    assert specificity(CaptureRule("*", f"whatsapp:{AGENT}"), f"whatsapp:{CUSTOMER}", f"whatsapp:{AGENT}", {})


def test_rule_metadata_must_all_be_present_in_the_message() -> None:
    rule = CaptureRule("*", AGENT, {"callType": "PSTN"})
    assert specificity(rule, CUSTOMER, AGENT, {}) is None
    assert specificity(rule, CUSTOMER, AGENT, {"callType": "PSTN", "x": "y"}) is not None


def test_the_most_specific_rule_wins_then_the_oldest_configuration() -> None:
    exact = best_match([CaptureRule(CUSTOMER, AGENT)], CUSTOMER, AGENT, {})
    wildcard = best_match([CaptureRule("*", AGENT)], CUSTOMER, AGENT, {})
    assert exact is not None and wildcard is not None and exact > wildcard
    assert choose([("conv_configuration_b", wildcard), ("conv_configuration_c", exact)]) == "conv_configuration_c"
    assert choose([("conv_configuration_b", exact), ("conv_configuration_a", exact)]) == "conv_configuration_a"
    assert choose([]) is None


def test_rules_are_read_per_channel_from_the_settings() -> None:
    settings = {"channelSettings": {"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}, "WHATSAPP": {}}}
    assert rules_of(settings, Channel.SMS) == [CaptureRule("*", AGENT)]
    assert rules_of(settings, Channel.WHATSAPP) == []
    assert rules_of({}, Channel.RCS) == []


def test_addresses_name_their_channel() -> None:
    assert channel_of(CUSTOMER) is Channel.SMS
    assert channel_of(f"whatsapp:{CUSTOMER}") is Channel.WHATSAPP
    assert channel_of("rcs:brand_agent") is Channel.RCS
    assert bare(f"whatsapp:{CUSTOMER}") == CUSTOMER
    assert InboundMessage("SM1", f"whatsapp:{CUSTOMER}", f"whatsapp:{AGENT}").channel is Channel.WHATSAPP
    assert InboundMessage("SM1", "rcs:+14155550199", "rcs:brand_agent").channel is Channel.RCS


def test_grouping_by_addresses_and_channel_looks_on_one_channel_only() -> None:
    query = group_query(BY_ADDRESSES_AND_CHANNEL, Channel.SMS, CUSTOMER, AGENT)
    assert query.customer == ((Channel.SMS, CUSTOMER),)
    assert query.agent == ((Channel.SMS, AGENT),)


def test_grouping_by_addresses_looks_for_the_number_on_sms_whatsapp_and_rcs() -> None:
    query = group_query(BY_ADDRESSES, Channel.WHATSAPP, f"whatsapp:{CUSTOMER}", f"whatsapp:{AGENT}")
    assert set(query.customer) == {
        (Channel.SMS, CUSTOMER),
        (Channel.WHATSAPP, f"whatsapp:{CUSTOMER}"),
        (Channel.RCS, f"rcs:{CUSTOMER}"),
    }


def test_a_message_is_the_two_participant_case_of_a_participants_group() -> None:
    message = group_query(BY_ADDRESSES, Channel.SMS, CUSTOMER, AGENT)
    assert participants_group(BY_ADDRESSES, [[(Channel.SMS, CUSTOMER)], [(Channel.SMS, AGENT)]]) == message


def test_a_participant_with_several_addresses_is_one_side_holding_them_all() -> None:
    query = participants_group(
        BY_ADDRESSES_AND_CHANNEL, [[(Channel.SMS, CUSTOMER), (Channel.CHAT, "ada")], [(Channel.SMS, AGENT)]]
    )
    assert query is not None
    assert query.sides == (((Channel.SMS, CUSTOMER), (Channel.CHAT, "ada")), ((Channel.SMS, AGENT),))


def test_it_takes_two_participants_with_addresses_to_make_a_group() -> None:
    assert participants_group(BY_ADDRESSES, [[(Channel.SMS, CUSTOMER)], []]) is None
    assert participants_group(BY_ADDRESSES, []) is None


def test_the_lock_key_of_a_group_does_not_depend_on_the_order_of_its_sides() -> None:
    forward = participants_group(BY_ADDRESSES, [[(Channel.SMS, CUSTOMER)], [(Channel.SMS, AGENT)]])
    backward = participants_group(BY_ADDRESSES, [[(Channel.SMS, AGENT)], [(Channel.SMS, CUSTOMER)]])
    assert forward is not None and backward is not None
    assert forward.lock_key("conv_configuration_x") == backward.lock_key("conv_configuration_x")
    assert forward.lock_key("conv_configuration_x") != forward.lock_key("conv_configuration_y")


def test_the_signature_is_the_one_twilio_computes() -> None:
    url = "https://example.com/twilio/AC123/messages?x=1"
    params = {"From": CUSTOMER, "To": AGENT, "Body": "hi there", "MessageSid": "SM" + "0" * 32}
    expected = RequestValidator("token").compute_signature(url, params)
    assert twilio_signature(url, list(params.items()), "token") == expected
    assert signature_matches(expected, expected)
    assert not signature_matches(expected, None)
    assert not signature_matches(expected, twilio_signature(url, list(params.items()), "other"))
