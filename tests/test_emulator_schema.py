"""The emulator's wire format, checked against the providers' own OpenAPI schemas.

The schemas are copied unmodified into tests/fixtures/. A small checker written here
(types, required keys, enums, nullable, $ref, patterns, ranges, formats) validates every
JSON body the emulator answers with, in every lifecycle state, including errors and webhooks.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from async_compositions.emulator import Emulator

FIXTURES = Path(__file__).parent / "fixtures"
TWILIO_DOC = json.loads((FIXTURES / "openapi_twilio_composition.json").read_text())
TELNYX_DOC = json.loads((FIXTURES / "openapi_telnyx.json").read_text())
ROOM = "RM" + "a" * 32
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class SchemaError(AssertionError):
    """A value does not match its schema."""


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    name = None
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema, name = node, ref.rsplit("/", 1)[1]
    return schema, name


def _type_ok(kind: str, value: object) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    raise AssertionError(f"schema type {kind!r} not supported by this checker")


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date-time":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return parsed.tzinfo is not None
    if fmt == "date":
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    if fmt == "uuid":
        return _UUID.fullmatch(value) is not None
    if fmt == "uri":
        parts = urllib.parse.urlsplit(value)
        return bool(parts.scheme and parts.netloc)
    return True  # formats such as "http-method" or "uri-map" are checked by enum/type


def validate(
    doc: dict[str, Any],
    schema: dict[str, Any],
    value: object,
    where: str = "$",
    *,
    closed: bool = True,
    extra_enum: tuple[str, ...] = (),
) -> None:
    """Raise SchemaError unless ``value`` matches ``schema`` (``closed``: no unknown keys)."""
    schema, name = _resolve(doc, schema)
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind is not None and not _type_ok(kind, value):
        raise SchemaError(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
    if "enum" in schema and value not in (*schema["enum"], *extra_enum):
        raise SchemaError(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{where}: {value!r} does not match {schema['pattern']}")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9):
            raise SchemaError(f"{where}: length of {value!r} out of range")
        # VideoRegion.video_sources items say "uuid", yet the same schema documents "*".
        # A schema's own default is valid even when it is no URI (failover URL default "").
        exempt = (value == "*" and ".video_sources[" in where) or value == schema.get("default")
        if "format" in schema and not exempt and not _format_ok(schema["format"], value):
            raise SchemaError(f"{where}: {value!r} is not a {schema['format']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(
                doc, schema["items"], item, f"{where}[{i}]", closed=closed, extra_enum=extra_enum
            )
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaError(f"{where}: missing required key {key!r}")
        nullable_names = TELNYX_DOC["x-nullable"].get(name or "", []) if doc is TELNYX_DOC else []
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key)
            if sub is None:
                if isinstance(extra, dict):
                    validate(doc, extra, item, f"{where}.{key}", closed=closed)
                elif closed and props and extra is not True:
                    raise SchemaError(f"{where}: key {key!r} is not in the schema")
                continue
            if item is None:
                resolved, _ = _resolve(doc, sub)
                if resolved.get("nullable") or sub.get("nullable") or key in nullable_names:
                    continue
                raise SchemaError(f"{where}.{key}: null is not allowed")
            validate(doc, sub, item, f"{where}.{key}", closed=closed, extra_enum=extra_enum)


def twilio_item(value: object) -> None:
    """A Twilio composition body."""
    validate(TWILIO_DOC, TWILIO_DOC["composition_response"], value)


def twilio_list(value: object) -> None:
    """A Twilio list page body."""
    validate(TWILIO_DOC, TWILIO_DOC["list_response"], value)


def telnyx(schema_key: str, value: object, *, extra_enum: tuple[str, ...] = ()) -> None:
    """A Telnyx body against one of the fixture's response schemas."""
    validate(TELNYX_DOC, TELNYX_DOC[schema_key], value, extra_enum=extra_enum)


def twilio_error(body: object, status: int) -> None:
    """Twilio's error JSON: {code, message, more_info, status} (no schema in the spec)."""
    assert isinstance(body, dict)
    assert set(body) == {"code", "message", "more_info", "status"}
    assert isinstance(body["code"], int) and not isinstance(body["code"], bool)
    assert isinstance(body["message"], str) and body["message"]
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    assert body["status"] == status


def telnyx_error(body: object) -> None:
    """Telnyx's ``video_Errors`` envelope, each error a ``video_Error`` (code, title)."""
    telnyx("error_response", body)
    assert isinstance(body, dict) and body["errors"]


# -- the checker itself -------------------------------------------------------------------


