"""The app in a real browser: ``streamlit run`` on a loopback port, driven by Chromium.

A fixture starts the server on a free port with its own data folder, waits
for ``/_stcore/health`` (failing at once, with the server's output, if the
process dies) and always stops it. Playwright drives Debian's Chromium; the
tests are skipped, with the reason, only where no browser can be started.
Screenshots go to ``test-artefacts/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "test-artefacts"
CHROMIUM = os.environ.get("HSCN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
SOLVE_TIMEOUT = 300_000  # ms: the sample takes seconds, a loaded CI machine much longer

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def start_server(data_dir: Path, log: Path, timeout: float = 90.0) -> Server:
    """``streamlit run app.py`` on a free loopback port; returns once it is healthy."""
    port = free_port()
    env = {**os.environ, "HSCN_PROCURE_DATA": str(data_dir), "PYTHONUNBUFFERED": "1"}
    handle = log.open("ab")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"streamlit exited with {process.returncode} before answering:\n{server.output()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as reply:
                if reply.read().decode().strip() == "ok":
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    stop_server(server)
    pytest.fail(f"streamlit did not answer /_stcore/health in {timeout:g} s:\n{server.output()}")


def stop_server(server: Server) -> None:
    """Terminate the server (and anything it started), killing it if it will not stop."""
    if server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser: {CHROMIUM} does not exist (apt-get install chromium)")
    manager = sync_api.sync_playwright().start()
    try:
        try:
            launched = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # any launch failure means "no browser here"
            pytest.skip(f"no browser: {CHROMIUM} could not be started ({exc})")
        yield launched
        launched.close()
    finally:
        manager.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(data_dir, tmp_path / "streamlit.log")
    try:
        yield running
    finally:
        stop_server(running)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait for the script run that the last interaction started to finish.

    Checked twice: a page that calls ``st.rerun()`` is briefly idle between runs.
    """
    for _ in range(2):
        page.wait_for_timeout(400)  # let the (re)run start
        page.wait_for_selector(IDLE, timeout=timeout)


def metric_value(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label)
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


@contextlib.contextmanager
def browser_page(browser, name: str) -> Iterator[object]:
    """A fresh page; on failure a screenshot ``test-artefacts/<name>-failure.png`` is kept."""
    ARTEFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTEFACTS / f"{name}-failure.png"))
        raise
    finally:
        context.close()


def wait_for_plan(page) -> str:
    """Wait for a solve to finish; the total on screen."""
    page.locator("[data-testid='stMetric']").filter(has_text="Total cost over the term").wait_for(
        timeout=SOLVE_TIMEOUT
    )
    wait_idle(page, timeout=SOLVE_TIMEOUT)
    return metric_value(page, "Total cost over the term")


def go_to(page, slug: str) -> None:
    """Open a page from the sidebar navigation by its address (``plan``, ``scenarios``)."""
    page.locator(f"[data-testid='stSidebarNav'] a[href$='/{slug}']").first.click()
    wait_idle(page)


def test_sample_solves_in_the_browser(browser, server: Server) -> None:
    with browser_page(browser, "plan-sample") as page:
        page.goto(server.url)
        wait_idle(page)
        page.get_by_role("heading", name="HSCN connectivity planner").wait_for()
        assert metric_value(page, "Sites") == "150"

        page.get_by_role("button", name=re.compile("Solve this consortium now")).click()
        total = wait_for_plan(page)
        assert re.fullmatch(r"£\d{1,3}(,\d{3})+", total), total
        assert int(total[1:].replace(",", "")) > 100_000
        page.get_by_text(re.compile(r"plan for all 150 sites")).first.wait_for()
        page.screenshot(path=str(ARTEFACTS / "plan-sample.png"), full_page=True)

        # the Excel download is a real workbook
        with page.expect_download() as info:
            page.get_by_role("button", name=re.compile("Excel workbook")).click()
        target = ARTEFACTS / "plan-sample.xlsx"
        info.value.save_as(target)
        assert target.read_bytes()[:2] == b"PK"


OWN_SITES = (
    "site_id,organisation,region,bandwidth_mbps,current_monthly_cost\n"
    "gp-1,my-pcn,north-west,80,210\n"
    "gp-2,my-pcn,north-west,300,420\n"
    "care-1,my-council,north-west,30,95\n"
)


def test_own_csv_solved_and_saved_scenario_survives_a_restart(
    browser, data_dir: Path, tmp_path: Path
) -> None:
    """Upload a sites CSV, solve, save the scenario; after a restart it is still there."""
    own = tmp_path / "our-sites.csv"
    own.write_text(OWN_SITES)
    first = start_server(data_dir, tmp_path / "first.log")
    try:
        with browser_page(browser, "own-sites") as page:
            page.goto(f"{first.url}/data")
            wait_idle(page)
            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(own)
            page.get_by_text("Sites loaded: 3 sites from our-sites.csv").wait_for(timeout=30_000)
            wait_idle(page)
            go_to(page, "plan")
            page.get_by_role("button", name=re.compile("Solve$")).click()
            total = wait_for_plan(page)
            page.get_by_text("Best plan for all 3 sites").first.wait_for()
            go_to(page, "scenarios")
            name = page.get_by_label("Name")
            name.fill("Our three sites")
            name.press("Enter")
            wait_idle(page)
            page.get_by_role("button", name=re.compile("Save$")).click()
            page.get_by_text("Saved scenario 'Our three sites'").first.wait_for(timeout=30_000)
    finally:
        stop_server(first)

    second = start_server(data_dir, tmp_path / "second.log")
    try:
        with browser_page(browser, "after-restart") as page:
            page.goto(f"{second.url}/scenarios")
            wait_idle(page)
            page.get_by_text("Saved scenarios (1)").wait_for(timeout=30_000)
            page.get_by_role("button", name=re.compile("Load it$")).click()
            page.get_by_text("Loaded scenario 'Our three sites'").first.wait_for(timeout=30_000)
            go_to(page, "plan")
            assert wait_for_plan(page) == total
            page.screenshot(path=str(ARTEFACTS / "scenario-after-restart.png"), full_page=True)
    finally:
        stop_server(second)
