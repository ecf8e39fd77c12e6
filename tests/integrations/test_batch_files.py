"""Hostile batch files: encodings, amounts, keys, headers and JSONL, on CSV, JSONL and XLSX.

Each case is a defect issue 16 measured: a traceback, a row taken wrongly, or a crash mid-run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from csdesk.errors import InvalidInputError
from csdesk.integrations.batch_files import BatchRow, RowError, read_rows

FORMATS = ["csv", "jsonl", "xlsx"]
HEADER = ["order_id", "lines", "amount", "currency", "reason", "key"]


def write(folder: Path, kind: str, rows: list[dict[str, Any]], *, name: str = "batch") -> Path:
    """The rows as a file of ``kind``: CSV (UTF-8), JSONL, or an Excel workbook."""
    path = folder / f"{name}.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif kind == "csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            writer.writerows([r.get(c, "") for c in HEADER] for r in rows)
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(HEADER)
        for r in rows:
            sheet.append([r.get(c) for c in HEADER])
        book.save(path)
    return path


def parsed(path: Path, **options: Any) -> list[BatchRow | RowError]:
    return list(read_rows(path, namespace="ns", **options))


def amount_row(amount: Any, currency: str = "CNY") -> dict[str, Any]:
    return {"order_id": "SO-1", "amount": amount, "currency": currency, "reason": "goodwill"}


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("5.555", "3 decimal places; CNY has 2"),
        ("1e1", "exponent notation"),
        ("1e30", "exponent notation"),
        ("1,234.50", "separators"),
        ("-5.00", "negative"),
        ("NaN", "not a number"),
        ("Infinity", "not a number"),
        ("99999999999999", "more than 1,000,000,000,000"),
        ("twelve", "not a number like 12.30"),
    ],
)
def test_amounts_that_are_not_exact_are_row_errors(
    tmp_path: Path, kind: str, amount: str, problem: str
) -> None:
    rows = parsed(write(tmp_path, kind, [amount_row(amount), amount_row("1.00")]))
    assert isinstance(rows[0], RowError)
    assert problem in rows[0].message
    assert isinstance(rows[1], BatchRow)  # the bad row stops nothing


@pytest.mark.parametrize("kind", FORMATS)
def test_full_width_digits_and_an_unknown_currency(tmp_path: Path, kind: str) -> None:
    rows = parsed(write(tmp_path, kind, [amount_row("１２.３０"), amount_row("1.00", "XYZ")]))
    assert isinstance(rows[0], BatchRow)
    assert rows[0].amount is not None
    assert str(rows[0].amount.amount) == "12.30"
    assert isinstance(rows[1], RowError)
    assert "not an ISO 4217 code" in rows[1].message


def test_an_xlsx_number_cell_is_read_as_shown(tmp_path: Path) -> None:
    rows = parsed(write(tmp_path, "xlsx", [amount_row(12.3), amount_row(5.555), amount_row(7)]))
    assert [type(r).__name__ for r in rows] == ["BatchRow", "RowError", "BatchRow"]
    assert isinstance(rows[0], BatchRow)
    assert rows[0].amount is not None
    assert str(rows[0].amount.amount) == "12.3"


@pytest.mark.parametrize("kind", FORMATS)
def test_a_duplicate_key_is_an_error_on_the_second_row_naming_the_first(
    tmp_path: Path, kind: str
) -> None:
    rows = parsed(
        write(
            tmp_path,
            kind,
            [{**amount_row("1.00"), "key": "k1"}, {**amount_row("2.00"), "key": "k1"}],
        )
    )
    assert isinstance(rows[0], BatchRow)
    assert isinstance(rows[1], RowError)
    first = 1 if kind == "jsonl" else 2  # a CSV's or sheet's first row is its header
    assert f"also used by line {first}" in rows[1].message


CSV = "order_id,lines,amount,currency,reason,key,note\r\nSO-1,,1.00,CNY,goodwill,,退款 张三\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_excel_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(CSV.encode(encoding))
    (row,) = parsed(path)
    assert isinstance(row, BatchRow), row
    assert row.order_id == "SO-1"


def test_an_encoding_can_be_named_and_a_bad_line_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    good = b"SO-2,,1.00,CNY,goodwill,,ok\n"
    path.write_bytes(CSV.encode() + b"SO-3,,1.00,CNY,goodwill,,\xff\xfe bad\n" + good)
    rows = parsed(path)
    assert [type(r).__name__ for r in rows] == ["BatchRow", "RowError", "BatchRow"]
    assert isinstance(rows[1], RowError)
    assert "not utf-8 text" in rows[1].message
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(CSV.encode("gbk"))
    assert isinstance(parsed(gbk, encoding="gbk")[0], BatchRow)
    with pytest.raises(InvalidInputError, match="encoding 'latin-1'"):
        parsed(gbk, encoding="latin-1")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ("order_id,amount\nSO-1,1.00\n", "lacks reason"),
        ("order_id,reason,reason\nSO-1,goodwill,goodwill\n", "repeats reason"),
    ],
)
def test_unusable_headers_are_file_errors(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=problem):
        parsed(path)


def test_a_header_only_file_has_no_rows_and_other_types_are_refused(tmp_path: Path) -> None:
    only = tmp_path / "only.csv"
    only.write_text(",".join(HEADER) + "\n", encoding="utf-8")
    assert parsed(only) == []
    text = tmp_path / "batch.txt"
    text.write_text("order_id,reason\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"use a \.csv, \.jsonl or \.xlsx file"):
        parsed(text)


def test_hostile_jsonl_lines_are_row_errors(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    good = json.dumps(amount_row("1.00"))
    path.write_text(
        "\n".join(
            [
                good,
                "[" * 100_000 + "]" * 100_000,  # nested too deeply (and overlong)
                json.dumps({**amount_row("1.00"), "note": "x" * 70_000}),  # overlong
                '{"order_id": "SO-1", "amount": 1e30, "currency": "CNY", "reason": "goodwill"}',
                '{"order_id": "SO-1", "amount": NaN, "currency": "CNY", "reason": "goodwill"}',
                "[1, 2]",
                good,
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    rows = parsed(path)
    kinds = [type(r).__name__ for r in rows]
    assert kinds[0] == kinds[-1] == "BatchRow"
    assert kinds[1:-1] == ["RowError"] * 5
    messages = [r.message for r in rows if isinstance(r, RowError)]
    assert "longer than" in messages[0] or "nested" in messages[0]
    assert "longer than" in messages[1]
    assert "fraction or exponent" in messages[2]
    assert "not a number" in messages[3]
    assert "JSON object" in messages[4]