def test_checker_accepts_the_official_examples() -> None:
    example = TWILIO_DOC["examples"]["readResults"]
    twilio_list(example)
    twilio_item(example["compositions"][0])
    twilio_item(TWILIO_DOC["examples"]["fetch"])
    twilio_item(TWILIO_DOC["examples"]["create"])
    telnyx(
        "item_response", {"data": TELNYX_DOC["components"]["schemas"]["RoomComposition"]["example"]}
    )
    event = TELNYX_DOC["components"]["schemas"]["CompositionCompleted"]["example"]
    telnyx("webhook", {"data": event})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "archived"}, "not in"),
        ({"size": "4"}, "expected integer"),
        ({"sid": "CJ123"}, "does not match"),
        ({"format": None}, "null is not allowed"),
        ({"bitrate": True}, "expected integer"),
        ({"date_created": "yesterday"}, "is not a date-time"),
        ({"unexpected": 1}, "is not in the schema"),
    ],
)
def test_checker_rejects_twilio_mistakes(change: dict[str, Any], message: str) -> None:
    example = dict(TWILIO_DOC["examples"]["fetch"])
    example.update(change)
    with pytest.raises(SchemaError, match=message):
        twilio_item(example)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "failed"}, "not in"),
        ({"size_mb": "6"}, "expected number"),
        ({"id": "not-a-uuid"}, "is not a uuid"),
        ({"resolution": None}, "null is not allowed"),
        ({"video_layout": {"a": {"z_pos": 100}}}, "> 99"),
    ],
)
def test_checker_rejects_telnyx_mistakes(change: dict[str, Any], message: str) -> None:
    example = dict(TELNYX_DOC["components"]["schemas"]["RoomComposition"]["example"])
    example.update(change)
    with pytest.raises(SchemaError, match=message):
        telnyx("item_response", {"data": example})


def test_checker_requires_error_code_and_title() -> None:
    with pytest.raises(SchemaError, match="missing required key 'title'"):
        telnyx_error({"errors": [{"code": "10005"}]})


# -- the emulator's bodies ----------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=7, manual=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _json(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, allow_redirects=False, **kwargs) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_every_twilio_body_matches_the_spec(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": _basic(emu.twilio_account_sid, emu.twilio_auth_token)}
    base = emu.twilio_base_url
    emu.mark_failing("RM" + "f" * 32)
    form = {
        "RoomSid": ROOM,
        "AudioSources": "*",
        "VideoLayout": json.dumps({"grid": {"video_sources": ["*"], "x_pos": 10}}),
        # Callbacks go to the emulator itself (a 404): only the bodies matter here.
        "StatusCallback": f"{emu.url}/sink",
    }
    status, created = await _json(http, "POST", f"{base}/Compositions", data=form, headers=auth)
    assert status == 201
    twilio_item(created)
    failing = {**form, "RoomSid": "RM" + "f" * 32}
    status, doomed = await _json(http, "POST", f"{base}/Compositions", data=failing, headers=auth)
    twilio_item(doomed)
    seen: set[str] = set()
    for _ in range(3):  # enqueued, processing, then completed / failed
        for sid in (created["sid"], doomed["sid"]):
            status, body = await _json(http, "GET", f"{base}/Compositions/{sid}", headers=auth)
            assert status == 200
            twilio_item(body)
            seen.add(body["status"])
        await emu.advance()
    status, media = await _json(
        http, "GET", f"{base}/Compositions/{created['sid']}/Media", headers=auth
    )
    assert status == 302 and set(media) == {"redirect_to"} and isinstance(media["redirect_to"], str)
    async with http.delete(f"{base}/Compositions/{created['sid']}", headers=auth) as response:
        assert response.status == 204
    status, body = await _json(http, "GET", f"{base}/Compositions/{created['sid']}", headers=auth)
    twilio_item(body)
    seen.add(body["status"])
    assert seen == {"enqueued", "processing", "completed", "failed", "deleted"}
    emu.seed_twilio(5)
    for query in ("PageSize=2", "Status=deleted", f"RoomSid={ROOM}&PageSize=1"):
        url = f"{base}/Compositions?{query}"
        while url:
            status, page = await _json(http, "GET", url, headers=auth)
            assert status == 200
            twilio_list(page)
            url = page["meta"]["next_page_url"]
    for method, path, kwargs, expected in [
        ("GET", "/Compositions", {}, 401),
        ("GET", f"/Compositions/CJ{'0' * 32}", {"headers": auth}, 404),
        ("POST", "/Compositions", {"headers": auth, "data": {"RoomSid": "bad"}}, 400),
        ("GET", "/Compositions?PageSize=101", {"headers": auth}, 400),
        ("GET", f"/Compositions/{doomed['sid']}/Media", {"headers": auth}, 404),
        ("PUT", "/Compositions", {"headers": auth}, 405),
    ]:
        status, body = await _json(http, method, f"{base}{path}", **kwargs)
        assert status == expected
        twilio_error(body, expected)


