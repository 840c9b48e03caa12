"""What a delivery folder holds: each file's extract, format, hash, encoding, delimiter and header.

Nothing here writes anything. Every problem found while planning (an unknown file, a missing
required column, an undetectable delimiter) is collected, and all of them are raised together
as one `ContractViolation`, so that one run tells the deliverer everything to fix.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from data_schemas.extracts import EXTRACTS, Extract, match_file_stem
from koord.errors import ContractViolation

MANIFEST_NAME = "manifest.toml"

# File name ending -> format. `.xpt` is SAS transport (the only SAS file that can be written
# without SAS itself, so it is also what the tests use for SAS).
FORMATS = {".csv": "csv", ".parquet": "parquet", ".sas7bdat": "sas7bdat", ".xpt": "xpt"}

# Delimiters the agencies use, in order of preference when a header is ambiguous.
DELIMITERS = (";", ",", "\t")

# Bytes 0x80-0x9F are control characters in ISO-8859-1 but letters and signs (€ – ’) in
# Windows-1252, which older Swedish systems export under the name "Latin-1". DuckDB's own
# latin-1 reader refuses them, so such files are transcoded to UTF-8 first.
C1_BYTES = bytes(range(0x80, 0xA0))
_NOT_C1 = bytes(b for b in range(256) if b not in C1_BYTES)
CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")

CHUNK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class FileOptions:
    """Per-file entries of `manifest.toml`: settings (None = detect) and declarations to check."""

    encoding: str | None = None
    delimiter: str | None = None
    extract: str | None = None  # must agree with the file name
    year: int | None = None  # must agree with the file name
    rows: int | None = None  # data rows, header excluded: must agree with what is read
    key: str | None = None  # the person key's column name (else [delivery] key, else the recognised names)


@dataclass(frozen=True)
class Manifest:
    """The delivery's `manifest.toml`, or what stands in for it when there is none."""

    name: str
    extraction_date: date | None
    files: dict[str, FileOptions]
    sha256: str | None  # of manifest.toml itself; None when absent
    key: str | None = None  # [delivery] key: the person key's column name in every file

    def key_for(self, file_name: str) -> str | None:
        """The person key's column name declared for this file (per file, else for the delivery)."""
        opts = self.files.get(file_name)
        return (opts.key if opts is not None and opts.key else None) or self.key


@dataclass(frozen=True)
class ByteScan:
    """One pass over a file's bytes: hash, size, UTF-8 validity and the line structure."""

    sha256: str
    size_bytes: int
    is_ascii: bool
    is_utf8: bool
    first_non_utf8_offset: int | None
    n_lines: int  # physical lines, the last one counted even without a final newline
    c1_bytes: frozenset[int] | None = None  # bytes 0x80-0x9F seen, for files that are not UTF-8 (None: not looked)


@dataclass(frozen=True)
class ColumnMatch:
    """How a file's delivered columns map onto its contract."""

    delivered: tuple[str, ...]  # column names in file order, exactly as delivered
    contract_of: tuple[str | None, ...]  # per delivered column: contract column name, or None (extra)



