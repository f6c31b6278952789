"""First photo: seconds from `streamlit run app.py` to a 3-face photo shown with verdict and saliency.

Headless Debian chromium (Playwright) is started first (a user's browser is already open); the
clock starts when `streamlit run` is launched. The page is opened as soon as the health check
answers and the sample photo is picked at once (the worst case for background loading, since a
person takes a few seconds to choose). Two times per run: the verdict (the three metrics shown)
and the saliency (one overlay per ensemble member for the selected face).

Measured in the same run:

- baseline: the face networks run by TensorFlow (``GEREC_RUNTIME=keras``), background preloading
  and shap's compiled-code cache off (``GEREC_PRELOAD=0 GEREC_JIT_CACHE=0``), which is how the
  dashboard behaved before: TensorFlow is imported and everything loads on the first photo;
- gerec, first process ever: preloading on, an empty compiled-code cache (a new temporary folder);
- gerec: preloading on, the cache left by an earlier process (any restart after the first).

Goal: at most 10 s to saliency. Last line: ``seconds: <gerec's time to saliency>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLE = "image_happy_1.jpg"
"""A sample photo with 3 faces."""
GOAL = 10.0
BASELINE = "baseline (TensorFlow networks, no preload, no compiled-code cache: the dashboard before)"
OURS = "gerec (preload, compiled-code cache from an earlier process)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def n_members() -> int:
    from gerec.emotion.registry import read_registry

    return len(read_registry().members)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_photo(browser, env_extra: dict[str, str], members: int) -> tuple[float, float, float, float]:
    """(health, verdict, saliency) seconds after launching `streamlit run` with ``env_extra``, and the
    server's CPU seconds until saliency (less sensitive to other jobs on the machine)."""
    from playwright.sync_api import expect

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise SystemExit("streamlit did not start") from None
                time.sleep(0.05)
        health = time.perf_counter() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url, wait_until="domcontentloaded")
        box = page.get_by_test_id("stSelectbox").filter(has_text="sample photo")
        expect(box).to_be_visible(timeout=60_000)
        box.click()
        page.get_by_role("option", name=SAMPLE).click()
        expect(page.get_by_test_id("stMetric").filter(has_text="Fused")).to_be_visible(timeout=300_000)
        verdict = time.perf_counter() - t0
        # the verdict's map of the first face (members' maps are drawn on demand)
        maps = page.get_by_test_id("stImageCaption").filter(has_text="explained views p=")
        expect(maps.first).to_be_visible(timeout=300_000)
        saliency = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
        page.close()
        return health, verdict, saliency, cpu
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="measure gerec only")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} not found (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    members = n_members()
    print(
        f"photo: {SAMPLE} (3 faces), {members} ensemble members; load average before: "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            fresh = tempfile.mkdtemp(prefix="gerec-jit-")
            runs = (
                []
                if args.no_baseline
                else [
                    (BASELINE, {"GEREC_RUNTIME": "keras", "GEREC_PRELOAD": "0", "GEREC_JIT_CACHE": "0"}),
                    ("gerec, first process ever (empty compiled-code cache)", {"GEREC_JIT_CACHE": fresh}),
                ]
            )
            runs.append((OURS, {}))
            results = {}
            for name, env in runs:
                health, verdict, saliency, cpu = first_photo(browser, env, members)
                results[name] = saliency
                print(
                    f"{name}: health {health:.1f} s, verdict {verdict:.1f} s, saliency {saliency:.1f} s "
                    f"(server CPU until saliency: {cpu:.1f} s)"
                )
        finally:
            browser.close()
            shutil.rmtree(fresh, ignore_errors=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    ours = results[OURS]
    if BASELINE in results:
        print(f"ratio baseline / gerec: {results[BASELINE] / ours:.2f}")
    print(f"goal: <= {GOAL:.0f} s: {'met' if ours <= GOAL else 'NOT met'}")
    print(f"seconds: {ours:.1f}")


if __name__ == "__main__":
    main()