async def test_every_telnyx_body_matches_the_spec(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    auth = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    base = emu.telnyx_base_url
    failing_session = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
    emu.mark_failing(failing_session)
    body = {
        "session_id": SESSION,
        "resolution": "800x600",
        "video_layout": {"first": {"video_sources": ["*"], "width": 480, "height": 360}},
        "webhook_event_url": f"{emu.url}/sink",
        "webhook_timeout_secs": 25,
    }
    status, created = await _json(
        http, "POST", f"{base}/room_compositions", json=body, headers=auth
    )
    assert status == 202
    telnyx("create_response", created)
    status, doomed = await _json(
        http,
        "POST",
        f"{base}/room_compositions",
        json={"session_id": failing_session},
        headers=auth,
    )
    telnyx("create_response", doomed)
    seen: set[str] = set()
    for _ in range(3):
        for item in (created, doomed):
            url = f"{base}/room_compositions/{item['data']['id']}"
            status, fetched = await _json(http, "GET", url, headers=auth)
            assert status == 200
            # "failed" is the emulator's answer to a failing session; Telnyx documents no
            # failure status, so it is the one value allowed beyond the spec's enum.
            telnyx("item_response", fetched, extra_enum=("failed",))
            seen.add(fetched["data"]["status"])
        await emu.advance()
    assert seen == {"enqueued", "processing", "completed", "failed"}
    emu.seed_telnyx(5)
    for query in ("page[size]=2", "filter[status]=completed&page[size]=1&page[number]=2"):
        status, page = await _json(http, "GET", f"{base}/room_compositions?{query}", headers=auth)
        assert status == 200
        telnyx("list_response", page, extra_enum=("failed",))
        validate(TELNYX_DOC, {"$ref": "#/components/schemas/PaginationMeta"}, page["meta"])
    for method, path, kwargs, expected in [
        ("GET", "/room_compositions", {}, 401),
        ("GET", f"/room_compositions/{SESSION}", {"headers": auth}, 404),
        ("POST", "/room_compositions", {"headers": auth, "json": {"resolution": "1x1"}}, 422),
        ("GET", "/room_compositions?page[size]=251", {"headers": auth}, 400),
        ("PATCH", "/room_compositions", {"headers": auth}, 405),
    ]:
        status, error = await _json(http, method, f"{base}{path}", **kwargs)
        assert status == expected
        telnyx_error(error)


async def _receiver(
    received: list[tuple[str, dict[str, str], bytes]],
) -> tuple[web.AppRunner, str]:
    async def hook(request: web.Request) -> web.Response:
        received.append((request.path_qs, dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def test_webhook_bodies_match_the_spec(emu: Emulator) -> None:
    received: list[tuple[str, dict[str, str], bytes]] = []
    runner, url = await _receiver(received)
    try:
        async with emu.telnyx_client() as client:
            await client.compositions.create(session_id=SESSION, webhook_event_url=f"{url}/t")
        async with emu.twilio_client() as client:
            await client.compositions.create(
                room_sid=ROOM, audio_sources=["*"], status_callback=f"{url}/tw"
            )
        await emu.finish()
    finally:
        await runner.cleanup()
    telnyx_bodies = [json.loads(body) for path, _, body in received if path == "/t"]
    assert len(telnyx_bodies) == 1
    telnyx("webhook", telnyx_bodies[0])
    forms = [dict(urllib.parse.parse_qsl(b.decode())) for p, _, b in received if p == "/tw"]
    events = [form["StatusCallbackEvent"] for form in forms]
    assert events == ["composition-started", "composition-progress", "composition-available"]
    common = {"AccountSid", "RoomSid", "StatusCallbackEvent", "Timestamp", "CompositionSid"}
    for form in forms:
        assert common | {"CompositionUri"} <= set(form)
        assert datetime.fromisoformat(form["Timestamp"].replace("Z", "+00:00")).tzinfo
    assert {"MediaUri", "Duration", "Size"} <= set(forms[2])
    assert {"PercentageDone", "SecondsRemaining"} <= set(forms[1])


async def test_schema_checks_are_not_vacuous(emu: Emulator) -> None:
    """The checker sees real keys: the emulator's composition has every schema property."""
    async with emu.twilio_client() as client:
        created = await client.compositions.create(room_sid=ROOM, audio_sources=["*"])
    body = emu.composition(created.sid)
    assert set(body) == set(
        TWILIO_DOC["components"]["schemas"]["video.v1.composition"]["properties"]
    )
    emu.seed_telnyx(1)
    telnyx_id = next(iter(emu.store.telnyx))
    props = TELNYX_DOC["components"]["schemas"]["RoomComposition"]["properties"]
    assert set(emu.composition(telnyx_id)) == set(props)
