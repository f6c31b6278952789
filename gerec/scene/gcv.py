"""Google Cloud Vision label detection as a scene labeler.

The reference system took its scene labels from Google Cloud Vision; this labeler asks the real
service through ``google-cloud-vision``'s ``ImageAnnotatorClient.label_detection``. Every failure
(no credentials, time-out, refused key, service down, an error inside the answer) becomes a
``LabelerUnavailable`` carrying the reason, so a ``LabelerChain`` can fall back.

Credentials, in this order: an explicit ``credentials`` object, ``credentials_file``, ``api_key``
(sent as ``client_options.api_key``), a ``channel``/``transport`` (which carries its own), then
Application Default Credentials from ``GOOGLE_APPLICATION_CREDENTIALS`` or gcloud's
``application_default_credentials.json``. The Compute Engine metadata server is only probed when
``use_metadata_server=True`` (it is a network call that stalls for seconds off Google Cloud).
A credentials file must be a regular file (a FIFO would block the read with no deadline), and any
failure to read one becomes "cannot be used", naming the file.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from gerec.errors import LabelerUnavailable
from gerec.scene.base import LabelerInput, LabelResult, normalise_label
from gerec.scene.gcv_auth import (
    API_KEY_ENV,
    CREDENTIALS_ENV,
    TOKEN_SERVICE_ERRORS,
    gcloud_adc_file,
    gcv_credentials_configured,
    load_credentials,
    token_failure,
)

__all__ = ["DEADLINE", "QUOTA_COOLDOWN", "GcvLabeler", "gcv_credentials_configured"]

DEADLINE = 5.0
"""Seconds one label request may take, retries included."""
QUOTA_COOLDOWN = 60.0
"""Seconds the labeler is not asked after a quota error (Vision's request quotas are per minute)."""


def _retryable(exc: BaseException) -> bool:
    from google.api_core import exceptions as api_exc

    retry_on = (api_exc.ServiceUnavailable, api_exc.InternalServerError)
    return isinstance(exc, retry_on) and token_failure(exc) is None


def _encode_pixels(pixels: np.ndarray) -> bytes:
    """RGB (or grey) uint8 pixels as JPEG bytes."""
    import cv2

    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise LabelerUnavailable("gcv: could not encode the photo as JPEG")
    return bytes(buf.tobytes())


class GcvLabeler:
    """Scene labels from Google Cloud Vision ``LABEL_DETECTION`` (lower-cased, with scores).

    The client is built lazily on the first ``label`` call (and kept); a construction failure,
    such as missing credentials, is raised as ``LabelerUnavailable`` then and on every later call.
    A call has one deadline (``timeout``, default :data:`DEADLINE`) covering its retries; a
    connection or credential failure opens a circuit breaker, so a run with a bad key or an
    unreachable service waits once, not once per photo; a quota error opens it for
    :data:`QUOTA_COOLDOWN` seconds.
    """

    name = "gcv"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        credentials: Any = None,
        credentials_file: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | Any | None = None,
        transport: Any = None,
        channel: Any = None,
        timeout: float = DEADLINE,
        retry_deadline: float = DEADLINE,
        min_score: float = 0.5,
        max_results: int = 50,
        use_metadata_server: bool = False,
    ) -> None:
        if timeout <= 0 or retry_deadline < 0:
            raise ValueError("timeout must be > 0 and retry_deadline >= 0")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError("min_score must be within 0..1")
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or None
        self.credentials = credentials
        self.credentials_file = credentials_file
        self.client_options = client_options
        self.transport = transport
        self.channel = channel
        self.timeout = float(timeout)
        self.retry_deadline = float(retry_deadline)
        self.min_score = float(min_score)
        self.max_results = int(max_results)
        self.use_metadata_server = use_metadata_server
        self._client: Any = None
        self._client_error: str | None = None
        self.broken: str | None = None  # why the breaker opened; no call is made while set
        self._broken_until: float | None = None  # monotonic end of a quota cool-down; None: the run
        self._lock = threading.Lock()

    # -- client ---------------------------------------------------------------------------------
    def _resolve_credentials(self) -> Any:
        """Credentials object, or None when the api key / transport / channel supplies them."""
        from google.auth import exceptions as auth_exc

        if self.credentials is not None:
            return self.credentials
        if self.transport is not None or self.channel is not None:
            return None
        if self.credentials_file is not None:
            return load_credentials(os.fspath(self.credentials_file), "credentials_file")
        if self.api_key or self._options_api_key():
            return None
        env_file = os.environ.get(CREDENTIALS_ENV)
        gcloud_file = gcloud_adc_file()
        if not (env_file or gcloud_file or self.use_metadata_server):
            raise auth_exc.DefaultCredentialsError(
                f"no Application Default Credentials: set {CREDENTIALS_ENV} to a service-account key, "
                "run `gcloud auth application-default login`, or give an api_key"
            )
        if env_file:
            return load_credentials(env_file, f"${CREDENTIALS_ENV}", adc=True)
        return load_credentials(str(gcloud_file) if gcloud_file else None, "gcloud's ADC file", adc=True)

    def _options_api_key(self) -> str | None:
        opts = self.client_options
        if isinstance(opts, Mapping):
            return opts.get("api_key") or None
        return getattr(opts, "api_key", None) or None

    def _build_client(self) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.cloud.vision_v1 import ImageAnnotatorClient
        from google.cloud.vision_v1.services.image_annotator.transports import ImageAnnotatorGrpcTransport

        credentials = self._resolve_credentials()
        transport = self.transport
        if transport is None and self.channel is not None:
            transport = ImageAnnotatorGrpcTransport(channel=self.channel)
        options: Any = self.client_options
        if isinstance(options, Mapping):
            options = ClientOptions(**dict(options))
        if self.api_key and transport is None and credentials is None:
            options = options or ClientOptions()
            options.api_key = self.api_key
        if transport is not None:
            return ImageAnnotatorClient(transport=transport, client_options=options)
        return ImageAnnotatorClient(credentials=credentials, client_options=options)

    def client(self) -> Any:
        """The Vision client, built on first use (no network call); ``LabelerUnavailable`` saying
        why when it cannot be built (no credentials, an unreadable key file)."""
        from google.auth import exceptions as auth_exc

        with self._lock:
            if self._client is None and self._client_error is None:
                try:
                    self._client = self._build_client()
                except LabelerUnavailable as exc:
                    self._client_error = str(exc)
                except auth_exc.DefaultCredentialsError as exc:
                    self._client_error = f"no Google Cloud credentials ({exc})"
                except (auth_exc.GoogleAuthError, ValueError, OSError) as exc:
                    self._client_error = f"cannot create the Vision client: {type(exc).__name__}: {exc}"
            if self._client_error is not None:
                raise LabelerUnavailable(f"gcv: {self._client_error}")
            return self._client

    def _retry(self) -> Any:
        from google.api_core import retry as retries

        return retries.Retry(
            predicate=_retryable,
            initial=0.2,
            maximum=2.0,
            multiplier=2.0,
            timeout=min(self.retry_deadline, self.timeout),
        )

    # -- labelling ------------------------------------------------------------------------------
    def label(self, item: LabelerInput) -> LabelResult:
        """Labels scoring at least ``min_score``, best first; ``LabelerUnavailable`` on any failure.

        One call, retries included, ends within ``timeout`` seconds. After a connection or
        credential failure the breaker opens: later calls fail at once, without the network,
        until :meth:`reset`.
        """
        if item.encoded:
            content = bytes(item.encoded)
        elif item.pixels is not None:
            content = _encode_pixels(item.pixels)
        else:
            raise LabelerUnavailable(f"gcv: no image bytes or pixels for {item.name}")
        from google.api_core import exceptions as api_exc

        self._check_breaker()
        client = self.client()
        try:
            response = client.label_detection(
                image={"content": content},
                max_results=self.max_results,
                retry=self._retry() if self.retry_deadline > 0 else None,
                timeout=self.timeout,  # a deadline for the whole call, retries included
            )
        except Exception as exc:
            reason, trips = self._failure(exc)
            if trips:
                with self._lock:
                    self.broken = reason
                    quota = isinstance(exc, api_exc.ResourceExhausted)
                    self._broken_until = time.monotonic() + QUOTA_COOLDOWN if quota else None
                if quota:
                    reason += f"; not asked again for {QUOTA_COOLDOWN:g} s"
            raise LabelerUnavailable(f"gcv: {reason}") from exc
        return self._result(response)

    def _check_breaker(self) -> None:
        """``LabelerUnavailable`` while the breaker is open; a quota cool-down closes it when over."""
        with self._lock:
            if self.broken is None:
                return
            if self._broken_until is None:
                raise LabelerUnavailable(f"gcv: not asked again in this run after: {self.broken}")
            left = self._broken_until - time.monotonic()
            if left > 0:
                raise LabelerUnavailable(f"gcv: not asked again for {math.ceil(left)} s after: {self.broken}")
            self.broken = self._broken_until = None

    def reset(self) -> None:
        """Close the breaker: the next call asks the service again."""
        with self._lock:
            self.broken = self._broken_until = None

    def _failure(self, exc: Exception) -> tuple[str, bool]:
        """Plain words for a failed call, and whether it opens the breaker (connection, credentials,
        quota)."""
        from google.api_core import exceptions as api_exc
        from google.auth import exceptions as auth_exc

        refused = token_failure(exc)
        if refused is not None and refused.startswith(TOKEN_SERVICE_ERRORS):
            return f"no access token: the token service failed ({refused})", True
        if refused is not None:
            return f"credentials rejected when asking for an access token ({refused})", True
        if isinstance(exc, api_exc.ResourceExhausted):  # gRPC RESOURCE_EXHAUSTED, HTTP 429
            return f"quota exhausted ({exc.message})", True
        if isinstance(exc, api_exc.DeadlineExceeded):
            return f"timed out after {self.timeout:g} s ({exc.message})", True
        if isinstance(exc, api_exc.PermissionDenied):
            return f"permission denied ({exc.message})", True
        if isinstance(exc, api_exc.Unauthenticated):
            return f"credentials rejected ({exc.message})", True
        if isinstance(exc, api_exc.RetryError):
            return f"service unavailable, gave up after retrying for {self.retry_deadline:g} s ({exc.cause})", True
        if isinstance(exc, api_exc.ServiceUnavailable):
            return f"service unavailable ({exc.message})", True
        if isinstance(exc, api_exc.GoogleAPICallError):
            key_refused = "api key" in str(exc.message).lower() or "API_KEY" in str(getattr(exc, "reason", ""))
            return f"request failed: {type(exc).__name__}: {exc.message}", key_refused
        if isinstance(exc, auth_exc.GoogleAuthError):
            return f"authentication failed: {exc}", True
        if isinstance(exc, IndexError):  # the service answered with no response for the image
            return "empty answer (no response for the image)", False
        return f"unexpected {type(exc).__name__}: {exc}", False

    def _result(self, response: Any) -> LabelResult:
        error = getattr(response, "error", None)
        if error is not None and (error.code or error.message):
            raise LabelerUnavailable(f"gcv: the answer reports an error (code {error.code}): {error.message}")
        best: dict[str, float] = {}
        for ann in response.label_annotations:
            label = normalise_label(ann.description)
            score = float(ann.score)
            if label and score >= self.min_score and score > best.get(label, -1.0):
                best[label] = score
        ordered = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        notes = () if ordered else (f"gcv returned no label scoring >= {self.min_score:g}",)
        return LabelResult(tuple(k for k, _ in ordered), self.name, tuple(round(v, 6) for _, v in ordered), notes)
