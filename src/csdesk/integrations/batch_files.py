"""Refund batch files as finance teams make them: CSV (any Excel encoding), JSONL and XLSX.

`read_rows` streams a file's rows as `BatchRow` (valid) or `RowError` (the line number and what
was wrong): a bad row never stops the others, and no input produces a traceback. What it accepts:

* **CSV** in UTF-8 with or without a BOM (Excel's "CSV UTF-8"), GB18030/GBK (Excel's default
  "CSV" on Chinese Windows), or UTF-16 with a BOM (Excel's "Unicode text"): detected, or named with
  ``encoding=``; CRLF or LF. A line with bytes that are not valid in the file's encoding is a row
  error.
* **JSONL** (``.jsonl``, ``.ndjson``): one object per line; deeply nested or overlong lines are
  row errors.
* **XLSX** (``.xlsx``, ``.xlsm``, ``.xls``, ``.ods``) through python-calamine: the first sheet,
  the first row as the header.

Amounts are exact or refused: ``12.30`` (full-width digits are read as digits), never exponent
notation, thousands separators, more decimals than the currency has, negative, NaN or Infinity,
nor more than `MAX_AMOUNT`. A key used by two rows is an error on the second, naming the first.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import shutil
import sqlite3
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import CsdeskModel
from csdesk.errors import CsdeskError, InvalidInputError
from csdesk.money import Money, currency_digits
from csdesk.policies.refunds import RefundReason

__all__ = [
    "COLUMNS",
    "ENCODINGS",
    "MAX_AMOUNT",
    "MAX_LINE",
    "SUFFIXES",
    "BatchRow",
    "KeyRegister",
    "RowError",
    "detect_encoding",
    "file_digest",
    "parse_amount",
    "read_rows",
]

COLUMNS = ("order_id", "lines", "amount", "currency", "reason", "key", "note")
"""The columns a batch file may have (``order_id`` and ``reason`` are required)."""

SUFFIXES = (".csv", ".jsonl", ".ndjson", ".xlsx", ".xlsm", ".xls", ".ods")
"""The file types `read_rows` reads."""

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16")
"""The text encodings a CSV or JSONL batch may be in (``--encoding``); detected when not given."""

MAX_AMOUNT = Decimal("1000000000000")
"""The largest amount a row may refund (10¹², any currency): more is a typo, not a refund."""

MAX_LINE = 64 * 1024
"""The longest line (in characters) a CSV or JSONL batch may have."""

_AMOUNT = re.compile(r"\d{1,13}(\.\d{1,8})?")


class BatchRow(CsdeskModel):
    """One valid row of a refund batch.

    Attributes:
        line: The row's line number in the file (1 is the first line; a header is line 1).
        order_id: The order to refund.
        lines: Units per line id to refund (quoted with the refund policy)…
        amount: …or an amount to refund without goods coming back (goodwill, price errors).
        reason: Why (`csdesk.policies.refunds.RefundReason`).
        key: The idempotency key.
    """

    # Rows are many and their strings unique: pydantic-core's string cache would only fill up.
    model_config = ConfigDict(frozen=True, extra="forbid", cache_strings=False)

    line: int = Field(ge=1)
    order_id: str = Field(min_length=1, max_length=128)
    lines: dict[str, int] = Field(default_factory=dict)
    amount: Money | None = None
    reason: RefundReason
    key: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _lines_or_amount(self) -> BatchRow:
        if bool(self.lines) == (self.amount is not None):
            raise ValueError("give either lines or amount, not both and not neither")
        if any(units <= 0 for units in self.lines.values()):
            raise ValueError("units per line must be positive")
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("amount must be positive")
        return self


@dataclass(frozen=True)
class RowError:
    """A row that did not validate: its line number and what was wrong."""

    line: int
    message: str


@checked
def file_digest(path: str | Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines, read in one streaming pass."""
    digest = hashlib.sha256()
    lines = 0
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                lines += chunk.count(b"\n")
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"cannot read {str(path)[:200]!r}: {error}") from None
    return digest.hexdigest(), lines


