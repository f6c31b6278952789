"""Scene labelers: the interface, cached and manual labelers, and the fallback chain."""

from gerec.scene.base import LabelerInput, LabelResult, SceneLabeler, normalise_label
from gerec.scene.chain import LabelerChain
from gerec.scene.simple import CachedLabeler, ManualLabeler, read_label_file

__all__ = [
    "CachedLabeler",
    "LabelResult",
    "LabelerChain",
    "LabelerInput",
    "ManualLabeler",
    "SceneLabeler",
    "normalise_label",
    "read_label_file",
]

# Cloud, offline and config-built labelers (issue 6). OfflineLabeler loads OpenCV lazily.
from gerec.scene.config import build_chain, load_chain_config  # noqa: E402
from gerec.scene.gcv import GcvLabeler, gcv_credentials_configured  # noqa: E402
from gerec.scene.offline import OfflineLabeler  # noqa: E402

__all__ += ["GcvLabeler", "OfflineLabeler", "build_chain", "gcv_credentials_configured", "load_chain_config"]
