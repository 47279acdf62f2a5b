"""Read one value of the first row of a dlt load job file (insert_values, jsonl, csv, parquet).

resume.py uses it to ask the destination whether a job's rows are already there. Files may be gzip
compressed whatever their extension says. A format not handled here gives ``None`` (unknown).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"


def first_row_value(path: Path, file_format: str, column: str) -> Any:
    """``column`` of the first row in the job file at ``path``; ``None`` if unknown or absent."""
    if file_format == "parquet":
        return _first_parquet_value(path, column)
    readers = {
        "insert_values": _first_insert_values_value,
        "jsonl": _first_jsonl_value,
        "csv": _first_csv_value,
    }
    reader = readers.get(file_format.replace("typed-", ""))
    if reader is None:
        return None
    with _open_text(path) as handle:
        return reader(handle, column)


def _open_text(path: Path) -> IO[str]:
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    if compressed:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _first_jsonl_value(handle: IO[str], column: str) -> Any:
    line = handle.readline()
    return json.loads(line).get(column) if line.strip() else None


def _first_csv_value(handle: IO[str], column: str) -> Any:
    row = next(csv.DictReader(handle), None)
    return row.get(column) if row else None


def _first_parquet_value(path: Path, column: str) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=[column]) if column in pq.read_schema(path).names else None
    return table.column(column)[0].as_py() if table is not None and table.num_rows else None


def _first_insert_values_value(handle: IO[str], column: str) -> Any:
    """dlt writes ``INSERT INTO {}("a","b")``, then ``VALUES``, then one ``(...)`` row per line."""
    header = handle.readline()
    columns = [
        name.strip().strip('"') for name in header[header.index("(") + 1 : header.rindex(")")].split(",")
    ]
    if column not in columns:
        return None
    line = handle.readline()
    while line and not line.lstrip().startswith("("):
        line = handle.readline()
    values = split_sql_tuple(line.strip().rstrip(",;"))
    return sql_literal(values[columns.index(column)]) if len(values) == len(columns) else None


def split_sql_tuple(text: str) -> list[str]:
    """The top-level items of ``(a,'b,c',E'd''e')``, quotes respected."""
    items: list[str] = []
    current: list[str] = []
    in_string = backslash_escapes = False
    body = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    index = 0
    while index < len(body):
        char = body[index]
        if in_string:
            current.append(char)
            if backslash_escapes and char == "\\":
                current.append(body[index + 1 : index + 2])
                index += 1
            elif char == "'":
                if body[index + 1 : index + 2] == "'":
                    current.append("'")
                    index += 1
                else:
                    in_string = False
        elif char == "'":
            in_string = True
            backslash_escapes = "".join(current).strip().upper() == "E"
            current.append(char)
        elif char == ",":
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    items.append("".join(current).strip())
    return items


def sql_literal(item: str) -> Any:
    """The value of a simple SQL literal: a (E-)string, NULL, or the text of a number."""
    if item.upper() == "NULL":
        return None
    if item[:1] in ("E", "e") and item[1:2] == "'":
        return _unescape_backslashes(item[2:-1].replace("''", "'"))
    if item[:1] == "'":
        return item[1:-1].replace("''", "'")
    return item


_BACKSLASH_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unescape_backslashes(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            out.append(_BACKSLASH_ESCAPES.get(escaped, escaped))
        else:
            out.append(char)
    return "".join(out)
