"""Response contract checker: validates API responses against the OpenAPI spec.

The spec is Twilio's published OpenAPI 3.0.1 document for Conversations v2. It is
reference data kept outside the repository (``../shared/reference``), so
``ContractChecker.load()`` returns ``None`` when it is absent and callers skip.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol, cast
from urllib.parse import urlsplit

from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft4Validator,
    FormatChecker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, Schema

REPO_ROOT: Final[Path] = Path(__file__).resolve().parents[1]
# ORCHESTRION_TEST_SPEC points elsewhere (the suite's own test of a missing document uses it).
_DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "reference" / "twilio_conversations_v2.json"
SPEC_PATH: Final[Path] = Path(os.environ.get("ORCHESTRION_TEST_SPEC") or _DEFAULT_SPEC)
SPEC_MISSING_REASON: Final[str] = (
    f"OpenAPI reference spec not found at {SPEC_PATH} "
    "(it lives outside the repository in ../shared/reference); "
    "response contract checks are skipped"
)

# Base URI under which the converted spec is registered, so that "#/components/..."
# references resolve against the spec and not against the response schema in hand.
_SPEC_URI: Final[str] = "urn:orchestrion:openapi:conversations-v2"
_HTTP_METHODS: Final[frozenset[str]] = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_TWILIO_TIMESTAMP: Final[re.Pattern[str]] = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_INT32: Final[tuple[int, int]] = (-(2**31), 2**31 - 1)
_INT64: Final[tuple[int, int]] = (-(2**63), 2**63 - 1)
_MAX_SHOWN_ERRORS: Final[int] = 10
_FORMAT_HINTS: Final[Mapping[str, str]] = {
    "date-time": "expected UTC to the second, exactly YYYY-MM-DDTHH:MM:SSZ",
    "uri": "expected an absolute URI with scheme and host",
    "int32": "out of 32-bit signed range",
    "int64": "out of 64-bit signed range",
}
_MAX_VALUE_REPR: Final[int] = 200


class _ValidationError(Protocol):
    message: str
    validator: str
    instance: object
    absolute_path: Sequence[str | int]
    absolute_schema_path: Sequence[str | int]
    relative_schema_path: Sequence[str | int]
    validator_value: object
    context: Sequence[_ValidationError]


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterable[_ValidationError]: ...


def twilio_error_schema(status: int) -> dict[str, Any]:
    """The error body every non-2xx response must have.

    The spec's error responses require none of these fields; we require all four,
    and ``status`` must echo the HTTP status (the spec describes it as such).
    """
    return {
        "type": "object",
        "required": ["code", "message", "more_info", "status"],
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "more_info": {"type": "string"},
            "status": {"type": "integer", "enum": [status]},
        },
    }


def _is_twilio_timestamp(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if _TWILIO_TIMESTAMP.fullmatch(instance) is None:
        return False
    try:
        datetime.fromisoformat(instance[:-1])
    except ValueError:
        return False
    return True


def _is_absolute_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if any(ch.isspace() for ch in instance):
        return False
    try:
        parts = urlsplit(instance)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc)


def _is_absolute_path_uri(instance: object) -> bool:
    """Twilio's 2010 API gives its own URIs as absolute paths (``/2010-04-01/...``), not full URLs."""
    if not isinstance(instance, str):
        return True
    return instance.startswith("/") and not any(ch.isspace() for ch in instance)


def _int_range_checker(bounds: tuple[int, int]) -> Any:
    low, high = bounds

    def check(instance: object) -> bool:
        if isinstance(instance, bool) or not isinstance(instance, int):
            return True
        return low <= instance <= high

    return check


def build_format_checker(*, path_uris: bool = False) -> Any:
    """A FormatChecker asserting only our own format rules.

    jsonschema's built-in date-time accepts offsets and fractional seconds, which
    our API never emits, and silently skips when optional dependencies are missing.
    ``path_uris``: a ``uri`` is an absolute path, as in Twilio's 2010 API.
    """
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_twilio_timestamp)
    checker.checks("uri")(_is_absolute_path_uri if path_uris else _is_absolute_uri)
    checker.checks("int32")(_int_range_checker(_INT32))
    checker.checks("int64")(_int_range_checker(_INT64))
    return checker


def _rewrite_ref(ref: str) -> str:
    if not ref.startswith("#/components/schemas/"):
        raise ValueError(f"unsupported $ref in a schema: {ref!r}")
    return _SPEC_URI + ref


