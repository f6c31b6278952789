"""Named errors raised by gerec. Each says what went wrong in words a user can act on."""

from __future__ import annotations


class GerecError(Exception):
    """Base class of every error gerec raises on purpose."""


class InvalidImage(GerecError):
    """The input is not a photo gerec can read (corrupt, truncated, empty, not an image...)."""


class ImageTooLarge(InvalidImage):
    """The photo exceeds a limit against decompression bombs: file size, pixels, decode memory, JPEG scans."""


class NoFaceDetected(GerecError):
    """No face was found where one is required (e.g. a face crop for saliency)."""


class ModelFileMissing(GerecError):
    """A model file named by the registry or a packaged weight file is not on disk."""


class StaleExport(ModelFileMissing):
    """A converted model file (an ONNX export) is missing or was made from another version of its source."""


class InvalidModelFile(GerecError):
    """A model or network file exists but does not have the expected content."""


class LabelerUnavailable(GerecError):
    """A scene labeler cannot answer (no credentials, service failure, no cached entry)."""


class InvalidDataset(GerecError):
    """A labels file, predictions file, face set or labeler setting is malformed, empty or missing
    (a usage error: exit 2)."""


class RunStoreError(GerecError):
    """The run store cannot be used: not a gerec store, damaged, locked, read-only or unreadable."""


class OutputError(GerecError):
    """An output file cannot be written (its folder is missing, no permission, disk full...)."""


class SettingsMismatch(GerecError):
    """A run is resumed with settings other than the ones it was started with."""


class PathNotAllowed(GerecError):
    """A path given to the dashboard is outside the allowed folders, not a regular file, or too big."""
