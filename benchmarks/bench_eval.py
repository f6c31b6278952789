"""Photos per second of `evaluate --images` with the local engine and with Ray, same photos, same run.

The photos are the 15 group photos in ../shared/data/group_photos, each linked COPIES times under
class-named folders. Each engine runs as a real `python -m gerec evaluate` process; wall time
includes model loading (the cost a user pays). Peak memory is the largest total RSS of the
process and all its descendants (Ray's raylet, GCS and workers included), sampled every 0.1 s.
The last line is ``ratio: <ray photos/s / local photos/s>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gerec.config import data_dir

COPIES = 4


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _tree_rss_mb(pid: int) -> float:
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
        todo.extend(_children(current))
    return total


def run_engine(engine: str, images: Path, out: Path) -> tuple[float, float]:
    cmd = [
        sys.executable,
        "-m",
        "gerec",
        "evaluate",
        "--images",
        str(images),
        "--out",
        str(out),
        "--engine",
        engine,
        "--workers",
        "2",
        "--labeler",
        "offline",
    ]
    peak = [0.0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} engine failed: {err[-2000:]}")
    return wall, peak[0]


def main() -> None:
    photos = sorted((data_dir() / "group_photos").glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos in {data_dir() / 'group_photos'} (set GEREC_DATA)")
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images" / "Neutral"
        images.mkdir(parents=True)
        for copy in range(COPIES):
            for photo in photos:
                (images / f"{copy}_{photo.name}").symlink_to(photo)
        n = len(photos) * COPIES
        print(f"{n} photos ({len(photos)} group photos x {COPIES}); 2 CPU cores; Ray: 2 actors")
        results = {}
        for engine in ("local", "ray"):
            wall, peak = run_engine(engine, images.parent, Path(tmp) / f"{engine}.csv")
            results[engine] = n / wall
            print(f"{engine:<6} {wall:7.1f} s  {n / wall:5.2f} photos/s  peak memory {peak:7.0f} MB")
    print(f"ratio: {results['ray'] / results['local']:.2f}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