def to_json_schema(node: object) -> Any:
    """Convert an OpenAPI 3.0 Schema Object to a Draft 4 JSON Schema.

    Walks the schema structurally (not every dict), because property *names* such
    as ``nullable`` or ``description`` must not be mistaken for keywords.
    """
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        # OpenAPI 3.0 ignores siblings of $ref (here: description/example).
        return {"$ref": _rewrite_ref(str(node["$ref"]))}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in (
            "nullable",
            "discriminator",
            "readOnly",
            "writeOnly",
            "example",
            "externalDocs",
            "xml",
            "deprecated",
        ) or key.startswith("x-"):
            # discriminator only narrows oneOf/anyOf, which validate on their own;
            # readOnly/writeOnly constrain requests, and no schema here is writeOnly.
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "oneOf", "anyOf") and isinstance(value, list):
            out[key] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    # OAS 3.0.3: nullable only widens an explicitly given `type`; other keywords
    # (e.g. an enum without null) keep rejecting null.
    if node.get("nullable") is True:
        declared = out.get("type")
        if isinstance(declared, str):
            out["type"] = [declared, "null"]
        elif isinstance(declared, list) and "null" not in declared:
            out["type"] = [*declared, "null"]
    return out


def _escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def json_pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + _escape_pointer_token(p) for p in parts)


def _short_repr(value: object) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        return text[: _MAX_VALUE_REPR - 3] + "..."
    return text