@checked
def detect_encoding(head: bytes) -> str:
    r"""The encoding of a text batch from its first bytes: a BOM, else UTF-8, else GB18030.

    Bytes that are neither valid UTF-8 nor valid GB18030 leave it at UTF-8: the lines that hold
    them become row errors, and the rest of the file is read.

    Examples:
        >>> detect_encoding("order_id,reason\\n".encode("utf-8-sig"))
        'utf-8-sig'
        >>> detect_encoding("order_id,note\\nSO-1,退款\\n".encode("gbk"))
        'gb18030'
        >>> detect_encoding("order_id,note\\nSO-1,退款\\n".encode("utf-8"))
        'utf-8'
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(head, "utf-8"):
        return "utf-8"
    if _decodes(head, "gb18030"):
        return "gb18030"  # a superset of GBK: what Excel writes on Chinese Windows
    return "utf-8"


def _decodes(head: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(head, final=False)  # a character cut at the sample's end is fine
    except UnicodeDecodeError:
        return False
    return True


class KeyRegister:
    """Which line first used each idempotency key, kept on disk so memory stays flat.

    Raises:
        InvalidInputError: from `claim`, when another line used the key first.
    """

    def __init__(self) -> None:
        self._folder: str | None = None
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        self._folder = tempfile.mkdtemp(prefix="csdesk-keys-")
        db = sqlite3.connect(Path(self._folder) / "keys.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        db.execute("BEGIN")  # one transaction for the whole file: a scratch table, never kept
        return db

    def claim(self, key: str, line: int) -> None:
        """Record that ``line`` uses ``key``; refuse a key another line used."""
        if self._db is None:  # made on the first key: most files give none
            self._db = self._open()
        added = self._db.execute(
            "INSERT OR IGNORE INTO keys (key, line) VALUES (?, ?)", (key, line)
        )
        if added.rowcount == 1:
            return
        (first,) = self._db.execute("SELECT line FROM keys WHERE key = ?", (key,)).fetchone()
        if first != line:
            raise InvalidInputError(
                f"key {key[:60]!r} is also used by line {first}: each row needs its own key "
                "(the same key would refund only once)"
            )

    def close(self) -> None:
        """Delete the register."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _units(text: str) -> dict[str, int]:
    """``"1:2;3:1"`` → ``{"1": 2, "3": 1}``."""
    found: dict[str, int] = {}
    text = unicodedata.normalize("NFKC", text)
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        line_id, sep, units = part.partition(":")
        units = units.strip()
        if not sep or not units.isascii() or not units.isdigit() or len(units) > 6:
            raise InvalidInputError(f"lines: {part[:40]!r} is not line:units (e.g. 1:2;3:1)")
        found[line_id.strip()] = found.get(line_id.strip(), 0) + int(units)
    return found


@checked
def parse_amount(value: Any, currency: str) -> Money:
    """A row's amount, exactly as written, or an `InvalidInputError` that says what is allowed.

    Examples:
        >>> parse_amount("１２.３０", "CNY")
        Money('12.30', 'CNY')
        >>> parse_amount("5.555", "CNY")
        Traceback (most recent call last):
        ...
        csdesk.errors.InvalidInputError: amount '5.555' has 3 decimal places; CNY has 2
    """
    if isinstance(value, (bool, float)):
        raise InvalidInputError(
            f"amount {value!r} is a JSON number with a fraction; write it as a string"
        )
    text = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        digits = currency_digits(currency)
    except CsdeskError:
        raise InvalidInputError(f"currency {currency[:12]!r} is not an ISO 4217 code") from None
    if not _AMOUNT.fullmatch(text):
        raise InvalidInputError(_amount_problem(text))
    amount = Decimal(text)
    places = len(text.partition(".")[2])
    if places > digits:
        raise InvalidInputError(
            f"amount {text!r} has {places} decimal places; {currency} has {digits}"
        )
    if amount > MAX_AMOUNT:
        raise InvalidInputError(f"amount {text!r} is more than {MAX_AMOUNT:,} {currency}")
    return Money(amount, currency)


def _amount_problem(text: str) -> str:
    shown = repr(text[:30])
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        number = None
    if number is not None and not number.is_finite():
        return f"amount {shown} is not a number"
    if "e" in text.lower() and number is not None:
        return f"amount {shown} is in exponent notation; write the digits (e.g. 10.00)"
    if "," in text or " " in text or "'" in text:
        return f"amount {shown} has separators; write it without them (e.g. 1234.50)"
    if text.startswith("-"):
        return f"amount {shown} is negative; a refund amount is positive"
    if text.isdigit() or re.fullmatch(r"\d+\.\d+", text):
        return f"amount {shown} is more than {MAX_AMOUNT:,}"
    return f"amount {shown} is not a number like 12.30"