@dataclass(frozen=True)
class FilePlan:
    """Everything known about one delivery file before it is read."""

    path: Path
    extract: Extract
    year: int | None
    format: str
    scan: ByteScan
    columns: ColumnMatch
    encoding: str | None = None  # Python codec name ('utf-8', 'iso8859-1', 'cp1252', ...); CSV and SAS
    delimiter: str | None = None  # CSV only
    reader_encoding: str | None = None  # CSV: encoding DuckDB reads natively ('utf-8', 'latin-1'); None = transcode
    encoding_source: str = ""  # 'manifest.toml', 'detected' or 'file header' (SAS)
    notes: tuple[str, ...] = field(default=())  # remarks for people (e.g. a suspicious manifest entry)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def display_encoding(self) -> str | None:
        """Encoding as recorded in `raw._manifest` ('utf-8', 'latin-1', ...)."""
        if self.encoding is None:
            return None
        return {"iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(self.encoding, self.encoding)


def known_extracts_text() -> str:
    return ", ".join(f"{e.name}_<YYYY>" if e.yearly else e.name for e in EXTRACTS)


def read_manifest(delivery_dir: Path) -> Manifest:
    """Read `manifest.toml` ([delivery] name, extraction_date, key; [files."<name>"] encoding,
    delimiter, extract, year, rows, key). `key` names the person key's column (e.g.
    ``key = "P1105_LopNr_PersonNr"``); without it the names of `extracts.LOPNR` are recognised."""
    path = delivery_dir / MANIFEST_NAME
    if not path.exists():
        return Manifest(name=delivery_dir.resolve().name, extraction_date=None, files={}, sha256=None)
    raw = path.read_bytes()
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContractViolation(f"{MANIFEST_NAME}: not valid TOML ({exc})") from None
    delivery = doc.get("delivery", {})
    name = str(delivery.get("name") or doc.get("name") or delivery_dir.resolve().name)
    extraction = delivery.get("extraction_date", doc.get("extraction_date"))
    files: dict[str, FileOptions] = {}
    for file_name, opts in (doc.get("files") or {}).items():
        if not isinstance(opts, dict):
            raise ContractViolation(f"{MANIFEST_NAME}: [files.\"{file_name}\"] must be a table of encoding and delimiter")
        files[file_name] = FileOptions(
            encoding=_manifest_encoding(file_name, opts.get("encoding")),
            delimiter=_manifest_delimiter(file_name, opts.get("delimiter")),
            extract=opts.get("extract"),
            year=_manifest_int(file_name, "year", opts.get("year")),
            rows=_manifest_int(file_name, "rows", opts.get("rows")),
            key=_manifest_key(file_name, opts.get("key")),
        )
    return Manifest(name=name, extraction_date=_manifest_date(extraction), files=files,
                    sha256=hashlib.sha256(raw).hexdigest(), key=_manifest_key("[delivery]", delivery.get("key")))


def _manifest_key(where: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise ContractViolation(f"{MANIFEST_NAME}: key {value!r} of {where} is not a column name")
    return value.strip()


def _manifest_date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ContractViolation(
            f"{MANIFEST_NAME}: extraction_date {value!r} is not a date (expected YYYY-MM-DD)"
        ) from None


def _manifest_int(file_name: str, key: str, value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ContractViolation(f"{MANIFEST_NAME}: {key} {value!r} of {file_name} is not a whole number") from None


def manifest_disagreements(file_name: str, extract: Extract, year: int | None, options: FileOptions) -> list[str]:
    """Where the manifest's declared extract or year contradicts the file name."""
    problems = []
    if options.extract is not None and options.extract != extract.name:
        problems.append(f"{file_name}: {MANIFEST_NAME} declares extract '{options.extract}' but the file name says '{extract.name}'")
    if options.year is not None and extract.yearly and options.year != year:
        problems.append(f"{file_name}: {MANIFEST_NAME} declares year {options.year} but the file name says {year}")
    return problems


def _manifest_encoding(file_name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise ContractViolation(
            f"{MANIFEST_NAME}: encoding {value!r} of {file_name} is not an encoding Python knows "
            "(expected e.g. utf-8 or iso-8859-1)"
        ) from None


def _manifest_delimiter(file_name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    text = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}.get(text.lower(), text)
    if len(text) != 1:
        raise ContractViolation(
            f"{MANIFEST_NAME}: delimiter {value!r} of {file_name} is not a single character "
            "(expected ';', ',' or 'tab')"
        )
    return text


def list_data_files(delivery_dir: Path) -> list[tuple[Path, Extract, int | None, str]]:
    """Every data file of the delivery with its extract, year and format; all problems at once."""
    if not delivery_dir.is_dir():
        raise ContractViolation(f"delivery folder {delivery_dir} does not exist or is not a folder")
    problems: list[str] = []
    found: list[tuple[Path, Extract, int | None, str]] = []
    seen: dict[tuple[str, int | None], str] = {}
    for path in sorted(delivery_dir.iterdir()):
        if path.name.startswith(".") or path.name == MANIFEST_NAME:
            continue
        if path.is_dir():
            problems.append(f"{path.name}/: a folder inside the delivery; expected only data files and {MANIFEST_NAME}")
            continue
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            problems.append(
                f"{path.name}: not a delivery file (expected {', '.join(FORMATS)} named after an extract: "
                f"{known_extracts_text()})"
            )
            continue
        matched = match_file_stem(path.stem)
        if matched is None:
            problems.append(f"{path.name}: '{path.stem}' is not a known extract (known: {known_extracts_text()})")
            continue
        extract, year = matched
        key = (extract.name, year)
        if key in seen:
            problems.append(f"{path.name}: a second file for {extract.name}{f' {year}' if year else ''} (first: {seen[key]})")
            continue
        seen[key] = path.name
        found.append((path, extract, year, fmt))
    if problems:
        raise ContractViolation("the delivery cannot be loaded:\n  " + "\n  ".join(problems))
    if not found:
        raise ContractViolation(f"delivery folder {delivery_dir} holds no data files (expected files named after: {known_extracts_text()})")
    return found


def scan_bytes(path: Path, text: bool = True) -> ByteScan:
    """Hash the file and, for text files, check ASCII / UTF-8 and count its lines, in one pass."""
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8, bad_offset, is_ascii = text, None, text
    size = newlines = 0
    last_byte = b""
    c1: set[int] = set()
    decoded_non_ascii = False  # UTF-8 decoding starts at the first chunk that is not pure ASCII
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            sha.update(chunk)
            chunk_ascii = text and chunk.isascii()
            is_ascii = is_ascii and chunk_ascii
            if is_utf8 and (decoded_non_ascii or not chunk_ascii):
                try:
                    decoder.decode(chunk)
                    decoded_non_ascii = True
                except UnicodeDecodeError as exc:
                    is_utf8, bad_offset = False, size + exc.start
            if text and not is_utf8 and not chunk_ascii:
                c1.update(chunk.translate(None, _NOT_C1))
            size += len(chunk)
            if text:
                newlines += chunk.count(b"\n")
                last_byte = chunk[-1:]
    if is_utf8 and text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8, bad_offset = False, size - 1
    n_lines = newlines + (1 if text and size and last_byte != b"\n" else 0)
    c1_seen = None
    if text and not is_utf8:
        # Chunks before the one with the first invalid byte were not looked at: look again if
        # any of them held non-ASCII bytes (rare in a Latin-1 file).
        c1_seen = c1_bytes(path) if decoded_non_ascii else frozenset(c1)
    return ByteScan(sha.hexdigest(), size, is_ascii, is_utf8, bad_offset, n_lines, c1_seen)


def blank_lines(path: Path) -> tuple[int, ...]:
    """Physical line numbers (1 = first) of the empty lines of a text file.

    DuckDB's CSV reader skips empty lines, so a row's physical line is its record number plus
    the blank lines before it. Searched only when the records read fall short of the lines.
    """
    blank: list[int] = []
    newlines = 0
    tail = b""  # last bytes of the previous chunk, so a blank line across chunks is found
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            buf = tail + chunk
            blank.extend(_blank_lines_in(buf, len(tail), newlines - tail.count(b"\n")))
            newlines += chunk.count(b"\n")
            tail = buf[-2:]
    return tuple(sorted(set(blank)))


def c1_bytes(path: Path) -> frozenset[int]:
    """The byte values 0x80-0x9F present in the file (a second pass, only for files that are not UTF-8)."""
    found: set[int] = set()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            found.update(chunk.translate(None, _NOT_C1))
    return frozenset(found)


def _blank_lines_in(buf: bytes, tail_len: int, newlines_before_buf: int) -> list[int]:
    """Line numbers of the empty lines ('\\n' right after '\\n', or '\\r\\n' right after '\\n') in buf."""
    hits: list[int] = []
    for pattern in (b"\n\n", b"\n\r\n"):
        start = 0
        while (p := buf.find(pattern, start)) != -1:
            if p + len(pattern) > tail_len:  # not already found in the previous chunk
                hits.append(p)
            start = p + 1
    hits.sort()
    lines, counted_to, count = [], 0, newlines_before_buf
    for p in hits:
        count += buf.count(b"\n", counted_to, p + 1)
        counted_to = p + 1
        lines.append(count + 1)  # the blank line begins after the p-th newline
    return lines


def read_first_line(path: Path, encoding: str) -> str:
    """The header line of a CSV file, decoded, without BOM and line end."""
    with open(path, "rb") as fh:
        raw = fh.readline(1024 * 1024)
    text = raw.decode(encoding, errors="replace")
    return text.lstrip("\ufeff").rstrip("\r\n")


def detect_delimiter(header_line: str, extract: Extract) -> str | None:
    """The delimiter among ; , tab that splits the header into the most contract column names."""
    best, best_score = None, (0, 0)
    for delim in DELIMITERS:
        fields = split_header(header_line, delim) or []
        score = (sum(extract.column_delivered_as(f) is not None for f in fields), len(fields))
        if score > best_score:
            best, best_score = delim, score
    if best_score[1] <= 1:  # no candidate splits the header at all
        return None
    return best


def split_header(header_line: str, delimiter: str) -> list[str] | None:
    """The column names of a header line; None when it is not a line of delimited names at
    all (a stray carriage return or quote in binary garbage makes the csv module refuse it)."""
    try:
        return next(csv.reader([header_line], delimiter=delimiter), [])
    except csv.Error:
        return None


def match_columns(file_name: str, extract: Extract, delivered: list[str], year: int | None = None,
                  key_name: str | None = None) -> tuple[ColumnMatch | None, list[str]]:
    """Map delivered column names onto the contract (case-insensitive, any order, any accepted name).

    A column may come under its own name or an alias (`Column.aliases`, per year;
    `Column.alias_pattern`); `key_name` is the person key's name declared in manifest.toml.
    Returns the match and the problems found (missing required columns, duplicated names, two
    names of one concept, a look-alike name that holds something else).
    """
    problems: list[str] = []
    contract_of: list[str | None] = []
    seen: dict[str, str] = {}
    used: dict[str, str] = {}  # contract column -> the delivered name that stands for it
    for name in delivered:
        key = name.strip().lower()
        if key in seen:
            problems.append(f"{file_name}: column '{name.strip()}' appears twice (also as '{seen[key]}')")
        seen[key] = name.strip()
        col = extract.column_delivered_as(name, key_name)
        if col is not None and col.name in used and used[col.name].lower() != key:
            problems.append(
                f"{file_name}: columns '{used[col.name]}' and '{name.strip()}' both deliver {col.name} "
                f"({col.stg_name}); expected only one of {col.names_text()} (remove the other)")
            contract_of.append(None)
            continue
        if col is not None:
            used.setdefault(col.name, name.strip())
        contract_of.append(col.name if col is not None else None)
    expected = ", ".join(_expected_name(c) + ("" if c.required else " (optional)") for c in extract.columns)
    for col in extract.required_columns:
        if col.name in used:
            continue
        refused = [seen[r.lower()] for r in col.refused_names if r.lower() in seen]
        if refused:
            problems.append(
                f"{file_name}: column '{refused[0]}' holds {col.refused_reason}; expected {col.names_text()} "
                f"for {col.stg_name} (required column '{col.name}' is missing)")
        else:
            problems.append(f"{file_name}: required column '{col.name}' is missing (expected columns: {expected})")
    if key_name and not any(n.strip().lower() == key_name.strip().lower() for n in delivered) and extract.person_level:
        problems.append(f"{file_name}: {MANIFEST_NAME} names the key column '{key_name}', which the file does not have "
                        f"(its columns: {', '.join(n.strip() for n in delivered)})")
    match = ColumnMatch(tuple(delivered), tuple(contract_of))
    return (None if problems else match), problems


def _expected_name(col) -> str:
    """A contract column for the list of expected columns: its name, with its other names."""
    others = col.names_text()
    return col.name if others == f"'{col.name}'" else f"{col.name} (as {others})"


def column_years(match: ColumnMatch, extract: Extract, year: int | None) -> list[tuple[str, str, str | None]]:
    """(contract column, delivered name, remark) per delivered contract column; the remark says
    when a year-specific name is used outside its years."""
    out = []
    for delivered, contract in zip(match.delivered, match.contract_of):
        if contract is None:
            continue
        alias = extract.column(contract).alias(delivered)
        remark = None
        if alias is not None and year is not None and not alias.covers(year):
            remark = f"'{alias.name}' is the name used {alias.years_text()}, not in {year}"
        out.append((contract, delivered.strip(), remark))
    return out


def plan_csv(path: Path, extract: Extract, year: int | None, options: FileOptions,
             key_name: str | None = None) -> tuple[FilePlan | None, list[str]]:
    """Plan a CSV file: hash, encoding (manifest or detected), delimiter (manifest or detected), header."""
    scan = scan_bytes(path)
    notes: list[str] = []
    if scan.size_bytes == 0:
        return None, [f"{path.name}: the file is empty (expected at least a header line)"]
    if options.encoding:
        encoding, source = options.encoding, MANIFEST_NAME
        if encoding in ("utf-8", "utf-8-sig") and not scan.is_utf8:
            return None, [
                f"{path.name}: {MANIFEST_NAME} declares {encoding} but byte {scan.first_non_utf8_offset} is not valid "
                "UTF-8 (expected the encoding the manifest declares; is it ISO-8859-1?)"
            ]
        if encoding in ("iso8859-1", "cp1252") and not scan.is_ascii and scan.is_utf8:
            notes.append(f"{path.name}: declared {encoding} in {MANIFEST_NAME} but the bytes are valid UTF-8; read as declared")
    elif scan.is_utf8:
        encoding, source = "utf-8", "detected"
    else:
        # Not UTF-8: ISO-8859-1, or Windows-1252 when it uses 0x80-0x9F for its extra signs.
        c1 = scan.c1_bytes or frozenset()
        encoding = "cp1252" if c1 and not (c1 & CP1252_UNDEFINED) else "iso8859-1"
        source = "detected"
    reader_encoding = _duckdb_csv_encoding(encoding, path, scan)
    header_line = read_first_line(path, encoding)
    if not header_line.strip():
        return None, [f"{path.name}: the first line is empty (expected a header line naming the columns)"]
    delimiter = options.delimiter or detect_delimiter(header_line, extract)
    if delimiter is None:
        return None, [
            f"{path.name}: cannot tell the delimiter from the header line {header_line[:80]!r} "
            "(expected ';', ',' or tab between column names)"
        ]
    names = split_header(header_line, delimiter)
    if names is None:
        return None, [
            f"{path.name}: the header line {header_line[:80]!r} cannot be read as {delimiter!r}-separated column "
            "names (is the file damaged or not a CSV file?)"
        ]
    match, problems = match_columns(path.name, extract, names, year, key_name)
    if match is None:
        return None, problems
    return FilePlan(path, extract, year, "csv", scan, match, encoding, delimiter, reader_encoding, source,
                    tuple(notes)), []


def _duckdb_csv_encoding(encoding: str, path: Path, scan: ByteScan) -> str | None:
    """The name under which DuckDB reads this file itself, or None when it must be transcoded."""
    if encoding in ("utf-8", "utf-8-sig"):
        return "utf-8"
    if encoding == "iso8859-1":
        c1 = scan.c1_bytes if scan.c1_bytes is not None else c1_bytes(path)
        return None if c1 else "latin-1"
    return None


def plan_columnar(path: Path, extract: Extract, year: int | None, fmt: str, options: FileOptions,
                  delivered: list[str], encoding: str | None, key_name: str | None = None) -> tuple[FilePlan | None, list[str]]:
    """Plan a Parquet or SAS file from the column names its reader reports."""
    scan = scan_bytes(path, text=False)
    match, problems = match_columns(path.name, extract, delivered, year, key_name)
    if match is None:
        return None, problems
    enc = options.encoding or encoding
    source = MANIFEST_NAME if options.encoding else ("file header" if encoding else "")
    return FilePlan(path, extract, year, fmt, scan, match, enc, None, None, source), []
