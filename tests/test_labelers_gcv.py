"""GcvLabeler against a local fake Vision gRPC service, through the real ImageAnnotatorClient."""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.cloud.vision_v1 import types as vt

from gerec.errors import LabelerUnavailable
from gerec.scene.base import LabelerInput
from gerec.scene.gcv import GcvLabeler, gcv_credentials_configured

SERVICE = "google.cloud.vision.v1.ImageAnnotator"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes"

Behaviour = Callable[[vt.BatchAnnotateImagesRequest, grpc.ServicerContext], vt.BatchAnnotateImagesResponse]


class FakeVision:
    """A BatchAnnotateImages servicer whose behaviour a test sets; records requests."""

    def __init__(self) -> None:
        self.behaviour: Behaviour = self.labels_answer([("People", 0.97), ("Smile", 0.9), ("fun", 0.4)])
        self.requests: list[vt.BatchAnnotateImagesRequest] = []

    @staticmethod
    def labels_answer(labels: list[tuple[str, float]]) -> Behaviour:
        def answer(request: vt.BatchAnnotateImagesRequest, context: Any) -> vt.BatchAnnotateImagesResponse:
            anns = [vt.EntityAnnotation(description=d, score=s, topicality=s) for d, s in labels]
            return vt.BatchAnnotateImagesResponse(
                responses=[vt.AnnotateImageResponse(label_annotations=anns) for _ in request.requests]
            )

        return answer

    def __call__(self, request: Any, context: Any) -> vt.BatchAnnotateImagesResponse:
        self.requests.append(request)
        return self.behaviour(request, context)


def start_vision(fake: FakeVision, local_credentials: bool = False) -> tuple[grpc.Server, str]:
    """A gRPC server answering BatchAnnotateImages with ``fake``; ``local_credentials`` makes it
    accept gRPC local (loopback) security, over which a client sends per-call credentials."""
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "BatchAnnotateImages": grpc.unary_unary_rpc_method_handler(
                fake,
                request_deserializer=vt.BatchAnnotateImagesRequest.deserialize,
                response_serializer=vt.BatchAnnotateImagesResponse.serialize,
            )
        },
    )
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    srv.add_generic_rpc_handlers((handler,))
    if local_credentials:
        local = grpc.local_server_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        port = srv.add_secure_port("127.0.0.1:0", local)
    else:
        port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    return srv, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FakeVision]]:
    fake = FakeVision()
    srv, addr = start_vision(fake)
    try:
        yield addr, fake
    finally:
        srv.stop(grace=0)


@pytest.fixture()
def fake(server: tuple[str, FakeVision]) -> Iterator[FakeVision]:
    _, vision = server
    vision.requests.clear()
    yield vision
    vision.behaviour = FakeVision.labels_answer([("People", 0.97), ("Smile", 0.9), ("fun", 0.4)])


def make_labeler(server: tuple[str, FakeVision], **kwargs: Any) -> GcvLabeler:
    """The real client on an insecure channel to the fake service."""
    addr, _ = server
    return GcvLabeler(channel=grpc.insecure_channel(addr), **kwargs)


