"""Budgets (config.toml [[budgets]], a rules file's budgets:): the month's spend so far and its forecast in
`upid cost`, the report and the `budget` alert kind, each recomputed here from `upid cost --period window`
over the same hours and from analyze's savings; bad budgets are one-line config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from budgeting import expected as _expected
from schemas import check

from upid.errors import ExitCode

UNTIL = "2013-08-14T22:01:05Z"  # the bundled sample's newest sample


@pytest.fixture
def demo(upid):
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0


def _config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_cost_shows_each_budget_against_the_month(upid, home, demo) -> None:
    _config(home, '[[budgets]]\nname = "all"\nmonthly = 4000\n\n[[budgets]]\nnamespace = "*"\nmonthly = 6000\n'
                  '\n[[budgets]]\ncluster = "elsewhere"\nmonthly = 1\n')  # fmt: skip
    doc = upid("cost", "-o", "json").json()
    check(doc, "cost")
    by = {b["name"]: b for b in doc["budgets"]}
    assert set(by) == {"all", "namespaces"}  # the third is another cluster's
    analysis = upid("analyze", "-o", "json").json()
    pending = sum(r["counted_monthly_savings"] for r in analysis["recommendations"])
    expected = _expected(upid, UNTIL, savings=pending)
    for b in by.values():
        assert b["month"] == "2013-08" and b["cluster"] == "demo"
        assert b["pending_monthly_savings"] == pytest.approx(pending, abs=0.05)
        for key, value in expected.items():
            assert b[key] == pytest.approx(value, rel=1e-3), key
    assert by["all"]["scope"] == "cluster" and by["namespaces"]["namespace"] == "bitbrains"
    assert by["all"]["over"] is True and by["all"]["used_percent"] == pytest.approx(
        expected["forecast"] / 4000 * 100, abs=0.1
    )
    assert by["namespaces"]["over"] is False
    table = upid("cost").out
    assert "budget all (the cluster) 2013-08: $4,000.00" in table and "OVER" in table
    page = upid("report", "--html", "-").out
    assert '<section id="budgets">' in page and f'data-value="{by["all"]["forecast"]}"' in page


def test_label_and_namespace_budgets_on_a_collected_cluster(upid, home, kube, tmp_path) -> None:
    from kube.history import write_history

    collected = upid("storage", "collect", "--kubeconfig", kube.kubeconfig, "-o", "json").json()
    cluster = collected["collections"][0]["cluster"]
    history = write_history(kube.cluster, tmp_path / "history.parquet", days=2)
    assert upid("storage", "import", history, "--cluster", cluster).code == 0
    until = upid("storage", "status", "-o", "json").json()["clusters"][0]["last"]
    namespace = sorted({p.workload.namespace for p in kube.cluster.pods if p.owner_kind})[-1]
    _config(home, f'[[budgets]]\nlabel = "tier=web"\nmonthly = 1\n\n[[budgets]]\nnamespace = "{namespace}"\n'
                  f'monthly = 1000000\n')  # fmt: skip
    doc = upid("cost", "-A", "-o", "json").json()
    check(doc, "cost")
    by = {b["scope"]: b for b in doc["budgets"]}
    analysis = upid("analyze", "-A", "-o", "json").json()
    web = {(w.namespace, w.kind, w.name) for w in (p.workload for p in kube.cluster.pods) if w.labels["tier"] == "web"}
    savings = sum(r["counted_monthly_savings"] for r in analysis["recommendations"]
                  if (r["namespace"], r["workload_kind"], r["workload"]) in web)  # fmt: skip
    label = _expected(upid, until, "tier=web", "label=tier", savings)
    assert by["label"]["label"] == "tier=web" and by["label"]["over"] is True and savings > 0
    assert by["label"]["pending_monthly_savings"] == pytest.approx(savings, abs=0.05)
    for key, value in label.items():
        assert by["label"][key] == pytest.approx(value, rel=1e-3), key
    ns = _expected(upid, until, namespace)
    assert by["namespace"]["namespace"] == namespace and by["namespace"]["over"] is False
    assert by["namespace"]["spent"] == pytest.approx(ns["spent"], rel=1e-3)
    # the default rules' UpidBudgetForecast (for: 1h) holds the label budget pending, at its forecast
    alerts = upid("alerts", "--until", until, "-o", "json").json()
    [pending] = [a for a in alerts["alerts"] if a["alert"] == "UpidBudgetForecast"]
    assert pending["state"] == "pending" and pending["labels"]["label"] == "tier=web"
    assert pending["value"] == pytest.approx(by["label"]["forecast"], abs=0.01)


def test_rules_file_budgets_and_a_rule_of_its_own(upid, demo, tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """budgets:
  - {name: shop, monthly: 3000}
groups:
  - name: b
    rules:
      - alert: Configured
        kind: budget
        params: {percent: 50}
      - alert: Own
        kind: budget
        params: {monthly: 1000, per: namespace}
"""
    )
    doc = upid("alerts", "--rules", rules, "--until", UNTIL, "-o", "json").json()
    forecast = _expected(upid, UNTIL)["forecast"]
    assert 1500 < forecast < 6000  # shop: over 50 % of 3000; Own: over 1000 in its one namespace
    got = {(a["alert"], a["labels"]["budget"], a["labels"].get("namespace")): a["value"] for a in doc["alerts"]}
    assert got == {("Configured", "shop", None): pytest.approx(forecast, rel=1e-3),
                   ("Own", "namespaces", "bitbrains"): pytest.approx(forecast, rel=1e-3)}  # fmt: skip
    rules.write_text(rules.read_text().replace("percent: 50", "percent: 1000"))
    again = upid("alerts", "--rules", rules, "--until", UNTIL, "-o", "json").json()["alerts"]
    assert sorted((a["alert"], a["state"]) for a in again) == [("Configured", "resolved"), ("Own", "firing")]
    rules.write_text("budgets:\n  - {name: a, monthly: -1}\n  - {monthly: 5, label: nolabel}\ngroups: []\n")
    r = upid("alerts", "test", rules)
    assert r.code == ExitCode.USAGE
    assert ":2: a budget needs monthly" in r.err and ":3: budget label must be KEY=VALUE" in r.err


def test_bad_budgets_in_the_config_are_one_line_errors_and_config_set_keeps_them(upid, home, demo) -> None:
    for text, message in [
        ("[[budgets]]\nmonthly = 0\n", "a budget needs monthly, an amount above 0"),
        ('[[budgets]]\nmonthly = 5\nnamespace = "a"\nlabel = "k=v"\n', "a namespace or a label, not both"),
        ("[[budgets]]\nmonthly = 5\nteam = 1\n", "unknown budget field 'team'"),
        ('budgets = "lots"\n', "budgets must be a list of tables"),
    ]:
        _config(home, text)
        r = upid("cost")
        assert r.code == ExitCode.CONFIG and message in r.err and r.err.count("\n") == 1, r.err
        assert "Traceback" not in r.err
    _config(home, '[[budgets]]\nname = "x"\nmonthly = 12.5\nlabel = "team=a"\n')
    assert upid("config", "set", "currency", "EUR").code == 0
    view = upid("config", "view", "-o", "json").json()
    assert view["budgets"] == {"value": "x=12.5", "source": "config.toml"} and view["currency"]["value"] == "EUR"
    [b] = upid("cost", "-o", "json").json()["budgets"]
    assert (b["name"], b["budget"], b["label"], b["currency"]) == ("x", 12.5, "team=a", "EUR")
