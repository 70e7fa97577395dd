"""Provider plugins: the example ``echo`` provider, found through its ``orchestrion.providers`` entry point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrion.channels import plugins
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from tests.acceptance.actions_support import send, sms, wait_terminal
from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.providers_support import public_server, set_provider, wait_delivered
from tests.conftest import new_account, sdk_client
from tests.plugins.install import install_echo


@pytest.fixture(scope="module")
def echo_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        install_echo(tmp_path_factory.mktemp("plugins"), patch)
        yield


@pytest.fixture(scope="module")
def conversation(echo_installed: None, private_database_url: str) -> Iterator[tuple[Any, str]]:
    server = public_server(private_database_url)
    account = new_account(private_database_url)
    set_provider(server, account.account_sid, "echo", frozenset({Channel.SMS}), {"prefix": "x"}, {})
    client = sdk_client(server, account)
    yield client, str(create_conversation(client, create_configuration(client)).id)
    server.stop()


def test_an_installed_plugin_is_listed_after_the_built_in_providers(echo_installed: None) -> None:
    assert plugins.available() == ["twilio", "webhook", "echo"]


def test_an_unknown_provider_is_refused_naming_the_known_ones(echo_installed: None) -> None:
    with pytest.raises(InvalidInput, match="one of twilio, webhook, echo"):
        plugins.factory("vonage")


def test_an_action_on_a_plugins_channel_is_sent_and_reported_by_the_plugin(conversation: tuple[Any, str]) -> None:
    client, conversation_id = conversation
    created = send(client, conversation_id, to=[sms("+14155550177")])
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    assert done.related["messageSid"].startswith("SM")
    wait_delivered(client, conversation_id, done.related["communicationId"])


def test_a_plugins_permanent_error_fails_the_action_with_its_text(conversation: tuple[Any, str]) -> None:
    client, conversation_id = conversation
    created = send(client, conversation_id, to=[sms("+14155550178")], content={"text": "fail: please"})
    done = wait_terminal(client, conversation_id, created.id)
    assert (done.status, done.failure_reason) == ("FAILED", "30007: Message filtered")


def test_a_plugin_refusing_its_configuration_is_not_stored(echo_installed: None, private_database_url: str) -> None:
    server = public_server(private_database_url)
    try:
        account = new_account(private_database_url)
        with pytest.raises(InvalidInput, match="at most 20"):
            set_provider(server, account.account_sid, "echo", frozenset({Channel.SMS}), {"prefix": "x" * 21}, {})
    finally:
        server.stop()