def test_success_labels_scores_and_filter(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    lab = make_labeler(server, min_score=0.5, timeout=5)
    res = lab.label(LabelerInput("a.jpg", encoded=JPEG))
    assert res.labeler == "gcv"
    assert res.labels == ("people", "smile")
    assert res.scores == pytest.approx((0.97, 0.9))
    req = fake.requests[-1].requests[0]
    assert req.image.content == JPEG
    assert [f.type_ for f in req.features] == [vt.Feature.Type.LABEL_DETECTION]
    assert req.features[0].max_results == 50
    # a lower threshold keeps the third label
    assert make_labeler(server, min_score=0.3).label(LabelerInput("a.jpg", encoded=JPEG)).labels == (
        "people",
        "smile",
        "fun",
    )


def test_pixels_are_sent_as_jpeg(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    pixels = np.full((32, 48, 3), 127, np.uint8)
    make_labeler(server).label(LabelerInput("p.jpg", pixels=pixels))
    assert fake.requests[-1].requests[0].image.content[:2] == b"\xff\xd8"


def test_timeout_is_unavailable(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    def slow(request: Any, context: Any) -> vt.BatchAnnotateImagesResponse:
        time.sleep(1.0)
        return vt.BatchAnnotateImagesResponse(responses=[vt.AnnotateImageResponse()])

    fake.behaviour = slow
    lab = make_labeler(server, timeout=0.2, retry_deadline=0.5)
    start = time.monotonic()
    with pytest.raises(LabelerUnavailable, match="timed out"):
        lab.label(LabelerInput("a.jpg", encoded=JPEG))
    assert time.monotonic() - start < 0.9


def test_permission_denied(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    def deny(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "Cloud Vision API has not been used in project 1")
        raise AssertionError("unreachable")

    fake.behaviour = deny
    with pytest.raises(LabelerUnavailable, match="permission denied.*not been used"):
        make_labeler(server).label(LabelerInput("a.jpg", encoded=JPEG))
    assert len(fake.requests) == 1  # not retried


def test_unavailable_is_retried_then_succeeds(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    ok = FakeVision.labels_answer([("Crowd", 0.8)])
    calls = {"n": 0}

    def flaky(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return ok(request, context)

    fake.behaviour = flaky
    res = make_labeler(server, retry_deadline=5).label(LabelerInput("a.jpg", encoded=JPEG))
    assert res.labels == ("crowd",)
    assert calls["n"] == 2


def test_unavailable_gives_up_after_deadline(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    def down(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        context.abort(grpc.StatusCode.UNAVAILABLE, "backend down")
        raise AssertionError("unreachable")

    fake.behaviour = down
    with pytest.raises(LabelerUnavailable, match="unavailable"):
        make_labeler(server, retry_deadline=0.6).label(LabelerInput("a.jpg", encoded=JPEG))
    assert 1 < len(fake.requests) < 10


def test_error_field_in_answer(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    def bad_image(request: Any, context: Any) -> vt.BatchAnnotateImagesResponse:
        err = {"code": 3, "message": "Bad image data."}
        return vt.BatchAnnotateImagesResponse(responses=[vt.AnnotateImageResponse(error=err)])

    fake.behaviour = bad_image
    with pytest.raises(LabelerUnavailable, match="Bad image data"):
        make_labeler(server).label(LabelerInput("a.jpg", encoded=JPEG))


def test_empty_answers(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    fake.behaviour = FakeVision.labels_answer([])
    res = make_labeler(server).label(LabelerInput("a.jpg", encoded=JPEG))
    assert res.labels == () and res.scores == () and "no label" in res.notes[0]

    fake.behaviour = lambda request, context: vt.BatchAnnotateImagesResponse()
    with pytest.raises(LabelerUnavailable, match="empty answer"):
        make_labeler(server).label(LabelerInput("a.jpg", encoded=JPEG))


def test_no_image_is_unavailable() -> None:
    with pytest.raises(LabelerUnavailable, match="no image"):
        GcvLabeler(api_key="k").label(LabelerInput("a.jpg"))


@pytest.fixture()
def no_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No ADC anywhere: no env key file, an empty gcloud config folder, no api key."""
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "GEREC_GCV_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")


def test_missing_credentials_file(no_adc: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nope.json"))
    lab = GcvLabeler()
    for _ in range(2):  # the failure is kept, not retried per photo
        with pytest.raises(LabelerUnavailable, match="no Google Cloud credentials.*nope.json"):
            lab.label(LabelerInput("a.jpg", encoded=JPEG))


def test_no_adc_at_all(no_adc: None) -> None:
    assert not gcv_credentials_configured()
    with pytest.raises(LabelerUnavailable, match="no Google Cloud.*GOOGLE_APPLICATION_CREDENTIALS"):
        GcvLabeler().label(LabelerInput("a.jpg", encoded=JPEG))
    assert gcv_credentials_configured({"api_key": "k"})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        GcvLabeler(min_score=2.0)
    with pytest.raises(ValueError):
        GcvLabeler(timeout=0)


def test_api_key_builds_a_client_without_adc(no_adc: None) -> None:
    lab = GcvLabeler(api_key="test-key")
    client = lab.client()  # no network at construction
    assert type(client).__name__ == "ImageAnnotatorClient"
    assert GcvLabeler(client_options={"api_key": "k"}).client() is not None


def test_breaker_opens_after_a_connection_failure(server: tuple[str, FakeVision], fake: FakeVision) -> None:
    def down(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        context.abort(grpc.StatusCode.UNAVAILABLE, "backend down")
        raise AssertionError("unreachable")

    fake.behaviour = down
    lab = make_labeler(server, timeout=0.8)
    start = time.monotonic()
    with pytest.raises(LabelerUnavailable, match="unavailable"):
        lab.label(LabelerInput("a.jpg", encoded=JPEG))
    assert time.monotonic() - start < 2.0  # the deadline covers the retries
    asked = len(fake.requests)
    start = time.monotonic()
    for name in ("b.jpg", "c.jpg"):
        with pytest.raises(LabelerUnavailable, match="not asked again in this run after: service unavailable"):
            lab.label(LabelerInput(name, encoded=JPEG))
    assert len(fake.requests) == asked and time.monotonic() - start < 0.1
    fake.behaviour = FakeVision.labels_answer([("Party", 0.9)])
    lab.reset()
    assert lab.label(LabelerInput("d.jpg", encoded=JPEG)).labels == ("party",)


@pytest.mark.parametrize(
    ("status", "message", "trips"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "API key not valid. Please pass a valid API key.", True),
        (grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.", True),
        (grpc.StatusCode.INVALID_ARGUMENT, "Bad image data.", False),
    ],
)
def test_credential_failures_open_the_breaker_bad_images_do_not(
    server: tuple[str, FakeVision], fake: FakeVision, status: grpc.StatusCode, message: str, trips: bool
) -> None:
    def refuse(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        context.abort(status, message)
        raise AssertionError("unreachable")

    fake.behaviour = refuse
    lab = make_labeler(server)
    for _ in range(3):
        with pytest.raises(LabelerUnavailable):
            lab.label(LabelerInput("a.jpg", encoded=JPEG))
    assert len(fake.requests) == (1 if trips else 3)
    assert (lab.broken is not None) == trips


def test_unreachable_endpoint_waits_one_deadline_in_all() -> None:
    from gerec.scene.chain import LabelerChain
    from gerec.scene.gcv import DEADLINE

    lab = GcvLabeler(channel=grpc.insecure_channel("127.0.0.1:9"))  # nothing listens on the discard port
    chain = LabelerChain([lab])
    start = time.monotonic()
    results = [chain.label(LabelerInput(f"{i}.jpg", encoded=JPEG)) for i in range(4)]
    elapsed = time.monotonic() - start
    assert DEADLINE == 5.0 and elapsed < DEADLINE + 2.0
    assert all(r.labeler == "none" for r in results)
    assert "gcv unavailable: gcv: " in results[0].notes[0]
    assert all("not asked again" in r.notes[0] for r in results[1:])


def abort_with(status: grpc.StatusCode, message: str) -> Behaviour:
    def refuse(request: Any, context: grpc.ServicerContext) -> vt.BatchAnnotateImagesResponse:
        context.abort(status, message)
        raise AssertionError("unreachable")

    return refuse


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "cannot be used: not a Google credentials file.*AttributeError"),
        ('"a key"', "cannot be used: not a Google credentials file"),
        (
            '{"type": "impersonated_service_account", "source_credentials": [], '
            '"service_account_impersonation_url": "x"}',
            "cannot be used: not a Google credentials file",
        ),
        (_fifo, "is a FIFO; give a JSON key file"),
        (_folder, "is a folder; give a JSON key file"),
    ],
    ids=["list", "string", "impersonated-list", "fifo", "folder"],
)
@pytest.mark.parametrize("given_as", ["credentials_file", "env"])
def test_unusable_credentials_file_falls_back_once(
    no_adc: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content: str | Callable[[Path], None],
    expected: str,
    given_as: str,
) -> None:
    """Valid JSON that is not a credentials object, and files that are not regular files, are
    LabelerUnavailable naming the file (a fallback note), decided once: a FIFO is never opened."""
    import google.auth

    from gerec.scene.chain import LabelerChain
    from gerec.scene.simple import ManualLabeler

    path = tmp_path / "creds.json"
    if callable(content):
        content(path)
    else:
        path.write_text(content)
    loads = {"n": 0}
    for name in ("load_credentials_from_file", "default"):
        real = getattr(google.auth, name)

        def counted(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            loads["n"] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(google.auth, name, counted)
    if given_as == "env":
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        lab = GcvLabeler()
    else:
        lab = GcvLabeler(credentials_file=path)
    chain = LabelerChain([lab, ManualLabeler(["party"])])
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.extend(chain.label(LabelerInput(f"{i}.jpg", encoded=JPEG)) for i in range(3)),
        daemon=True,
    )
    worker.start()
    worker.join(10)
    if worker.is_alive() and path.is_fifo():  # the old code blocks reading the FIFO: let it go
        with open(path, "w"):
            pass
    assert not worker.is_alive() and len(results) == 3
    assert all(r.labeler == "manual" for r in results)
    for r in results:
        assert re.search(f"gcv unavailable: gcv: the credentials file {re.escape(str(path))}.*{expected}", r.notes[0])
    assert loads["n"] <= 1  # the failure is kept: the file is not read again for each photo


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """An OAuth token endpoint that refuses every refresh, as Google does for a revoked grant."""

    hits = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


def test_refused_token_refresh_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """gRPC reports a refused token refresh as UNAVAILABLE; it is not retried as an outage: one
    token request, no Vision request, 'credentials rejected', and the breaker opens."""
    import google.oauth2.credentials
    from google.auth.transport import grpc as auth_grpc
    from google.auth.transport.requests import Request

    monkeypatch.setattr(TokenEndpoint, "hits", 0)
    tokens = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    fake = FakeVision()
    srv, addr = start_vision(fake, local_credentials=True)
    try:
        creds = google.oauth2.credentials.Credentials(
            token=None,
            refresh_token="revoked",
            client_id="c",
            client_secret="s",
            token_uri=f"http://127.0.0.1:{tokens.server_address[1]}/token",
        )
        channel = auth_grpc.secure_authorized_channel(
            creds, Request(), addr, ssl_credentials=grpc.local_channel_credentials()
        )
        lab = GcvLabeler(channel=channel)
        start = time.monotonic()
        with pytest.raises(LabelerUnavailable, match="credentials rejected .*invalid_grant: Token has been expired"):
            lab.label(LabelerInput("a.jpg", encoded=JPEG))
        assert time.monotonic() - start < 1.0
        assert TokenEndpoint.hits == 1 and fake.requests == []
        with pytest.raises(LabelerUnavailable, match="not asked again in this run after: credentials rejected"):
            lab.label(LabelerInput("b.jpg", encoded=JPEG))
        assert TokenEndpoint.hits == 1
    finally:
        srv.stop(grace=0)
        tokens.shutdown()


def test_quota_error_pauses_the_labeler(
    server: tuple[str, FakeVision], fake: FakeVision, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RESOURCE_EXHAUSTED (HTTP 429) is asked once, then not again until the cool-down is over."""
    from gerec.scene import gcv

    monkeypatch.setattr(gcv, "QUOTA_COOLDOWN", 0.3)
    fake.behaviour = abort_with(grpc.StatusCode.RESOURCE_EXHAUSTED, "Quota exceeded for quota metric 'Requests'")
    lab = make_labeler(server)
    with pytest.raises(LabelerUnavailable, match="quota exhausted .*Quota exceeded.*not asked again for 0.3 s"):
        lab.label(LabelerInput("a.jpg", encoded=JPEG))
    for name in ("b.jpg", "c.jpg"):
        with pytest.raises(LabelerUnavailable, match=r"not asked again for \d+ s after: quota exhausted"):
            lab.label(LabelerInput(name, encoded=JPEG))
    assert len(fake.requests) == 1
    time.sleep(0.4)
    fake.behaviour = FakeVision.labels_answer([("Party", 0.9)])
    assert lab.label(LabelerInput("d.jpg", encoded=JPEG)).labels == ("party",)
    assert lab.broken is None and len(fake.requests) == 2
