"""Shared test fixtures."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import aioresponses.core
import pytest
from s3_server import MotoServer, dummy_aws_env

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client


# -- Event loop: `pytest --event-loop=uvloop` runs every asyncio test and fixture on uvloop --

EVENT_LOOPS = ("asyncio", "uvloop")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loop",
        choices=EVENT_LOOPS,
        default="asyncio",
        help="event loop for asyncio tests and fixtures (default: asyncio)",
    )


class _UvloopFactories:
    """pytest-asyncio's loop-factory hook, registered only when uvloop is asked for.

    With one factory pytest-asyncio keeps test ids unchanged; returning nothing is not
    allowed once the hook is implemented, hence a plugin object instead of a conftest hook.
    """

    def __init__(self, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._factory = factory

    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
        return {"uvloop": self._factory}


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("event_loop") != "uvloop":
        return
    try:
        import uvloop
    except ImportError as exc:
        raise pytest.UsageError(f"--event-loop=uvloop needs uvloop installed: {exc}") from exc
    if not hasattr(config.hook, "pytest_asyncio_loop_factories"):
        raise pytest.UsageError("--event-loop=uvloop needs pytest-asyncio >= 1.4")
    config.pluginmanager.register(_UvloopFactories(uvloop.new_event_loop), "uvloop-factories")


def pytest_report_header(config: pytest.Config) -> str:
    if config.getoption("event_loop") == "uvloop":
        import uvloop

        return f"event loop: uvloop {uvloop.__version__}"
    return "event loop: asyncio"


class _SentStreamWriter:
    """Stands in for the request writer of a response whose request was 'already sent'."""

    output_size = 0


class _CompatClientResponse(aiohttp.ClientResponse):
    """ClientResponse accepting the constructor aioresponses 0.7.9 calls.

    aiohttp 3.14 added a required ``stream_writer`` argument that aioresponses does not
    pass (pnuckowski/aioresponses#289). Remove this shim once a fixed aioresponses ships.
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentStreamWriter())
        super().__init__(method, url, **kwargs)


def _aioresponses_needs_shim() -> bool:
    params = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    source = inspect.getsource(aioresponses.core.RequestMatch._build_response)
    return "stream_writer" in params and "stream_writer" not in source


@pytest.fixture(autouse=True, scope="session")
def _aioresponses_aiohttp314_compat() -> Iterator[None]:
    """Let aioresponses build responses on aiohttp >= 3.14 (see _CompatClientResponse)."""
    if not _aioresponses_needs_shim():
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aioresponses.core, "ClientResponse", _CompatClientResponse)
        yield


# -- S3: moto's server on 127.0.0.1, started on first use ---------------------------------


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "server.log")
    yield server.url
    server.stop()


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials only; no profile, config file, role or metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in dummy_aws_env(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def admin(moto_url: str, aws_environment: None) -> AsyncIterator[S3Client]:
    """A plain aiobotocore client, to set up and inspect what the store did."""
    from aiobotocore.session import AioSession

    async with AioSession().create_client("s3", endpoint_url=moto_url) as client:
        yield client


@pytest.fixture
async def bucket(admin: S3Client) -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    await admin.create_bucket(Bucket=name)
    yield name
    uploads = await admin.list_multipart_uploads(Bucket=name)
    for upload in uploads.get("Uploads", []):
        await admin.abort_multipart_upload(
            Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    listed = await admin.list_objects_v2(Bucket=name)
    for obj in listed.get("Contents", []):
        await admin.delete_object(Bucket=name, Key=obj["Key"])
    await admin.delete_bucket(Bucket=name)
