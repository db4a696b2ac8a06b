"""The explorer page in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) loads the page from file://, the test presses → and ←,
clicks Next, Previous and nodes, and reads what appears. The numbers are checked against
a hand calculation of L = σ(x·w + x) at x = 3, w = −2. Skipped, with the reason, when the
browser, its driver or selenium is missing (CI installs them)."""
import math
import shutil
import tempfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.glassbox.page import explorer_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("Chromium or chromedriver is not installed (apt-get install chromium "
                "chromium-driver)", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1300,1000"]

# the hand calculation
X, W = 3.0, -2.0
S = 1 / (1 + math.exp(-(X * W + X)))         # L = σ(q), q = p + x, p = x·w
DQ = S * (1 - S)                             # ∂L/∂q = ∂L/∂p
DX_VIA_P, DX_VIA_Q = DQ * W, DQ              # x is used twice: the paths meet at x
DW = DQ * X


def f4(v):
    return f"{v:.4f}"


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chainrule-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    x = cr.tensor(np.float64(X), requires_grad=True, name="x")
    w = cr.tensor(np.float64(W), requires_grad=True, name="w")
    p = x * w
    q = p + x
    out = q.sigmoid()
    path = tmp_path_factory.mktemp("page") / "page.html"
    path.write_text(explorer_html(out, names={p: "p", q: "q"}), encoding="utf-8")
    return path


def panel(driver):
    return driver.find_element(By.ID, "cr-panel").text


def press(driver, key, times=1):
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(times):
        body.send_keys(key)


def visible(driver, css):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)
            if "hidden" not in (e.get_attribute("class") or "")]


def test_stepping_clicking_and_the_numbers(browser, page):
    browser.get(page.as_uri())
    assert "Press →" in browser.find_element(By.ID, "cr-status").text
    assert visible(browser, "text.eg") == []            # no gradient before the backward pass

    press(browser, Keys.ARROW_RIGHT)                    # forward: p = x × w
    text = panel(browser)
    assert "Forward: p" in text and "p = x × w" in text
    assert f"= {f4(X)} × ({f4(W)})" in text and f"= {f4(X * W)}" in text
    assert f"p = {f4(X * W)}" in visible(browser, "text.ev")

    press(browser, Keys.ARROW_RIGHT, 2)                 # forward q, then L
    assert f"= {f4(S)}" in panel(browser)
    browser.find_element(By.ID, "cr-next").click()      # backward: the seed at L
    text = panel(browser)
    assert "Backward: L" in text and "∂L/∂L = 1" in text
    assert f"∂L/∂q = σ(q)(1 − σ(q)) = {f4(DQ)}" in text
    assert f"1.0000 × {f4(DQ)} = {f4(DQ)} to q" in text

    press(browser, Keys.ARROW_RIGHT, 2)                 # backward q, then p
    text = panel(browser)
    assert "Backward: p" in text and f"∂L/∂p = {f4(DQ)}" in text
    assert f"∂p/∂w = x = {f4(X)}" in text               # the operand by its name, not "a"
    assert f"{f4(DQ)} × {f4(X)} = {f4(DW)} to w" in text
    assert f"{f4(DQ)} × ({f4(W)}) = {f4(DX_VIA_P)} to x" in text
    assert f4(DW) in visible(browser, "text.eg")

    press(browser, Keys.ARROW_RIGHT)                    # the leaf x: two paths meet
    text = panel(browser)
    assert "∂L/∂x = ∂L/∂x via p + ∂L/∂x via q" in text
    assert f"= {f4(DX_VIA_P)} + {f4(DX_VIA_Q)}" in text
    assert f"= {f4(DX_VIA_P + DX_VIA_Q)}" in text
    assert "stores ∂L/∂x in x.grad" in text

    press(browser, Keys.ARROW_LEFT)                     # ← goes back to p
    assert "Backward: p" in panel(browser)
    browser.find_element(By.ID, "cr-prev").click()
    assert "Backward: q" in panel(browser)

    browser.find_element(By.CSS_SELECTOR, 'g.node[data-name="w"]').click()
    text = panel(browser)
    assert (f"∂L/∂w = ∂L/∂q · ∂q/∂p · ∂p/∂w = {f4(DQ)} × 1.0000 × {f4(X)} = {f4(DW)}"
            in text)
    assert "Numerical check of ∂L/∂w" in text and "the gradients agree" in text

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_the_tutorials_page_per_unit(browser, tmp_path):
    from chainrule.glassbox.tutorial_figure import tutorial_page
    path = tmp_path / "worked.html"
    path.write_text(tutorial_page(), encoding="utf-8")
    browser.get(path.as_uri())
    notes = browser.find_element(By.ID, "cr-notes").text
    assert "δ1 = δ3 · W5 · σ1(1 − σ1) = 0.4154 × (-0.1725) × 0.2255 = -0.0162" in notes
    forward = sum(1 for s in browser.execute_script(
        "return JSON.parse(document.getElementById('cr-data').textContent).steps")
        if s["phase"] == "forward")
    press(browser, Keys.ARROW_RIGHT, forward + 1)       # the seed at L, the BCE node
    text = panel(browser)
    assert "Backward: L" in text
    assert "∂L/∂σ3 = binary_cross_entropy's derivative = 1.7107" in text
    browser.find_element(By.CSS_SELECTOR, 'g.node[data-name="W1"]').click()
    text = panel(browser)
    assert "∂L/∂W1 = ∂L/∂σ3 · ∂σ3/∂z3 · ∂z3/∂σ1 · ∂σ1/∂z1 · ∂z1/∂W1" in text
    assert "= 1.7107 × 0.2428 × (-0.1725) × 0.2255 × 1.0000" in text
    assert "the gradients agree" in text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_page_lives_in_a_notebook_frame(browser, tmp_path):
    x = cr.tensor(np.float64(X), requires_grad=True, name="x")
    page = cr.explain((x * x).sin()).to_html()
    assert isinstance(page, str)
    cell = tmp_path / "cell.html"         # what Jupyter puts in an output cell
    cell.write_text(f"<!DOCTYPE html><html><body>{page._repr_html_()}</body></html>",
                    encoding="utf-8")
    browser.get(cell.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        browser.find_element(By.ID, "cr-next").click()     # a click puts the focus inside
        assert f"= {f4(X)} × {f4(X)}" in panel(browser)
        press(browser, Keys.ARROW_RIGHT)                    # then the keys step
        assert f"= {f4(math.sin(X * X))}" in panel(browser)
        browser.find_element(By.CSS_SELECTOR, 'g.node[data-name="x"]').click()
        text = panel(browser)                               # x·x: x meets itself
        assert "∂L/∂x = ∂L/∂x via mul#1 + ∂L/∂x via mul#1" in text
        assert f"   = {f4(math.cos(X * X) * 2 * X)}" in text and "the gradients agree" in text
    finally:
        browser.switch_to.default_content()
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
