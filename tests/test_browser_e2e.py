"""One real-browser end-to-end test: Debian chromium (Playwright) against `streamlit run app.py`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SAMPLE = "image_happy_1.jpg"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(photos_dir):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)")
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "GEREC_SAMPLES": str(photos_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_analyze_sample_in_chromium(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(server, wait_until="domcontentloaded")
            expect(page.get_by_text("Analyze group photos")).to_be_visible(timeout=60_000)
            box = page.get_by_test_id("stSelectbox").filter(has_text="sample photo")
            box.click()
            page.get_by_role("option", name=SAMPLE).click()
            metrics = page.get_by_test_id("stMetric")
            expect(metrics.filter(has_text="Fused")).to_be_visible(timeout=240_000)
            expect(metrics.filter(has_text="Top-down")).to_be_visible()
            expect(metrics.filter(has_text="Bottom-up")).to_contain_text("Positive")
            expect(page.get_by_text("faces (ensemble and each member)")).to_be_visible()
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
            expect(page.get_by_text("Labeler: cached")).to_be_visible()
            page.wait_for_timeout(1500)
            assert page.get_by_test_id("stException").count() == 0
            shot = tmp_path / "analyze.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
        finally:
            browser.close()