def _describe(error: _ValidationError, indent: str = "  ") -> str:
    where = json_pointer(error.absolute_path) or "(root)"
    schema_at = "/".join(str(p) for p in error.absolute_schema_path)
    hint = _FORMAT_HINTS.get(str(error.validator_value)) if error.validator == "format" else None
    line = (
        f"at {where}: keyword {error.validator!r} failed: {error.message}"
        f"{f' ({hint})' if hint else ''} "
        f"[value: {_short_repr(error.instance)}; schema path: {schema_at}]"
    )
    # For oneOf/anyOf, show why each alternative was rejected: jsonschema's own
    # "best match" often picks the branch the body was never meant to satisfy.
    branches: dict[str, list[_ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(str(sub.relative_schema_path[0]), []).append(sub)
    for branch, subs in branches.items():
        for sub in subs:
            line += f"\n{indent}    alternative {branch}: {_describe(sub, indent + '    ')}"
    return line


def _request_path(path: str) -> str:
    # Accept full URLs too; the contract is only about the path.
    parts = urlsplit(path)
    return parts.path or "/"


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    method: str
    template: str
    responses: Mapping[str, Any]


@dataclass(frozen=True)
class _Route:
    template: str
    # None marks a `{param}` segment.
    segments: tuple[str | None, ...]
    operations: Mapping[str, _Operation]

    def rank(self, segments: Sequence[str]) -> tuple[bool, ...] | None:
        """Literal-segment mask if `segments` matches, else None. Comparing masks
        lexicographically makes a literal beat a template at the first difference."""
        if len(segments) != len(self.segments):
            return None
        for want, got in zip(self.segments, segments, strict=True):
            if got == "" or (want is not None and want != got):
                return None
        return tuple(want is not None for want in self.segments)


@dataclass
class _Checked:
    statuses: dict[str, set[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ContractChecker:
    """Validates response bodies against the response schemas of an OpenAPI 3.0 spec."""

    def __init__(self, spec: Mapping[str, Any], *, path_uris: bool = False) -> None:
        self._spec = spec
        schemas = spec.get("components", {}).get("schemas", {})
        converted = {name: to_json_schema(s) for name, s in schemas.items()}
        resource: Resource[Schema] = DRAFT4.create_resource({"components": {"schemas": converted}})
        self._registry: Registry[Schema] = Registry().with_resource(_SPEC_URI, resource)
        self._format_checker = build_format_checker(path_uris=path_uris)
        self._routes = self._build_routes(spec)
        self._validators: dict[tuple[str, int], tuple[_Validator, str] | None] = {}
        self._checked = _Checked(
            statuses={op.operation_id: set() for route in self._routes for op in route.operations.values()}
        )

    @classmethod
    def from_file(cls, path: Path, *, path_uris: bool = False) -> ContractChecker:
        with path.open(encoding="utf-8") as fh:
            return cls(json.load(fh), path_uris=path_uris)

    @classmethod
    def load(cls, path: Path | None = None) -> ContractChecker | None:
        """The checker for the reference spec, or None if the spec file is absent."""
        spec_path = SPEC_PATH if path is None else path
        if not spec_path.is_file():
            return None
        return cls.from_file(spec_path)

    @staticmethod
    def _build_routes(spec: Mapping[str, Any]) -> list[_Route]:
        routes: list[_Route] = []
        for template, item in spec.get("paths", {}).items():
            operations: dict[str, _Operation] = {}
            for method, op in item.items():
                if method not in _HTTP_METHODS:
                    continue
                operations[method] = _Operation(
                    operation_id=str(op.get("operationId", f"{method.upper()} {template}")),
                    method=method,
                    template=template,
                    responses=op.get("responses", {}),
                )
            segments = tuple(
                None if seg.startswith("{") and seg.endswith("}") else seg for seg in template.strip("/").split("/")
            )
            routes.append(_Route(template, segments, operations))
        return routes

    def _route(self, path: str) -> _Route | None:
        segments = _request_path(path).strip("/").split("/")
        best: tuple[tuple[bool, ...], _Route] | None = None
        for route in self._routes:
            rank = route.rank(segments)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, route)
        return None if best is None else best[1]

    def _operation(self, method: str, path: str) -> _Operation | None:
        route = self._route(path)
        return None if route is None else route.operations.get(method.lower())

    def knows(self, method: str, path: str) -> bool:
        """Whether the spec defines an operation for this method and concrete path."""
        return self._operation(method, path) is not None

    def operation_id(self, method: str, path: str) -> str | None:
        op = self._operation(method, path)
        return None if op is None else op.operation_id

    def declared(self) -> dict[str, set[int]]:
        """Concrete status codes the spec lists per operationId."""
        return {
            op.operation_id: {int(s) for s in op.responses if s.isdigit()}
            for route in self._routes
            for op in route.operations.values()
        }

    def coverage(self) -> dict[str, set[int]]:
        """Statuses checked so far per operationId; empty set = never exercised."""
        with self._checked.lock:
            return {op: set(st) for op, st in self._checked.statuses.items()}

    def _resolve_response(self, obj: Mapping[str, Any], origin: str) -> tuple[Mapping[str, Any], str]:
        seen: set[str] = set()
        while "$ref" in obj:
            ref = str(obj["$ref"])
            if not ref.startswith("#/") or ref in seen:
                raise ValueError(f"unresolvable response $ref {ref!r} at {origin}")
            seen.add(ref)
            target: Any = self._spec
            for token in ref[2:].split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            obj, origin = target, ref
        return obj, origin

    def _response_schema(self, op: _Operation, status: int) -> tuple[Any, str] | None:
        """(JSON Schema, its origin) for a status; None if no body is declared."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in op.responses:
                template = _escape_pointer_token(op.template)
                origin = f"#/paths/{template}/{op.method}/responses/{key}"
                response, origin = self._resolve_response(op.responses[key], origin)
                content: Mapping[str, Any] = response.get("content") or {}
                media = content.get("application/json") or next((v for k, v in content.items() if "json" in k), None)
                if media is None or "schema" not in media:
                    return None
                schema = to_json_schema(media["schema"])
                if status >= 400:
                    schema = {"allOf": [schema, twilio_error_schema(status)]}
                return schema, origin
        return twilio_error_schema(status), "generic Twilio error, status not in spec"

    @staticmethod
    def _declares(op: _Operation, status: int) -> bool:
        return any(k in op.responses for k in (str(status), f"{status // 100}XX", "default"))

    def _validator(self, op: _Operation, status: int) -> tuple[_Validator, str] | None:
        key = (op.operation_id, status)
        if key not in self._validators:
            found = self._response_schema(op, status)
            if found is None:
                self._validators[key] = None
            else:
                schema, origin = found
                validator = Draft4Validator(schema, registry=self._registry, format_checker=self._format_checker)
                self._validators[key] = (cast("_Validator", validator), origin)
        return self._validators[key]

    def check(self, method: str, path: str, status: int, body: object) -> None:
        """Raise AssertionError if `body` breaks the spec's response contract.

        Paths outside the spec are our own additions and pass unchecked; so do
        successful answers to methods the spec lacks on a spec path. Errors on a
        spec path are always held to the Twilio error shape.
        """
        op = self._operation(method, path)
        if op is None:
            route = self._route(path)
            if route is None or status < 400:
                return
            op = _Operation(f"{method.upper()} {route.template}", method.lower(), route.template, {})
        else:
            with self._checked.lock:
                self._checked.statuses[op.operation_id].add(status)
        label = f"{method.upper()} {_request_path(path)} -> {status} ({op.operation_id})"
        if status < 400 and not self._declares(op, status):
            declared = ", ".join(sorted(op.responses))
            raise AssertionError(f"{label}: status not declared by the spec (declared: {declared})")
        found = self._validator(op, status)
        if found is None:
            if body not in (None, b"", ""):
                raise AssertionError(f"{label}: the spec declares no body, got {_short_repr(body)}")
            return
        validator, origin = found
        errors = sorted(
            validator.iter_errors(body),
            key=lambda e: (list(map(str, e.absolute_path)), e.validator),
        )
        if not errors:
            return
        shown = "\n".join(f"  - {_describe(e)}" for e in errors[:_MAX_SHOWN_ERRORS])
        more = len(errors) - _MAX_SHOWN_ERRORS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise AssertionError(
            f"{label}: response body violates the contract ({origin}), {len(errors)} error(s):\n{shown}{tail}"
        )
