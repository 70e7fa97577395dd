"""``orchestrion serve | worker | migrate | accounts ...``: the entry point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence

from orchestrion import logs
from orchestrion.settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrion", description="A self-hosted Conversations API v2 server")
    parser.add_argument("--database-url", help="sqlite:///file.db or postgresql://... (env ORCHESTRION_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (and, unless --no-worker, the dispatcher)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database-url", dest="database_url_sub")
    serve.add_argument("--workers", type=int, default=1, help="API processes on one port")
    serve.add_argument("--no-worker", action="store_true", help="serve the API only; run `orchestrion worker` apart")

    worker = sub.add_parser("worker", help="run the dispatcher only")
    worker.add_argument("--database-url", dest="database_url_sub")
    worker.add_argument("--concurrency", type=int)

    migrate = sub.add_parser("migrate", help="apply schema migrations")
    migrate.add_argument("--database-url", dest="database_url_sub")

    accounts = sub.add_parser("accounts", help="manage accounts and API keys")
    acc_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    create = acc_sub.add_parser("create", help="create an account")
    create.add_argument("--json", action="store_true")
    keys = acc_sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    key_create = keys_sub.add_parser("create", help="create an API key for an account")
    key_create.add_argument("account_sid")
    key_create.add_argument("--json", action="store_true")
    for p in (accounts, create, keys, key_create):
        p.add_argument("--database-url", dest="database_url_sub")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"orchestrion: {error}", file=sys.stderr)
        return 2
    url = getattr(args, "database_url_sub", None) or args.database_url
    settings = settings.with_overrides(database_url=url)
    try:
        settings.check_test_clock()  # again: --database-url may have changed the database
    except SettingsError as error:
        print(f"orchestrion: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)

    from orchestrion.store.migrate import upgrade

    try:
        upgrade(settings.database_url.get_secret_value())
    except Exception as error:  # noqa: BLE001 - any failure here is fatal and reported plainly
        print(f"orchestrion: cannot migrate database: {type(error).__name__}: {error}", file=sys.stderr)
        return 1

    if args.command == "migrate":
        print("database is up to date", file=sys.stderr)
        return 0
    if args.command == "serve":
        run_worker = settings.run_worker and not args.no_worker
        return _serve(settings.with_overrides(host=args.host, port=args.port), args.workers, run_worker)
    if args.command == "worker":
        return asyncio.run(_worker(settings, args.concurrency))
    if args.command == "accounts":
        return asyncio.run(_accounts(settings, args))
    return 2


def _serve(settings: Settings, workers: int, run_worker: bool) -> int:
    import uvicorn

    from orchestrion.runtime import Runtime

    config_kwargs = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "lifespan": "on",
        "server_header": False,
    }
    asyncio.run(_prepare(settings))
    if workers > 1:
        # Each process reads the same settings back from its environment.
        os.environ["ORCHESTRION_DATABASE_URL"] = settings.database_url.get_secret_value()
        os.environ["ORCHESTRION_RUN_WORKER"] = "1" if run_worker else "0"
        os.environ.setdefault("ORCHESTRION_SECRET_KEY", settings.resolve_secret_key())
        uvicorn.run("orchestrion.runtime:app_from_env", factory=True, workers=workers, **config_kwargs)  # type: ignore[arg-type]
        return 0
    app = Runtime.build(settings).app(run_worker=run_worker)
    print(f"Orchestrion listening on http://{settings.host}:{settings.port}", file=sys.stderr, flush=True)
    uvicorn.run(app, **config_kwargs)  # type: ignore[arg-type]
    return 0


async def _prepare(settings: Settings) -> None:
    from orchestrion.runtime import Runtime

    runtime = Runtime.build(settings)
    try:
        await runtime.ensure_dev_account()
    finally:
        await runtime.ctx.store.close()


async def _worker(settings: Settings, concurrency: int | None) -> int:
    from orchestrion.runtime import Runtime

    runtime = Runtime.build(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, runtime.request_stop)
    try:
        await runtime.run_worker(concurrency)
    finally:
        await runtime.ctx.store.close()
    return 0


async def _accounts(settings: Settings, args: argparse.Namespace) -> int:
    from orchestrion.runtime import Runtime
    from orchestrion.services import accounts

    runtime = Runtime.build(settings)
    try:
        if args.accounts_command == "create":
            creds = await accounts.create_account(runtime.ctx)
            out = {"accountSid": creds.sid, "authToken": creds.secret}
        else:
            creds = await accounts.create_api_key(runtime.ctx, args.account_sid)
            out = {"sid": creds.sid, "secret": creds.secret, "accountSid": creds.account_sid}
    finally:
        await runtime.ctx.store.close()
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
