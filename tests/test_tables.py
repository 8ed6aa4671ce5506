"""Tables for people (a TOTAL row, --sort-by) and CSV for machines (raw values, sorted the same way), on the
bundled real sample."""

from __future__ import annotations

import csv
import io

import pytest

from upid.errors import ExitCode
from upid.units import format_money


@pytest.fixture
def data(upid) -> None:
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


def _csv(upid, *args: str) -> list[dict[str, str]]:
    r = upid(*args, "-o", "csv")
    assert r.code == 0, r.err
    return list(csv.DictReader(io.StringIO(r.out)))


def test_sort_by_a_column_ascending_or_descending_in_csv_and_table(upid, data) -> None:
    doc = upid("analyze", "-o", "json").json()
    savings = [float(r["monthly_savings"]) for r in _csv(upid, "analyze", "--sort-by=-monthly_savings")]
    assert savings == sorted((x["monthly_savings"] for x in doc["recommendations"]), reverse=True)
    rows = _csv(upid, "analyze", "--sort-by", "severity")  # by rank, not by name: unknown < good < ... < critical
    ranks = [("unknown", "good", "ok", "warning", "critical").index(r["severity"]) for r in rows]
    assert ranks == sorted(ranks) and ranks[0] < ranks[-1]
    by_memory = [r["workload"] for r in _csv(upid, "analyze", "--sort-by", "MEMORY REQ/LIMIT")]  # a header too
    want = sorted(doc["recommendations"], key=lambda x: x["current"]["memory_request"])  # stable, as upid's
    assert by_memory == [x["workload"] for x in want]
    table = upid("analyze", "--sort-by=-monthly_savings").out.splitlines()
    top = max(doc["recommendations"], key=lambda x: x["monthly_savings"])
    assert top["workload"] in table[2].split()  # the first row under the header and its rule
    r = upid("analyze", "--sort-by", "nope")
    assert r.code == ExitCode.USAGE and "allowed: namespace," in r.err and "monthly_savings" in r.err


def test_a_total_row_sums_the_column_under_a_rule(upid, data) -> None:
    doc = upid("analyze", "-o", "json").json()
    lines = upid("analyze").out.splitlines()
    total = next(line for line in lines if line.startswith("TOTAL"))
    column_sum = round(sum(x["counted_monthly_savings"] for x in doc["recommendations"]), 2)
    assert (
        total.split()[-1]
        == format_money(column_sum, "USD")
        == format_money(doc["summary"]["monthly_savings"]["total"], "USD")
    )  # the SAVINGS/MO column counts each workload once, as the summary does
    assert lines[lines.index(total) - 1].startswith("─")
    assert not any(line.startswith("TOTAL") for line in upid("analyze", "--no-headers").out.splitlines())
    idle = upid("idle", "-o", "json").json()["summary"]
    total = next(line for line in upid("idle").out.splitlines() if line.startswith("TOTAL"))
    assert total.split()[-1] == format_money(idle["monthly_savings"], "USD")
    plan = upid("optimize", "-o", "json").json()["summary"]
    total = next(line for line in upid("optimize", "-o", "table").out.splitlines() if line.startswith("TOTAL"))
    assert total.split()[-1] == format_money(plan["monthly_savings"], "USD")


def test_csv_has_raw_amounts_not_money_strings(upid, data) -> None:
    for args in (("analyze",), ("idle",), ("optimize",)):
        rows = _csv(upid, *args)
        key = "monthly_savings"
        assert rows and all(float(r[key]) == float(r[key].strip()) for r in rows if r[key])
        assert not any(r[key].startswith("$") for r in rows)


def test_values_with_brackets_print_as_they_are(upid, data) -> None:
    r = upid("storage", "query", "SELECT '[bold]x[/bold]' AS v, '[red]' AS w")
    assert r.code == 0 and "[bold]x[/bold]" in r.out and "[red]" in r.out  # not taken for Rich markup


def test_query_with_time_zone_values(upid, data) -> None:
    r = upid("storage", "query", "SELECT TIMESTAMPTZ '2020-01-01 00:00:00+00' AS t, now() > t AS later", "-o", "json")
    assert r.code == 0, r.err
    assert r.json()["rows"] == [["2020-01-01 00:00:00+00:00", True]]
