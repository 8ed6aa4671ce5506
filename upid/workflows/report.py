"""The HTML report: one analysis, the charted containers' usage in buckets, one self-contained page."""

from __future__ import annotations

import time

from upid import __version__
from upid.analysis.document import analysis_document
from upid.analysis.history import ContainerHistory
from upid.analysis.idle import IdlePolicy
from upid.analysis.series import bucketed
from upid.report.model import charted, report_document
from upid.report.page import render
from upid.settings import Settings
from upid.store.base import Store
from upid.units import iso
from upid.workflows.analyze import AnalysisRequest, run


def html_report(
    store: Store, settings: Settings, request: AnalysisRequest, policy: IdlePolicy, charts: int = 100
) -> str:
    """The report page for the analysed window, with the cluster's budgets as of its end; `charts` containers
    get usage charts, worst first."""
    from upid.workflows.budgets import month_status

    result = run(store, request, policy)
    whole = not request.namespaces and not request.selector  # else the budgets' savings need their own analysis
    budgets = month_status(store, settings, result.frame.cluster, result.frame.end, analysis=result if whole else None)
    doc = analysis_document(result.report, result.idle)
    by_key: dict[tuple[str, ...], ContainerHistory] = {h.key: h for h in result.containers}
    end = result.frame.end
    start = max(result.frame.start, int(result.frame.ts.min()) - 1)  # from the first sample, not an empty window
    series = {key: bucketed(by_key[key], start, end) for key in charted(doc, charts) if key in by_key}
    generated = iso(time.time()) or ""
    return render(report_document(doc, series, generated, __version__, [b.to_dict() for b in budgets]))
