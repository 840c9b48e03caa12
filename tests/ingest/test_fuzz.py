"""Damaged input never ends in a traceback, and the warehouse keeps its last good state.

A seeded mutation loop over a small delivery: random bytes in place of a file, a file cut
anywhere, stray carriage returns and quotes, a Latin-1 byte in a UTF-8 file, a huge field,
a shuffled or mangled header, an empty file, a header without rows. Each load either
succeeds (bad rows quarantined, rows in = loaded + quarantined, which the `load` fixture
checks) or stops with a `KoordError` whose message names the file; a refused load leaves the
warehouse byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import pytest

from koord.errors import KoordError

from .builder import MANIFEST, write_delivery

TARGET = "scb_migrationer.csv"  # a file of the builder's delivery


def _random_bytes(data: bytes, rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 100, 5000])))


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def _stray_cr(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(0, max(1, len(data)))
    return data[:i] + rng.choice([b"\r", b'"', b"\r\r", b'"\r']) + data[i:]


def _latin1_byte(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(0, max(1, len(data)))
    return data[:i] + b"\xe5\xe4\xf6" + data[i:]


def _huge_field(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    k = rng.randrange(1, max(2, len(lines)))
    if k < len(lines):
        lines[k] = lines[k] + b"x" * 300_000
    return b"\n".join(lines)


def _shuffled_header(data: bytes, rng: random.Random) -> bytes:
    header, _, rest = data.partition(b"\n")
    names = header.split(b";")
    rng.shuffle(names)
    return b";".join(names) + b"\n" + rest


def _mangled_header(data: bytes, rng: random.Random) -> bytes:
    header, _, rest = data.partition(b"\n")
    i = rng.randrange(0, max(1, len(header)))
    return header[:i] + rng.choice([b"\r", b"\x00", b'"', b";;", b"\xff"]) + header[i:] + b"\n" + rest


def _empty(data: bytes, rng: random.Random) -> bytes:
    return b""


def _header_only(data: bytes, rng: random.Random) -> bytes:
    return data.partition(b"\n")[0] + b"\n"


MUTATIONS = [_random_bytes, _truncate, _stray_cr, _latin1_byte, _huge_field, _shuffled_header, _mangled_header,
             _empty, _header_only]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_delivery(tmp_path_factory) -> Path:
    # no row counts in the manifest: damaged files are then loaded or refused on their own merits
    manifest = "\n".join(line for line in MANIFEST.splitlines() if not line.startswith("rows"))
    return write_delivery(tmp_path_factory.mktemp("good") / "d", n=20, manifest=manifest)


@pytest.mark.parametrize("seed", range(27))
def test_a_damaged_file_is_refused_with_its_name_or_quarantined_never_a_traceback(seed, good_delivery, tmp_path, load):
    rng = random.Random(seed)
    mutate = MUTATIONS[seed % len(MUTATIONS)]
    first = load(good_delivery)
    assert first.summary.status == "loaded"
    before = _digest(first.warehouse)

    damaged = tmp_path / "damaged"
    shutil.copytree(good_delivery, damaged)
    target = damaged / TARGET
    target.write_bytes(mutate(target.read_bytes(), rng))
    try:
        result = load(damaged, replace=True)
    except KoordError as error:
        assert TARGET in str(error) or "manifest" in str(error), f"{mutate.__name__}: {error}"
        assert _digest(first.warehouse) == before, "a refused load changed the warehouse"
        return
    assert result.summary.status in ("loaded", "unchanged")  # a mutation may leave the bytes as they were


def test_a_file_with_a_header_and_no_rows_loads_with_a_warning_that_names_it(good_delivery, tmp_path, load):
    damaged = tmp_path / "empty"
    shutil.copytree(good_delivery, damaged)
    (damaged / TARGET).write_bytes(_header_only((damaged / TARGET).read_bytes(), random.Random(0)))
    loaded = load(damaged)
    assert loaded.rows("select count(*) from raw.scb_migrationer") == [(0,)]
    [(kind, detail)] = loaded.rows("select kind, detail from raw._warnings where file = ?", [TARGET])
    assert kind == "empty_file" and TARGET in detail and "no data rows" in detail


def test_a_hole_in_a_yearly_series_is_a_warning_naming_the_years(tmp_path, load):
    from .builder import write_extract

    delivery = write_delivery(tmp_path / "d", n=5, manifest="\n".join(
        line for line in MANIFEST.splitlines() if not line.startswith("rows")))
    write_extract(delivery, "scb_lisa", n=5, year=2023)  # beside the builder's 2020 and 2021: 2022 is a hole
    loaded = load(delivery)
    found = loaded.rows("select kind, detail from raw._warnings where kind = 'missing_year'")
    assert len(found) == 1 and "2020-2023 without 2022" in found[0][1], found
