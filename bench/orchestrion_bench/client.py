"""The load generator's HTTP clients: a raw HTTP/1.1 keep-alive connection, and httpx to cross-check it."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import socket
import sys
from typing import ClassVar, Protocol

import httpx

if importlib.util.find_spec("sniffio") is None:
    # httpcore retries `import sniffio` on every request when it is missing, a
    # full sys.path scan each time (~0.3 ms); a None entry makes it fail fast.
    sys.modules["sniffio"] = None  # type: ignore[assignment]

# (method, path, body) or (method, path, body, extra header lines); the extra
# lines, when given, replace the default JSON Content-Type.
Request = tuple[str, str, bytes | None] | tuple[str, str, bytes | None, bytes]

# What a request may raise that counts as an error of the target, not of the bench.
NETWORK_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, httpx.HTTPError)


def basic_auth(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


class Client(Protocol):
    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]: ...


_JSON_CT = b"Content-Type: application/json\r\n"


class RawConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    Far cheaper per request than httpx, which matters when the client shares
    two cores with the server (an asyncio.Protocol version measured no cheaper).
    Understands Content-Length and chunked bodies; reconnects lazily after an
    error or ``Connection: close``. One request in flight at a time.
    """

    def __init__(self, host: str, port: int, auth_header: bytes) -> None:
        self._host = host
        self._port = port
        self._tail = b" HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\nAccept: application/json\r\n" % (
            host.encode(),
            port,
            auth_header,
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]:
        """``headers``: extra raw header lines (each ending in CRLF), sent instead of the JSON Content-Type."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = self._reader, self._writer
        assert reader is not None
        if body is None:
            writer.write(b"%s %s%s\r\n" % (method.encode(), path.encode(), self._tail))
        else:
            writer.write(
                b"%s %s%s%sContent-Length: %d\r\n\r\n%s"
                % (method.encode(), path.encode(), self._tail, headers or _JSON_CT, len(body), body)
            )
        try:
            status, data, close = await self._read_response(reader)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, data

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        close = b"\r\nconnection: close" in lower
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            n = int(head[i + 17 : lower.index(b"\r\n", i + 2)])
            data = await reader.readexactly(n) if n else b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            parts: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                parts.append((await reader.readexactly(size + 2))[:-2])
            data = b"".join(parts)
        elif status in (204, 304) or status < 200:
            data = b""
        else:
            data = await reader.read()
            close = True
        return status, data, close

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class HttpxClient:
    """Adapter so the same worker code can drive a shared httpx.AsyncClient."""

    _JSON: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]:
        if body is None:
            r = await self._client.request(method, path)
        else:
            extra = self._JSON
            if headers:
                lines = headers.decode().strip().split("\r\n")
                extra = dict(tuple(x.strip() for x in line.split(":", 1)) for line in lines)  # type: ignore[misc]
            r = await self._client.request(method, path, content=body, headers=extra)
        return r.status_code, r.content


class ClientPool:
    """``size`` keep-alive connections; worker i uses ``clients[i]``."""

    def __init__(self, kind: str, host: str, port: int, auth_header: bytes, size: int) -> None:
        self._raw: list[RawConnection] = []
        self._httpx: httpx.AsyncClient | None = None
        self.clients: list[Client]
        if kind == "raw":
            self._raw = [RawConnection(host, port, auth_header) for _ in range(size)]
            self.clients = list(self._raw)
        else:
            self._httpx = httpx.AsyncClient(
                base_url=f"http://{host}:{port}",
                headers={
                    "Authorization": auth_header.decode(),
                    "Accept": "application/json",
                },
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx.Timeout(30.0),
                trust_env=False,
            )
            self.clients = [HttpxClient(self._httpx)] * size

    async def aclose(self) -> None:
        for c in self._raw:
            c.close()
        if self._httpx is not None:
            await self._httpx.aclose()
