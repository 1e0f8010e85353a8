"""The HTML reports in a real headless Chromium: they render, log no console errors, and no
script from a student's payload runs (the payload is shown as text)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from .conftest import CHROMEDRIVER, CHROMIUM, ROOT, SUBMISSIONS, full_marks

ODD_NAME = '<img src=x onerror="window.__pwned=5">.py'

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real batch: correct, wrong, broken, and payloads in code, output and file name."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("class")
    for name in ("correct.ipynb", "floor_not_ceil.py", "syntax_error_cell.ipynb"):
        shutil.copy(SUBMISSIONS / "conv-arithmetic" / name, folder / name)
    for path in (p for p in (ROOT / "tests" / "batch_samples").iterdir() if p.is_file()):
        shutil.copy(path, folder / path.name)
    shutil.copy(ROOT / "tests" / "batch_samples" / "script_injection.py", folder / ODD_NAME)
    output = tmp_path_factory.mktemp("reports")
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", "conv-arithmetic",
                           "-o", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return output


def _open(driver, page: Path) -> list[dict]:
    """Load `page`; the console messages it logged at level SEVERE."""
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _not_pwned(driver) -> None:
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.find_elements("css selector", "#injected") == []
    assert driver.find_elements("css selector", "script") == []


def test_student_report_renders(browser, reports: Path) -> None:
    from selenium.webdriver.common.by import By

    errors = _open(browser, reports / "reports" / "floor_not_ceil.html")
    assert errors == []
    score, full = browser.find_element(By.ID, "score").text.split(" / ")
    assert 0 < float(score) < float(full) == full_marks("conv-arithmetic")  # floor instead of ceil loses some
    rows = browser.find_elements(By.CSS_SELECTOR, "#exercises tbody tr")
    assert len(rows) == 6
    failed = browser.find_elements(By.CSS_SELECTOR, ".check[data-status=failed]")
    assert failed and "floor instead of ceil" in browser.find_element(By.ID, "ex-conv_output_size").text
    browser.save_screenshot(str(reports / "reports" / "floor_not_ceil.png"))


def test_payload_is_shown_as_text_and_never_runs(browser, reports: Path) -> None:
    from selenium.webdriver.common.by import By

    for page in ("script_injection.html", "_img_src_x_onerror_window._pwned_5_.html", "not_a_notebook.html"):
        errors = _open(browser, reports / "reports" / page)
        assert errors == [], page
        _not_pwned(browser)
    _open(browser, reports / "reports" / "script_injection.html")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "<script>window.__pwned = 1</script>" in text
    assert '<b id="injected">bold</b>' in text
    browser.save_screenshot(str(reports / "reports" / "script_injection.png"))


def test_summary_renders(browser, reports: Path) -> None:
    from selenium.webdriver.common.by import By

    errors = _open(browser, reports / "summary.html")
    assert errors == []
    _not_pwned(browser)
    for element in ("histogram", "exercises", "pass-rates", "failures", "limits", "students", "ungraded", "slowest"):
        assert browser.find_element(By.ID, element).is_displayed()
    graded = browser.find_elements(By.CSS_SELECTOR, "#students a")
    ungraded = browser.find_elements(By.CSS_SELECTOR, "#ungraded a")
    assert len(graded) == 6 and len(ungraded) == 1  # the file that is no notebook
    pages = [Path(unquote(urlparse(link.get_attribute("href")).path)) for link in graded + ungraded]
    assert all(page.is_file() and page.parent == reports / "reports" for page in pages)
    browser.save_screenshot(str(reports / "summary.png"))
    graded[0].click()
    assert browser.find_element(By.ID, "student").text


def test_pictures_display_offline(browser, tmp_path: Path) -> None:
    """A report's pictures are data: URIs the page's own policy lets through."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from selenium.webdriver.common.by import By

    from grader.html_report import render_student
    from grader.model import CheckResult, Figure, GradeReport

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    report = GradeReport("toy2d-classifiers", "mine.ipynb", "graded", 1.0, 1.0,
                         (CheckResult("mlp/moons", "mlp", "passed", 1.0, 1.0, False),),
                         figures=(Figure("decision boundary: moons", png.getvalue(), "test accuracy 0.97"),))
    page = tmp_path / "mine.html"
    page.write_text(render_student(report, "mine"))
    assert _open(browser, page) == []
    image = browser.find_element(By.CSS_SELECTOR, "#figures img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 100
    assert "decision boundary: moons" in browser.find_element(By.ID, "figures").text
