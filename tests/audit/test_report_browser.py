"""The HTML report in a real browser: headless Chromium (Debian's package) via Playwright.

The page must render every plot, log no console error, raise no page error, run no script
smuggled in through the data, and fetch nothing from the network. A full-page screenshot
is kept as an artefact (its path is printed; ``REWARDLAB_ARTIFACTS=DIR`` copies it there).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from _audit_models import MarkerModel, best_of_n_set, marker_pairs

from rewardlab.audit import PROBES, AuditConfig, audit

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]
EVIL = "<script>window.__pwned = true</script><img src=x onerror=\"window.__pwned=true\">"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    data = marker_pairs(80)
    records = (replace(data.records[0], rejected=EVIL + " bad"), *data.records[1:])
    data = replace(data, records=records)
    bon, _ = best_of_n_set(problems=12)
    path = tmp_path_factory.mktemp("audit-report") / "report.html"
    result = audit(MarkerModel(), data, html=path,
                   config=AuditConfig(best_of_n=bon, reference_prompts=4, master_keys=(EVIL,),
                                      noise_rates=(0.0, 0.2, 0.4)))
    return path, result


def test_report_renders_in_headless_chromium(report, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (`make browser` "
                    "installs it); the HTML report was not rendered")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the 'playwright' test extra is not installed")
    path, result = report
    assert not result.skipped, [p.reason for p in result.skipped]
    console, page_errors, requests = [], [], []
    shot = tmp_path_factory.mktemp("audit-artifacts") / "audit_report.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            def block(route):  # the report must need nothing but itself
                if not route.request.url.startswith(("file:", "data:", "about:")):
                    requests.append(route.request.url)
                    return route.abort()
                return route.continue_()

            page.route("**/*", block)
            page.goto(path.as_uri(), wait_until="load")
            plots = page.eval_on_selector_all(
                "figure svg.plot", "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return [e.closest('figure').id, r.width, r.height]; })")
            summary_rows = page.eval_on_selector_all("#summary tbody tr", "els => els.length")
            pwned = page.evaluate("() => window.__pwned === true")
            evil_visible = page.evaluate(
                "() => document.body.innerText.includes('<script>window.__pwned')")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"\naudit report screenshot: {shot}")
    if os.environ.get("REWARDLAB_ARTIFACTS"):
        target = Path(os.environ["REWARDLAB_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
    assert [e for e in console if e[0] in ("error", "warning")] == []
    assert page_errors == []
    assert requests == []
    assert not pwned
    assert evil_visible  # the user's master key is shown as text, not run
    assert summary_rows == len(PROBES)
    assert sorted(p[0] for p in plots) == sorted(f"plot-{name}" for name in PROBES)
    assert all(width > 300 and height > 150 for _, width, height in plots), plots
    assert shot.stat().st_size > 50_000