def _row(line: int, data: Mapping[str, Any], namespace: str, currency: str | None) -> BatchRow:
    unknown = set(data) - set(COLUMNS)
    if unknown:
        raise InvalidInputError(
            f"unknown column(s) {', '.join(sorted(str(u)[:40] for u in unknown))}; the columns "
            "are order_id, lines, amount, currency, reason, key (and note)"
        )
    lines: Any = data.get("lines") or {}
    if isinstance(lines, str):
        lines = _units(lines)
    amount: Any = data.get("amount")
    if amount in ("", None):
        amount = None
    elif isinstance(amount, Mapping):
        amount = parse_amount(amount.get("amount"), str(amount.get("currency") or ""))
    else:
        money_currency = str(data.get("currency") or currency or "").strip().upper()
        if not money_currency:
            raise InvalidInputError("amount needs a currency column (or --currency)")
        amount = parse_amount(amount, money_currency)
    key = data.get("key") or f"{namespace}:{line}"
    return BatchRow(
        line=line,
        order_id=str(data.get("order_id") or "").strip(),
        lines=lines,
        amount=amount,
        reason=str(data.get("reason") or "").strip(),
        key=str(key).strip(),
    )


def _parse(
    line: int, data: Mapping[str, Any], namespace: str, currency: str | None
) -> BatchRow | RowError:
    try:
        return _row(line, data, namespace, currency)
    except CsdeskError as error:
        return RowError(line, str(error).removeprefix("invalid BatchRow: "))


