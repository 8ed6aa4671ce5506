"""`upid report --html`: one self-contained page, opened in a real headless Chromium (Debian's chromium and
chromium-driver, installed by .ci/run) and checked element by element against `upid analyze -o json`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from kube.history import write_history
from kube.model import Cluster

from upid.analysis.rightsizing import SEVERITIES
from upid.analysis.series import bucketed
from upid.errors import ExitCode
from upid.report.svg import nice_step
from upid.units import format_money

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or ""
ARTIFACTS = Path(os.environ.get("UPID_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven through chromedriver; skipped where it is not installed, unless CI asks."""
    missing = not (Path(CHROMIUM).exists() and DRIVER)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("UPID_REQUIRE_BROWSER"):
            pytest.fail("UPID_REQUIRE_BROWSER is set but chromium, chromedriver or selenium is missing")
        pytest.skip("no chromium + chromedriver + selenium here (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def demo(upid) -> dict:
    """The bundled sample of real VM traces in the store, and its analysis as JSON."""
    from upid.workflows.demo import sample_path

    assert upid("storage", "import", sample_path(), "--cluster", "demo").code == 0
    r = upid("analyze", "-o", "json")
    assert r.code == 0, r.err
    return r.json()


def _open(browser, page: Path, name: str) -> list[dict]:
    """Load the page, save a screenshot next to the test output, and return the console's messages."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(page.as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height), 6000))
    shot = ARTIFACTS / f"{name}.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    return browser.get_log("browser")


def test_report_renders_in_chromium_with_the_analysis_numbers(upid, demo, browser, tmp_path) -> None:
    page = tmp_path / "report.html"
    r = upid("report", "--html", page)
    assert r.code == 0, r.err
    assert r.out == "" and f"wrote {page}" in r.err
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    assert _open(browser, page, "report-demo") == []  # no console error, no warning, no log line
    js = browser.execute_script
    assert js("return performance.getEntriesByType('resource').length") == 0  # it asked the network for nothing

    summary = demo["summary"]
    savings = browser.find_element("css selector", "[data-test=savings] .card-value").text
    assert savings == format_money(summary["monthly_savings"]["total"], summary["currency"])

    cards = browser.find_elements("css selector", "article.workload")
    assert len(cards) == len(demo["recommendations"]) == 50
    # every chart drew: a visible box, the usage lines and a line per distinct request/limit/recommendation
    drawn = js(
        """return Array.from(document.querySelectorAll('svg.usage-chart')).map(s => {
             const box = s.getBoundingClientRect();
             return [box.width, box.height, s.querySelectorAll('path.usage-mean').length,
                     s.querySelectorAll('path.usage-peak').length, s.querySelectorAll('line.level').length,
                     s.querySelector('path.usage-mean').getTotalLength()];
           })"""
    )
    assert len(drawn) == 100
    bad = [d for d in drawn if not (d[0] > 300 and d[1] > 80 and d[2] >= 1 and d[3] >= 1 and d[4] >= 1 and d[5] > 100)]
    assert not bad, bad[:5]
    # the y axis fits the usage and the recommendation: the peak area fills a visible share of every plot (more
    # than half of most), even where the current request is 40x the usage (it sits at the top edge, with an arrow)
    shares = js(
        """return Array.from(document.querySelectorAll('svg.usage-chart')).map(s => {
             const peak = Array.from(s.querySelectorAll('path.usage-peak')).map(p => p.getBBox().height);
             return Math.max(...peak) / 160;
           })"""
    )
    shown = [x for x in shares if x > 0]  # a container that used nothing has nothing to show
    assert len(shown) >= 95 and min(shown) > 0.15, sorted(shares)[:5]  # the least: usage under a 100Mi floor
    assert js("return document.querySelectorAll('line.off-scale').length") > 0
    labels = js("return Array.from(document.querySelectorAll('text.level-label')).map(t => t.textContent)")
    assert any(x.startswith("recommended request") for x in labels) and any("\u2191" in x for x in labels)
    ticks = js(
        """return Array.from(document.querySelectorAll('svg.usage-chart[data-resource=memory] text.tick'))
             .map(t => t.textContent).filter(t => !/^[A-Z][a-z]{2} \\d\\d$/.test(t))"""
    )
    odd = [t for t in ticks if not re.fullmatch(r"0|\d+Mi|\d+(\.25|\.5|\.75)?Gi|\d+Ti", t)]  # not 1.95Gi
    assert ticks and not odd, sorted(set(odd))[:10]
    ranks = [SEVERITIES.index(c.find_element("css selector", ".badge").text) for c in cards]
    assert ranks == sorted(ranks, reverse=True)  # the worst first

    idle_rows = browser.find_elements("css selector", "#idle-table tbody tr")
    assert len(idle_rows) == len(demo["idle"]) > 0
    names = {row.find_elements("css selector", "td")[2].text for row in idle_rows}
    assert names == {i["workload"] for i in demo["idle"]}

    bars = js("return Array.from(document.querySelectorAll('svg.cost-chart rect')).map(r => r.getBBox().width)")
    assert len(bars) == 2 and bars[0] > bars[1] > 0  # one namespace: now, and smaller as recommended


def test_report_filters_and_sorts_in_the_browser(upid, demo, browser, tmp_path) -> None:
    page = tmp_path / "report.html"
    assert upid("report", "--html", page).code == 0
    assert _open(browser, page, "report-filter") == []
    box = browser.find_element("id", "filter")
    box.send_keys("vm-31 main")  # vm-31 only, not vm-311
    visible = browser.execute_script("return document.querySelectorAll('article.workload:not([hidden])').length")
    assert visible == 1 and browser.find_element("id", "shown").text == "1 of 50 shown"

    header = browser.find_element("xpath", "//table[@id='recommendations-table']//th[text()='Savings a month']")
    header.click()
    values = browser.execute_script(
        "return Array.from(document.querySelectorAll('#recommendations-table tbody tr'))"
        ".map(r => parseFloat(r.cells[8].dataset.value))"
    )
    assert values == sorted((x["monthly_savings"] for x in demo["recommendations"]), reverse=True)


def test_report_on_many_namespaces_splits_the_cost_like_the_summary(upid, browser, tmp_path) -> None:
    history = write_history(Cluster(pods=30, nodes=3), tmp_path / "history.parquet", days=3)
    assert upid("storage", "import", history, "--cluster", "test").code == 0
    doc = upid("analyze", "-o", "json").json()
    page = tmp_path / "many.html"
    assert upid("report", "--html", page, "--charts", 5).code == 0
    assert _open(browser, page, "report-namespaces") == []
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#namespace-table tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.dataset.value))"
    )
    namespaces = {r["namespace"] for r in doc["recommendations"]}
    assert {r[0] for r in rows} == namespaces and len(namespaces) > 1
    summary = doc["summary"]
    assert sum(float(r[1]) for r in rows) == pytest.approx(summary["monthly_cost"]["current"], abs=0.05)
    assert sum(float(r[3]) for r in rows) == pytest.approx(summary["monthly_savings"]["rightsizing"], abs=0.05)
    idle = summary["monthly_savings"]["idle"] + summary["monthly_savings"]["sleep"]
    assert sum(float(r[4]) for r in rows) == pytest.approx(idle, abs=0.05)
    assert len(browser.find_elements("css selector", "article.workload")) == 5
    bars = browser.find_elements("css selector", "svg.cost-chart rect.bar-current")
    assert len(bars) == len(namespaces)


def test_report_to_stdout_and_bad_output_paths(upid, demo, tmp_path) -> None:
    r = upid("report", "--html", "-", "--charts", "0")
    assert r.code == 0 and r.out.startswith("<!DOCTYPE html>") and "article class" not in r.out
    missing = tmp_path / "no" / "such" / "dir" / "r.html"
    r = upid("report", "--html", missing)
    assert r.code == ExitCode.OUTPUT == 17
    assert r.err.startswith(f"error: cannot write {missing}") and r.err.count("\n") == 1
    assert not missing.parent.exists()
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "r.html").write_text("old")
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway; the failure path is covered above
            return
        assert upid("report", "--html", folder / "r.html").code == ExitCode.OUTPUT
        assert (folder / "r.html").read_text() == "old"  # nothing half-written in its place
    finally:
        folder.chmod(0o700)
    assert upid("report").code == ExitCode.USAGE  # --html is required
    assert upid("report", "--html", "x.html", "--charts", "-1").code == ExitCode.USAGE


def test_usage_buckets_keep_the_peak_per_pod_and_gaps() -> None:
    import numpy as np

    from upid.analysis.history import ContainerHistory

    ts = np.array([10, 20, 30, 40, 90, 100])  # bucket of 25 s over (0, 100]: 1,2 | 3,4 | - | 5,6
    h = ContainerHistory(
        key=("ns", "Deployment", "w", "c"),
        ts=ts,
        cpu=np.array([0.1, 0.3, 0.2, np.nan, 1.0, 0.5]),
        memory=np.array([100.0, 300.0, 200.0, 400.0, 50.0, 150.0]),
        pod=np.zeros(6, dtype=int),
        current={},
    )
    s = bucketed(h, 0, 100, buckets=4)
    assert s["step"] == 25 and s["start"] == 0
    assert s["cpu_max"] == [0.3, 0.2, None, 1.0]
    assert s["cpu_mean"] == pytest.approx([0.2, 0.2, None, 0.75])  # NaN is not measured, not zero
    assert s["memory_max"] == [300.0, 400.0, None, 150.0]
    assert [nice_step(x) for x in (10, 7.3, 0.9, 2000)] == [5, 2, 0.5, 500]


def test_a_bad_cpu_limit_setting_is_a_usage_error_for_every_rightsizing_command(upid, demo, monkeypatch) -> None:
    monkeypatch.setenv("UPID_CPU_LIMIT", "bogus")
    for args in (("analyze",), ("optimize",), ("report", "--html", "-")):
        r = upid(*args)
        assert r.code == ExitCode.USAGE and r.err.startswith("error: invalid CPU limit policy 'bogus'"), args
