"""``orchestrion serve | worker | migrate | accounts ...``: the entry point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn

from orchestrion import cli_jobs, cli_providers, collection, logs
from orchestrion.domain.errors import OrchestrionError
from orchestrion.settings import Settings, SettingsError

# How long an idle keep-alive connection stays open. Longer than clients keep theirs
# (httpx reuses a connection idle for up to 5 s, uvicorn's own default): with equal
# timeouts a client may send a request on a connection the server is closing at that
# moment, and the request is lost with a reset (issue 9, bug 2). nginx's default.
KEEP_ALIVE_S = 75


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orchestrion", description="A self-hosted Conversations API v2 server")
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
    cli_jobs.add_parser(sub)
    cli_providers.add_parser(sub)
    return parser


class UsageError(Exception):
    """The command line or the settings are wrong: exit status 2."""


class CommandFailed(Exception):
    """The command could not do its work; the message says why, on one line: exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see orchestrion --help)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; any error is one line on stderr: exit status 2 for usage, 1 for failures."""
    try:
        return _main(argv)
    except UsageError as error:
        print(f"orchestrion: {error}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"orchestrion: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the last resort of the entry point: one line, no traceback
        print(f"orchestrion: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    """What went wrong, on one line (a driver's message may span several: its first line says it)."""
    if isinstance(error, OrchestrionError):
        return error.message
    if isinstance(error, CommandFailed):
        return str(error)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    url = getattr(args, "database_url_sub", None) or args.database_url
    settings = Settings.from_env().with_overrides(database_url=url)
    settings.check_test_clock()  # again: --database-url may have changed the database
    logs.configure(settings.log_level, settings.log_format)

    from orchestrion.store.migrate import upgrade

    try:
        upgrade(settings.database_url.get_secret_value())
    except Exception as error:
        raise CommandFailed(f"cannot migrate the database {settings.database_url}: {_one_line(error)}") from error

    if args.command == "migrate":
        print("database is up to date", file=sys.stderr)
        return 0
    if args.command == "serve":
        run_worker = settings.run_worker and not args.no_worker
        return _serve(settings.with_overrides(host=args.host, port=args.port), args.workers, run_worker)
    if args.command == "worker":
        settings = settings.with_overrides(worker_concurrency=args.concurrency)
        return asyncio.run(_worker(settings))
    if args.command == "jobs":
        return asyncio.run(cli_jobs.run(settings, args))
    if args.command == "providers":
        return asyncio.run(cli_providers.run(settings, args))
    return asyncio.run(_accounts(settings, args))


def startup_lines(settings: Settings, *, worker: bool) -> list[str]:
    """What a person starting the server should know: where the data is, the key, the dispatcher."""
    key = "from ORCHESTRION_SECRET_KEY" if settings.secret_key is not None else f"file {settings.secret_key_file}"
    base = settings.worker_concurrency
    slots = (
        f"sends {settings.worker_concurrency_sends or base}, webhooks {settings.worker_concurrency_webhooks or base}, "
        f"timers {settings.worker_concurrency_timers or base} jobs at once"
    )
    dispatcher = slots if worker else "off (run `orchestrion worker`)"
    return [f"  database:   {settings.database_url}", f"  secret key: {key}", f"  dispatcher: {dispatcher}"]


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts; a port in use is a one-line error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise CommandFailed(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise CommandFailed(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.set_inheritable(True)
    return sock


def _serve(settings: Settings, workers: int, run_worker: bool) -> int:
    import uvicorn

    from orchestrion.runtime import Runtime
    from orchestrion.telemetry.prometheus import multiprocess_directory

    config_kwargs = {
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "lifespan": "on",
        "server_header": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
    sock = _bind(settings.host, settings.port)
    try:
        asyncio.run(_prepare(settings))
        bound = sock.getsockname()
        print(f"Orchestrion listening on http://{settings.host}:{bound[1]}", file=sys.stderr, flush=True)
        print("\n".join(startup_lines(settings, worker=run_worker)), file=sys.stderr, flush=True)
        if workers > 1:
            # Each process reads the same settings back from its environment, and serves the bound socket.
            os.environ["ORCHESTRION_DATABASE_URL"] = settings.database_url.get_secret_value()
            os.environ["ORCHESTRION_RUN_WORKER"] = "1" if run_worker else "0"
            os.environ.setdefault("ORCHESTRION_SECRET_KEY", settings.resolve_secret_key())
            config = uvicorn.Config("orchestrion.runtime:app_from_env", factory=True, workers=workers, **config_kwargs)  # type: ignore[arg-type]
            from uvicorn.supervisors import Multiprocess

            with contextlib.ExitStack() as run:
                if settings.metrics:
                    # Set before the workers start: prometheus-client reads it when first imported.
                    os.environ["PROMETHEUS_MULTIPROC_DIR"] = run.enter_context(
                        multiprocess_directory(settings.metrics_multiprocess_dir)
                    )
                Multiprocess(config, sockets=[sock]).run()
            return 0
        app = Runtime.build(settings, runs_dispatcher=run_worker).app(run_worker=run_worker)
        collection.for_serving()
        uvicorn.Server(uvicorn.Config(app, **config_kwargs)).run(sockets=[sock])  # type: ignore[arg-type]
    finally:
        sock.close()
    return 0


async def _prepare(settings: Settings) -> None:
    from orchestrion.runtime import Runtime

    runtime = Runtime.build(settings, serves_api=False, runs_dispatcher=False)
    try:
        await runtime.ensure_dev_account()
    finally:
        await runtime.ctx.store.close()


async def _worker(settings: Settings) -> int:
    from orchestrion.runtime import Runtime

    runtime = Runtime.build(settings, serves_api=False, runs_dispatcher=True)
    collection.for_serving()
    print("Orchestrion dispatcher running", file=sys.stderr, flush=True)
    print("\n".join(startup_lines(settings, worker=True)), file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, runtime.request_stop)
    try:
        await runtime.run_worker()
    finally:
        await runtime.ctx.store.close()
        runtime.ctx.tracer.shutdown()
    return 0


async def _accounts(settings: Settings, args: argparse.Namespace) -> int:
    from orchestrion.runtime import Runtime
    from orchestrion.services import accounts

    runtime = Runtime.build(settings, serves_api=False, runs_dispatcher=False)
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
