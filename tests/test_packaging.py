"""The installed distribution: where the package is imported from, py.typed, entry points.

These hold for an editable install as well as for the wheel. ``.ci/test-installed``
runs the suite against an installed wheel with ``ASYNC_COMPOSITIONS_EXPECT_WHEEL=1``,
which makes an editable install, or an import from a source tree, fail here.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

import async_compositions
import async_compositions.cli

DISTRIBUTION = metadata.distribution("async-compositions")
PACKAGE_DIR = Path(async_compositions.__file__).resolve().parent
EXPECT_WHEEL = os.environ.get("ASYNC_COMPOSITIONS_EXPECT_WHEEL") == "1"


def direct_url() -> dict[str, object]:
    text = DISTRIBUTION.read_text("direct_url.json")
    return json.loads(text) if text else {}


def is_editable() -> bool:
    dir_info = direct_url().get("dir_info")
    return isinstance(dir_info, dict) and dir_info.get("editable") is True


def test_package_is_imported_from_where_it_was_installed() -> None:
    if EXPECT_WHEEL:
        assert not is_editable(), direct_url()
    if is_editable():
        url = direct_url()["url"]
        assert isinstance(url, str)
        project = Path(unquote(urlparse(url).path)).resolve()
        assert project / "async_compositions" == PACKAGE_DIR
    else:
        site_dirs = {Path(sysconfig.get_path(name)).resolve() for name in ("purelib", "platlib")}
        assert PACKAGE_DIR.parent in site_dirs
        # The files the installer recorded are the ones being imported.
        recorded = Path(str(DISTRIBUTION.locate_file("async_compositions/__init__.py")))
        assert recorded.resolve() == PACKAGE_DIR / "__init__.py"


def test_version_matches_the_distribution() -> None:
    assert async_compositions.__version__ == DISTRIBUTION.version


def test_py_typed_marker_ships_next_to_the_package() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    if not is_editable():
        files = {str(path) for path in DISTRIBUTION.files or ()}
        assert "async_compositions/py.typed" in files


def test_metadata_declares_typing_and_supported_pythons() -> None:
    meta = DISTRIBUTION.metadata
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT"
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_console_script_entry_point_runs() -> None:
    (entry,) = metadata.entry_points(group="console_scripts", name="async-compositions")
    assert entry.value == "async_compositions.cli:main"
    assert entry.load() is async_compositions.cli.main

    script = shutil.which("async-compositions", path=sysconfig.get_path("scripts"))
    assert script is not None, "the installer wrote no async-compositions script"
    result = subprocess.run(
        [script, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: async-compositions")
    assert result.stderr == ""


def test_pytest_plugin_is_loaded_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    (entry,) = metadata.entry_points(group="pytest11", name="async_compositions_emulator")
    assert entry.value == "async_compositions.emulator._pytest_plugin"
    module = entry.load()
    assert module is sys.modules["async_compositions.emulator._pytest_plugin"]
    assert pytestconfig.pluginmanager.get_plugin("async_compositions_emulator") is module
    assert callable(module.emulator)
