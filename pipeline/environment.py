"""The installed environment against the lock file: ``python -m pipeline.environment LOCK``.

`make setup` runs it after installing, so a `.venv` that differs from ``requirements.lock``
(a package missing, another version, one the lock does not name) stops the set-up with the
list of differences instead of running tests in an environment nobody tested. pip, the
installer, and koord itself are not in the lock and are not compared.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

NOT_LOCKED = frozenset({"pip", "koord"})
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a pip-compile lock file."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line[0] in "# \t-":
            continue
        m = _PIN.match(line)
        if m is None:
            raise ValueError(f"{path}, line {number}: expected 'name==version', found {line.strip()!r}")
        pins[normalise(m.group(1))] = m.group(2)
    return pins


def installed() -> dict[str, str]:
    """``name -> version`` of the distributions importable by this interpreter."""
    return {normalise(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def differences(locked: dict[str, str], present: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not the locked one, sorted by name."""
    out = []
    for name in sorted((set(locked) | set(present)) - NOT_LOCKED):
        want, have = locked.get(name), present.get(name)
        if want is None:
            out.append(f"{name} {have} is installed but not in the lock file")
        elif have is None:
            out.append(f"{name}=={want} is locked but not installed")
        elif have != want:
            out.append(f"{name} {have} is installed, the lock file says {want}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    lock = Path(args[0] if args else "requirements.lock")
    if not lock.is_file():
        print(f"environment check: lock file {lock} not found", file=sys.stderr)
        return 2
    found = differences(read_lock(lock), installed())
    if found:
        print(f"environment check: the environment of {sys.executable} differs from {lock}:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        print("Remove .venv and run `make setup` again.", file=sys.stderr)
        return 1
    print(f"environment check: {len(read_lock(lock))} packages, exactly as in {lock}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
