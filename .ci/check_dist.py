"""Check dist/: what the wheel and the sdist hold, and that the sdist builds the same wheel.

Usage: python .ci/check_dist.py DIST_DIR   (run from the project root, with `build`)
"""

from __future__ import annotations

import email.parser
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "async_compositions"
ENTRY_POINTS = {
    "console_scripts": "async-compositions = async_compositions.cli:main",
    "pytest11": "async_compositions_emulator = async_compositions.emulator._pytest_plugin",
}
# Top-level paths the sdist must carry whenever the tree has them.
SDIST_PATHS = (
    PACKAGE,
    "tests",
    "benchmarks",
    "examples",
    "docs",
    "mkdocs.yml",
    "README.md",
    "CHANGELOG.md",
    "Makefile",
    "pyproject.toml",
)

problems: list[str] = []


def expect(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def tree_files(root: Path, top: str) -> set[str]:
    """Files under root/top that a build should ship: those git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", top],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 0:
        return {name for name in listed.stdout.splitlines() if (root / name).is_file()}
    # Not a git checkout: everything but caches and bytecode.
    path = root / top
    if path.is_file():
        return {top}
    return {
        file.relative_to(root).as_posix()
        for file in path.rglob("*")
        if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc"
    }


def wheel_digests(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if not name.endswith(".dist-info/RECORD")
        }


def check_wheel(wheel: Path, root: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(name.split("/")[0] for name in names if ".dist-info/" in name)
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    package = {name for name in names if not name.startswith(info + "/")}
    expect(f"{PACKAGE}/py.typed" in package, "wheel: no py.typed")
    wanted = {name for name in tree_files(root, PACKAGE) if name.endswith((".py", "py.typed"))}
    expect(not wanted - package, f"wheel lacks {sorted(wanted - package)}")
    expect(not package - wanted, f"wheel has extra files {sorted(package - wanted)}")
    for group, line in ENTRY_POINTS.items():
        section = entry_points.split(f"[{group}]", 1)[-1].split("[", 1)[0]
        expect(line in section.splitlines(), f"wheel: no [{group}] {line!r}")
    expect(metadata["License-Expression"] == "MIT", "wheel: License-Expression is not MIT")
    classifiers = metadata.get_all("Classifier") or []
    expect(
        not [c for c in classifiers if c.startswith("License ::")],
        "wheel: a License classifier next to License-Expression (PyPI refuses both)",
    )
    expect(metadata["Requires-Python"] == ">=3.11", "wheel: Requires-Python is not >=3.11")


def check_sdist(sdist: Path, root: Path) -> str:
    with tarfile.open(sdist) as archive:
        names = {member.name for member in archive.getmembers() if member.isfile()}
    prefix = min(names, key=len).split("/")[0]
    shipped = {name.removeprefix(prefix + "/") for name in names}
    for top in SDIST_PATHS:
        if (root / top).exists():
            missing = tree_files(root, top) - shipped
            expect(not missing, f"sdist lacks {sorted(missing)[:10]}")
        else:
            print(f"  ({top} not in the tree, so not expected in the sdist)")
    expect("PKG-INFO" in shipped, "sdist: no PKG-INFO")
    return prefix


def wheel_from_sdist(sdist: Path, prefix: str, scratch: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(scratch / "src", filter="data")
    out = scratch / "out"
    command = [sys.executable, "-m", "build", "--installer", "uv", "--wheel"]
    built = subprocess.run(
        [*command, "--outdir", str(out), str(scratch / "src" / prefix)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"no wheel from the sdist alone:\n{built.stdout}{built.stderr}")
    (wheel,) = out.glob("*.whl")
    return wheel


def main() -> None:
    dist = Path(sys.argv[1])
    root = Path.cwd()
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    check_wheel(wheel, root)
    prefix = check_sdist(sdist, root)
    with tempfile.TemporaryDirectory() as scratch:
        rebuilt = wheel_from_sdist(sdist, prefix, Path(scratch))
        expect(rebuilt.name == wheel.name, f"sdist builds {rebuilt.name}, not {wheel.name}")
        ours, theirs = wheel_digests(wheel), wheel_digests(rebuilt)
        differ = sorted(
            name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)
        )
        expect(not differ, f"the wheel built from the sdist differs in {differ}")
    if problems:
        print("dist check failed:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"dist ok: {wheel.name} ({len(ours)} files, the same when built from the sdist)")
    print(f"         {sdist.name}")


if __name__ == "__main__":
    main()
