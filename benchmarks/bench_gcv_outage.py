"""Cloud labels during an outage: how long a run of photos waits when Vision cannot be reached.

    .venv/bin/python benchmarks/bench_gcv_outage.py [--photos 10]

The real ``google-cloud-vision`` client talks to 127.0.0.1:9, where nothing listens (connection
refused, reported by gRPC as UNAVAILABLE and retried). Prints the time of the first photo and
of all of them through a ``LabelerChain`` (which falls back, as in a run), with gerec's settings
(one 5 s deadline per call, circuit breaker) and with the settings gerec had before (10 s per
attempt, 15 s of retries, no breaker: ``--before``, slow).
"""

from __future__ import annotations

import argparse
import time

import grpc

from gerec.scene.base import LabelerInput
from gerec.scene.chain import LabelerChain
from gerec.scene.gcv import GcvLabeler

JPEG = b"\xff\xd8\xff\xe0 not sent anywhere"


def run(photos: int, before: bool) -> None:
    channel = grpc.insecure_channel("127.0.0.1:9")
    labeler = GcvLabeler(channel=channel, timeout=10.0, retry_deadline=15.0) if before else GcvLabeler(channel=channel)
    chain = LabelerChain([labeler])
    times = []
    start = time.perf_counter()
    for i in range(photos):
        t0 = time.perf_counter()
        if before:
            labeler.reset()  # no breaker: every photo asks again
        result = chain.label(LabelerInput(f"{i}.jpg", encoded=JPEG))
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    label = "before (10 s + 15 s retries, no breaker)" if before else "gerec (5 s deadline, breaker)"
    print(f"{label}: first photo {times[0]:.2f} s, {photos} photos {total:.2f} s; last note: {result.notes[0][:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--before", action="store_true", help="also time the old settings (about 15 s a photo)")
    args = parser.parse_args()
    run(args.photos, before=False)
    if args.before:
        run(min(args.photos, 3), before=True)


if __name__ == "__main__":
    main()
