"""What a page keeps for another page, or for its own next run, in ``st.session_state``: frozen,
typed values under named keys instead of loose dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from gerec.types import Probs

PHOTO_EVIDENCE = "scene_from_photo"
"""Key of the :class:`PhotoEvidence` the Analyze page leaves for the Scene network page."""
ANALYZE_PATH = "analyze_path"
"""Key of the photo path (a ``str``) Error analysis asks the Analyze page to open."""
ANALYZE_UPLOADS = "analyze_uploads"
"""Key of the photos uploaded on Analyze (a tuple of (name, bytes)): Streamlit forgets an uploader's
files when another page is opened, so Analyze keeps them to show again on the way back."""
ANALYZE_PICKS = "analyze_picks"
"""Key of Analyze's picks (a dict: sample photo, photo inspected), restored on the way back likewise."""
LOADED_RESULTS = "eval_results"
"""Key of the :class:`LoadedResults` the Error analysis page shows."""


@dataclass(frozen=True)
class PhotoEvidence:
    """A photo's scene labels (as last shown, edits included) and its faces, for the what-if."""

    image: str
    labels: tuple[str, ...]
    cnn: str | None
    """The bottom-up class, ``None`` when no face was found."""
    faces: int
    evidence: Probs | str | None = None
    """The faces' evidence exactly as fusion took it (``GroupPrediction.bottom_up_evidence``: the
    faces' tempered mean in photo mode), so the Scene network page starts from the photo's fused
    answer, not from a hard CNN class that can give another one."""


@dataclass(frozen=True, eq=False)
class LoadedResults:
    """A results table on the Error analysis page: where it came from, the network mode its
    per-label analysis uses, and what made it (the sidecar or stored run's provenance, when known)."""

    frame: pd.DataFrame
    source: str
    mode: str
    provenance: dict[str, Any] | None = None
    notice: str | None = None
    """A warning that stays with these results (e.g. which uploaded files were ignored)."""