@checked
def read_rows(
    path: str | Path,
    *,
    namespace: str,
    currency: str | None = None,
    encoding: str | None = None,
) -> Iterator[BatchRow | RowError]:
    """Stream a batch file's rows as `BatchRow` or `RowError`.

    Columns (CSV and XLSX header, JSONL keys): ``order_id, lines, amount, currency, reason, key``
    (``lines`` as ``1:2;3:1``, or ``{"1": 2}`` in JSONL; a JSONL ``amount`` as ``"12.30"`` with
    ``currency``, or ``{"amount": "12.30", "currency": "CNY"}``). Blank lines are skipped. A row
    whose key another row used is a `RowError` naming that row.

    Raises:
        InvalidInputError: the file cannot be read at all (missing, another type, an unknown
            ``encoding``, a header without ``order_id`` or ``reason``, a duplicated column).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(
            f"{str(path)[:200]}: use a .csv, .jsonl or .xlsx file (got {suffix or 'no suffix'!r})"
        )
    if encoding is not None and codecs.lookup(encoding).name not in {
        codecs.lookup(e).name for e in ENCODINGS
    }:
        raise InvalidInputError(f"encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    keys = KeyRegister()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
            records = _sheet_records(Path(path))
        else:
            records = _text_records(Path(path), suffix, encoding)
        for line, record in records:
            if isinstance(record, RowError):
                yield record
                continue
            row = _parse(line, record, namespace, currency)
            if isinstance(row, BatchRow) and record.get("key"):  # default keys are unique
                try:
                    keys.claim(row.key, row.line)
                except InvalidInputError as error:
                    row = RowError(line, str(error))
            yield row
    finally:
        keys.close()


def _open(path: Path) -> Any:
    try:
        return open(path, "rb")
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"cannot read {str(path)[:200]!r}: {error}") from None


def _text_records(
    path: Path, suffix: str, encoding: str | None
) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    with _open(path) as raw:
        chosen = encoding or detect_encoding(raw.read(64 * 1024))
        raw.seek(0)
        # Bytes that are not valid in the encoding become lone surrogates: that row's error.
        text = io.TextIOWrapper(raw, encoding=chosen, errors="surrogateescape", newline="")
        try:
            if suffix == ".csv":
                yield from _csv_records(text, path, chosen)
            else:
                yield from _jsonl_records(text, chosen)
        except UnicodeError as error:  # UTF-16 with an odd byte count, and the like
            raise InvalidInputError(f"{str(path)[:200]} is not {chosen} text: {error}") from None


def _bad_text(values: Any) -> bool:
    return any(isinstance(v, str) and any("\udc80" <= c <= "\udcff" for c in v) for v in values)


def _bounded(lines: Iterator[str]) -> Iterator[str]:
    for text in lines:
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE]  # the csv module then reports the row; JSON fails to parse
        yield text


def _header(names: list[str], path: Path) -> list[str]:
    cleaned = [unicodedata.normalize("NFKC", n).strip().lower().lstrip("\ufeff") for n in names]
    twice = sorted({n for n in cleaned if n and cleaned.count(n) > 1})
    if twice:
        raise InvalidInputError(f"{str(path)[:200]}: the header repeats {', '.join(twice)}")
    missing = {"order_id", "reason"} - set(cleaned)
    if missing:
        found = ", ".join(n[:30] for n in cleaned if n) or "nothing"
        raise InvalidInputError(
            f"{str(path)[:200]}: the header lacks {', '.join(sorted(missing))} (found: {found})"
        )
    return cleaned


def _csv_records(
    text: io.TextIOWrapper, path: Path, encoding: str
) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    reader = csv.reader(_bounded(iter(text)))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InvalidInputError(f"{str(path)[:200]}: the header is not CSV: {error}") from None
    if header is None or not any(h.strip() for h in header):
        raise InvalidInputError(f"{str(path)[:200]}: the file is empty (no header)")
    if _bad_text(header):
        raise InvalidInputError(f"{str(path)[:200]}: the header is not {encoding} text")
    names = _header(header, path)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, RowError(reader.line_num, f"not CSV: {error}")
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if _bad_text(values):
            yield line, RowError(line, f"bytes that are not {encoding} text (use --encoding)")
        elif len(values) > len(names):
            yield line, RowError(line, "more fields than the header has")
        else:
            yield line, {n: v.strip() for n, v in zip(names, values, strict=False) if n}


def _jsonl_records(
    text: io.TextIOWrapper, encoding: str
) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    for line, content in enumerate(text, start=1):
        if not content.strip():
            continue
        if len(content) > MAX_LINE:
            yield line, RowError(line, f"longer than {MAX_LINE:,} characters")
            continue
        if _bad_text([content]):
            yield line, RowError(line, f"bytes that are not {encoding} text (use --encoding)")
            continue
        try:
            data = json.loads(content, parse_float=_no_float, parse_constant=_no_constant)
        except json.JSONDecodeError as error:
            yield line, RowError(line, f"not JSON: {error.msg}")
            continue
        except RecursionError:
            yield line, RowError(line, "not JSON csdesk reads: nested too deeply")
            continue
        except InvalidInputError as error:
            yield line, RowError(line, str(error))
            continue
        if not isinstance(data, dict):
            yield line, RowError(line, "each line must be a JSON object")
            continue
        yield line, data


def _no_float(text: str) -> Any:
    raise InvalidInputError(
        f"the number {text[:30]} has a fraction or exponent; write amounts as strings"
    )


def _no_constant(text: str) -> Any:
    raise InvalidInputError(f"{text} is not a number")


def _sheet_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - the cli extra installs it
        raise InvalidInputError(
            "reading .xlsx needs python-calamine: pip install 'csdesk[cli]'"
        ) from None
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        rows = iter(sheet.iter_rows())
        header = next(rows, None)
    except Exception as error:
        raise InvalidInputError(
            f"{str(path)[:200]} is not a workbook csdesk can read: {error}"
        ) from None
    if header is None or not any(str(h).strip() for h in header):
        raise InvalidInputError(f"{str(path)[:200]}: the first sheet is empty (no header)")
    names = _header([str(h) for h in header], path)
    for line, values in enumerate(rows, start=2):
        cells = [_cell(v) for v in values]
        if not any(cells):
            continue
        if len([c for c in cells[len(names) :] if c]) > 0:
            yield line, RowError(line, "more cells than the header has")
            continue
        yield line, {n: c for n, c in zip(names, cells, strict=False) if n}


def _cell(value: Any) -> str:
    """A cell as the text a person sees: whole numbers without ``.0``; fractions refused later."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # A float cell (12.3 typed as a number) is exact only as its shortest repr.
        return repr(value)
    return str(value).strip()
