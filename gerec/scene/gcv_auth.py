"""Credentials for Google Cloud Vision: where they come from, and how a failed one reads.

Split from :mod:`gerec.scene.gcv` (the labeler itself). A credentials file must be a regular file
(a FIFO would block the read with no deadline), and any failure of google-auth to read one that
is there becomes ``LabelerUnavailable`` naming the file. Nothing here makes a network call.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gerec.errors import LabelerUnavailable

CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
API_KEY_ENV = "GEREC_GCV_API_KEY"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
TOKEN_FAILED = "Getting metadata from plugin failed"
"""How gRPC reports a failed credentials refresh: status UNAVAILABLE, with only ``str()`` of the
``google.auth`` ``RefreshError`` after this text (grpc/_plugin_wrapping.py passes no exception on)."""
TOKEN_SERVICE_ERRORS = ("internal_failure", "server_error", "temporarily_unavailable")
"""OAuth error codes that mean the token service failed, not the credentials (google-auth retries
these itself, in ``google.oauth2._client._can_retry``)."""


def gcloud_adc_file() -> Path | None:
    """gcloud's well-known ADC file, if present (no network)."""
    try:
        from google.auth import _cloud_sdk

        path = Path(_cloud_sdk.get_application_default_credentials_path())
    except Exception:  # pragma: no cover - google-auth internals moved
        return None
    return path if path.is_file() else None


def _refuse_irregular(path: str, why: str) -> None:
    """Raise ``LabelerUnavailable`` when ``path`` exists but is not a regular file (no read)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing or unreadable: google-auth says so in its own words
        return
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a file"
        raise LabelerUnavailable(f"the credentials file {path} ({why}) is {kind}; give a JSON key file")


def load_credentials(path: str | None, why: str, *, adc: bool = False) -> Any:
    """Credentials from ``path``, or Application Default Credentials (``adc``; ``path`` is then the
    file they come from, if known). Any failure of google-auth on a file that is there (a JSON list,
    a list where an object belongs) is ``LabelerUnavailable`` naming the file."""
    import google.auth
    from google.auth import exceptions as auth_exc

    if path is not None:
        _refuse_irregular(path, why)
    try:
        if adc:
            return google.auth.default(scopes=SCOPES)[0]
        return google.auth.load_credentials_from_file(os.fspath(path or ""), scopes=SCOPES)[0]
    except auth_exc.DefaultCredentialsError:
        raise  # missing file, bad JSON, bad key: google-auth's own words
    except Exception as exc:
        what = f"the credentials file {path} ({why})" if path else "Application Default Credentials"
        raise LabelerUnavailable(
            f"{what} cannot be used: not a Google credentials file of a known shape ({type(exc).__name__}: {exc})"
        ) from exc


def token_failure(exc: BaseException) -> str | None:
    """The refresh error's text when ``exc`` is a failed token refresh (not worth retrying:
    google-auth already retries a token endpoint's transient errors), else None."""
    from google.api_core import exceptions as api_exc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, auth_exc.RefreshError):
        return str(exc.args[0]) if exc.args else str(exc)
    if not (isinstance(exc, api_exc.ServiceUnavailable) and TOKEN_FAILED in str(exc.message)):
        return None
    detail = str(exc.message).split("error: ", 1)[-1]
    first = re.match(r"^\('((?:[^'\\]|\\.)*)'", detail)  # str(RefreshError): ('invalid_grant: ...', {...})
    return first.group(1) if first else detail


def gcv_credentials_configured(options: Mapping[str, Any] | None = None) -> bool:
    """Whether credentials for Google Cloud Vision are configured locally (checks files, no network).

    True for an ``api_key``/``credentials``/``credentials_file``/``channel``/``transport`` option,
    ``$GEREC_GCV_API_KEY``, ``$GOOGLE_APPLICATION_CREDENTIALS`` (set, even to a bad file: the
    labeler then reports why) or gcloud's ADC file.
    """
    opts = dict(options or {})
    if any(opts.get(k) for k in ("api_key", "credentials", "credentials_file", "channel", "transport")):
        return True
    client_options = opts.get("client_options")
    if isinstance(client_options, Mapping) and client_options.get("api_key"):
        return True
    if os.environ.get(API_KEY_ENV) or os.environ.get(CREDENTIALS_ENV):
        return True
    return gcloud_adc_file() is not None
