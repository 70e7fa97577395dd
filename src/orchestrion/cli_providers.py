"""``orchestrion providers set | show | remove``: an account's downstream providers, for operators.

``set`` configures (or replaces) one provider of an account and the channels
it serves; the sandbox keeps every other channel. Secrets given as ``-`` are
read from standard input (one line each, in the order given), so they stay
out of the process list and the shell history. ``show`` prints the
configuration with every secret masked. Usage errors exit 2, failures 1,
each one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from typing import TYPE_CHECKING, Any

from orchestrion.domain.errors import InvalidInput, OrchestrionError
from orchestrion.domain.providers import mask, parse_channels
from orchestrion.settings import Settings

if TYPE_CHECKING:
    from orchestrion.domain.providers import ProviderConfig


def add_parser(sub: Any) -> None:
    """The ``providers`` command under ``sub`` (the CLI's argparse subparsers)."""
    parser = sub.add_parser("providers", help="configure an account's downstream providers (twilio, webhook, ...)")
    providers_sub = parser.add_subparsers(dest="providers_command", required=True)
    put = providers_sub.add_parser("set", help="configure (or replace) a provider of an account")
    put.add_argument("account_sid")
    put.add_argument("provider", help="twilio, webhook, or an installed plugin's name")
    put.add_argument("--channels", required=True, help="the channels it serves, e.g. sms,whatsapp")
    twilio = put.add_argument_group("twilio")
    twilio.add_argument("--twilio-account-sid", help="the Twilio Account SID to send through")
    twilio.add_argument("--api-key", help="a Twilio API key SID (SK...)")
    twilio.add_argument("--api-secret", help="the API key's secret ('-': read it from stdin)")
    twilio.add_argument("--auth-token", help="the Twilio auth token ('-': stdin); signs Twilio's callbacks")
    twilio.add_argument("--api-url", help="the Messages API base URL (default: ORCHESTRION_TWILIO_API_URL)")
    webhook = put.add_argument_group("webhook")
    webhook.add_argument("--url", help="the gateway's URL")
    webhook.add_argument("--signing-secret", help="the shared signing secret ('-': stdin; default: a new one)")
    other = put.add_argument_group("plugins")
    other.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="an option (repeat)")
    other.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE", help="a secret (repeat)")
    show = providers_sub.add_parser("show", help="an account's providers, secrets masked")
    show.add_argument("account_sid")
    remove = providers_sub.add_parser("remove", help="remove a provider: its channels go back to the sandbox")
    remove.add_argument("account_sid")
    remove.add_argument("provider")
    for p in (parser, put, show, remove):
        p.add_argument("--json", action="store_true")
        p.add_argument("--database-url", dest="database_url_sub")


class _Usage(Exception):
    pass


def _secret(value: str | None) -> str | None:
    if value != "-":
        return value
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise _Usage("expected a secret on standard input")
    return line


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _Usage(f"--{what} takes NAME=VALUE, got {item!r}")
        out[name] = _secret(value) or "" if what == "secret" else value
    return out


def _configuration(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(options, secrets, a secret made here to print once) from the command line."""
    options, secret_values = _pairs(args.option, "option"), _pairs(args.secret, "secret")
    made: str | None = None
    if args.provider == "twilio":
        if not args.twilio_account_sid:
            raise _Usage("twilio needs --twilio-account-sid")
        options["accountSid"] = args.twilio_account_sid
        api_secret, token = _secret(args.api_secret), _secret(args.auth_token)
        if args.api_key:
            if not api_secret:
                raise _Usage("--api-key needs --api-secret")
            options["apiKey"], secret_values["apiSecret"] = args.api_key, api_secret
        elif api_secret:
            raise _Usage("--api-secret needs --api-key")
        elif not token:
            raise _Usage("twilio needs --api-key and --api-secret, or --auth-token")
        if token:
            secret_values["authToken"] = token
        if args.api_url:
            options["apiUrl"] = args.api_url
    elif args.provider == "webhook":
        if not args.url:
            raise _Usage("webhook needs --url")
        options["url"] = args.url
        given = _secret(args.signing_secret)
        if given is None:
            given = made = secrets.token_hex(32)
        secret_values["signingSecret"] = given
    return options, secret_values, made


def _describe(config: ProviderConfig) -> dict[str, Any]:
    return {
        "provider": config.name,
        "channels": sorted(c.lower() for c in config.channels),
        "options": dict(config.options),
        "secrets": {name: mask(value) for name, value in config.secrets.items()},
    }


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from orchestrion.runtime import Runtime  # imported when used: the CLI starts fast
    from orchestrion.services import providers

    try:
        channels = parse_channels(args.channels) if args.providers_command == "set" else frozenset()
        options, secret_values, made = _configuration(args) if args.providers_command == "set" else ({}, {}, None)
    except (_Usage, InvalidInput) as error:
        print(f"orchestrion: {error.message if isinstance(error, InvalidInput) else error}", file=sys.stderr)
        return 2
    runtime = Runtime.build(settings, serves_api=False, runs_dispatcher=False)
    try:
        if args.providers_command == "set":
            config = await providers.set_provider(
                runtime.ctx, args.account_sid, args.provider, channels=channels, options=options, secrets=secret_values
            )
            shown: Any = _describe(config)
            if made is not None:
                shown["signingSecret"] = made  # shown once, like a new account's auth token
        elif args.providers_command == "show":
            shown = [_describe(c) for c in await providers.account_providers(runtime.ctx, args.account_sid)]
        else:
            await providers.remove_provider(runtime.ctx, args.account_sid, args.provider)
            shown = {"removed": args.provider, "accountSid": args.account_sid}
    except OrchestrionError as error:
        print(f"orchestrion: {error.message}", file=sys.stderr)
        return 1
    finally:
        await runtime.ctx.store.close()
    if args.json:
        print(json.dumps(shown))
    else:
        _print(shown)
    return 0


def _print(shown: Any) -> None:
    for item in shown if isinstance(shown, list) else [shown]:
        for key, value in item.items():
            text = ",".join(value) if isinstance(value, list) else value
            if isinstance(value, dict):
                text = " ".join(f"{k}={v}" for k, v in value.items()) or "-"
            print(f"{key}: {text}")
        print()
