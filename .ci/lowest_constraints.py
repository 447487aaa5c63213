"""Print pip constraints pinning every runtime dependency to its declared lower bound.

Runtime dependencies are ``project.dependencies`` and every optional extra except the
tool sets below; their ``>=`` bounds become ``==`` pins. Tools stay at their newest
releases, so a failure under these pins is about the library's own lower bounds. A pin
that cannot be installed together with the others is itself a finding: it means a bound
is lower than anything that can really be installed.

Usage: python .ci/lowest_constraints.py [pyproject.toml] > constraints.txt
       python .ci/lowest_constraints.py --check [pyproject.toml]
The second form, run by the environment's Python, prints what is installed and fails
unless every pin was honoured.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

# Extras that only feed the project's own tooling, not users of the library.
TOOL_EXTRAS = frozenset({"test", "bench", "docs"})

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<specs>[^;]*?)\s*(?:;\s*(?P<marker>.+?))?\s*$"
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bound(requirement: str) -> tuple[str, str, str | None]:
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise SystemExit(f"cannot parse requirement {requirement!r}")
    bounds = [
        spec.strip()[2:].strip()
        for spec in match["specs"].split(",")
        if spec.strip().startswith(">=")
    ]
    if len(bounds) != 1:
        raise SystemExit(f"{requirement!r}: a runtime dependency needs exactly one '>=' bound")
    return normalize(match["name"]), bounds[0], match["marker"]


def constraints(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra, extra_requirements in project.get("optional-dependencies", {}).items():
        if extra not in TOOL_EXTRAS:
            requirements.extend(extra_requirements)
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, version, marker = lower_bound(requirement)
        line = f"{name}=={version}" + (f"; {marker}" if marker else "")
        if pins.setdefault(name, line) != line:
            raise SystemExit(f"{name}: extras declare different lower bounds")
    return [pins[name] for name in sorted(pins)]


def release(version: str) -> tuple[int, ...]:
    """The release numbers, so that 42 and 42.0.0 compare equal (as == treats them)."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def check(pins: list[str]) -> int:
    wrong = 0
    for pin in pins:
        if ";" in pin:
            print(f"  {pin}: has a marker, not checked here")
            continue
        name, wanted = pin.split("==")
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        ok = installed != "missing" and release(installed) == release(wanted)
        wrong += not ok
        print(f"  {name:<14} {installed:<12} {'lowest' if ok else f'expected {wanted}'}")
    return 1 if wrong else 0


def main() -> None:
    args = sys.argv[1:]
    checking = args[:1] == ["--check"]
    if checking:
        args = args[1:]
    path = Path(args[0] if args else "pyproject.toml")
    pins = constraints(path)
    if checking:
        print("runtime dependencies at their declared lower bounds:")
        sys.exit(check(pins))
    print("\n".join(pins))


if __name__ == "__main__":
    main()
