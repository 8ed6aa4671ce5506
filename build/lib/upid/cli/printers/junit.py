"""`analyze -o junit`: one JUnit test case per workload container, failed when its severity reaches the
--fail-on level (warning when not given), so CI systems show oversized containers as failed tests."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from upid.analysis.rightsizing import SEVERITIES
from upid.units import format_bytes, format_cpu, format_money


def junit(report: Any, fail_on: str) -> str:
    floor = SEVERITIES.index(fail_on)
    suites = ET.Element("testsuites", name=f"upid analyze {report.cluster}")
    by_namespace: dict[str, list[Any]] = {}
    for row in report.rows:
        by_namespace.setdefault(row.usage.namespace, []).append(row)
    for namespace, rows in sorted(by_namespace.items()):
        failed = [r for r in rows if SEVERITIES.index(r.severity) >= floor]
        suite = ET.SubElement(
            suites, "testsuite", name=namespace, tests=str(len(rows)), failures=str(len(failed)), errors="0"
        )
        for row in rows:
            u, r = row.usage, row.recommendation
            case = ET.SubElement(
                suite, "testcase", classname=f"{namespace}.{u.workload_kind}.{u.workload}", name=u.container
            )
            if row in failed:
                failure = ET.SubElement(
                    case, "failure", type=row.severity, message=f"{row.severity}: right-size {u.workload}/{u.container}"
                )
                failure.text = (
                    f"CPU request {format_cpu(u.cpu_request)} -> {format_cpu(r.cpu_request)}, "
                    f"memory {format_bytes(u.memory_request)} -> {format_bytes(r.memory_request)}, "
                    f"savings {format_money(row.monthly_savings, report.currency)} a month; "
                    f"{row.severity}: {row.severity_reason}"
                )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
