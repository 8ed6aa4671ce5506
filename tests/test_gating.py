"""CI gating of `upid analyze`: --fail-on and --fail-on-savings exit with their own codes after writing the
output, and -o junit reports each container as a test case."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from upid.errors import ExitCode


@pytest.fixture
def data(upid) -> None:
    """The bundled sample of real VM traces: oversized VMs, so there is something to gate on."""
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


def _doc(upid) -> dict:
    r = upid("analyze", "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def test_fail_on_severity_exits_15_after_writing_the_output(upid, data) -> None:
    doc = _doc(upid)
    severities = {r["severity"] for r in doc["recommendations"]}
    worst = "critical" if "critical" in severities else "warning"
    assert worst in severities  # the synthetic data is oversized: something to gate on
    r = upid("analyze", "-o", "json", "--fail-on", worst)
    assert r.code == ExitCode.SEVERITY_GATE == 15
    assert r.json()["recommendations"] == doc["recommendations"]  # the data is still written, on stdout
    count = sum(1 for x in doc["recommendations"] if x["severity"] == "critical" or x["severity"] == worst)
    assert r.err.startswith("error: ") and f"{count} container(s) at severity {worst}" in r.err
    assert upid("analyze", "--fail-on", "bad").code == ExitCode.USAGE


def test_fail_on_savings_exits_16_only_when_the_amount_is_reached(upid, data) -> None:
    total = _doc(upid)["summary"]["monthly_savings"]["total"]
    assert total > 0
    assert upid("analyze", "--fail-on-savings", str(total)).code == ExitCode.SAVINGS_GATE == 16
    assert upid("analyze", "--fail-on-savings", str(total + 0.01)).code == 0


def test_junit_has_one_case_per_container_and_fails_the_gated_ones(upid, data) -> None:
    doc = _doc(upid)
    r = upid("analyze", "-o", "junit", "--fail-on", "warning")
    root = ET.fromstring(r.out)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(doc["recommendations"])
    failed = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    expected = {
        (f"{x['namespace']}.{x['workload_kind']}.{x['workload']}", x["container"])
        for x in doc["recommendations"]
        if x["severity"] in ("warning", "critical")
    }
    assert failed == expected and failed
    assert sum(int(s.get("failures")) for s in root.findall("testsuite")) == len(expected)
    assert r.code == ExitCode.SEVERITY_GATE
