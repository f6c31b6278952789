"""Results tables: OUT.csv-shaped tables made, read and checked (pandas; no streamlit).

A results table has the columns of ``python -m gerec evaluate --out OUT.csv``: ``image, actual,
bottom_up, top_down, fused, p_<module>_<class>..., faces, labeler, labels_used (|-joined),
labels_ignored, error``. Any source that yields such a table (a run now, a saved OUT.csv, later a
runs store) plugs into the same analysis (:mod:`gerec_app.analysis`, :mod:`gerec_app.label_analysis`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import pandas as pd

from gerec.bn import SceneNetwork
from gerec.classes import CLASSES, MODULES, true_class_of
from gerec.errors import InvalidDataset
from gerec.formatting import sentence
from gerec.provenance import SIDECAR_SUFFIX
from gerec.types import GroupPrediction

REQUIRED = ("image", "actual", "top_down")
CUT_SHORT = "row cut short (the file ends or breaks inside it): not scored"
"""The error a results row gets when it has fewer fields than the header (a run stopped mid-row)."""


def prediction_row(image: str, actual: str | None, pred: GroupPrediction) -> dict[str, object]:
    """One OUT.csv row for a prediction (the same row ``python -m gerec evaluate`` writes)."""
    from gerec.runs.records import csv_row, prediction_record

    return csv_row(prediction_record(replace(pred, image=image), actual))


def in_sample_note(mode: str, labels_path: str | Path) -> str | None:
    """A warning when the ``mode`` network was tuned on this very labels file (its accuracy is in-sample)."""
    from gerec.provenance import in_sample_text, is_in_sample
    from gerec.versions import file_version

    path = Path(labels_path)
    if not path.is_file() or not is_in_sample(mode, file_version(path)["sha256"]):
        return None
    return sentence(in_sample_text(mode, path))


def store_frame(records: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """A results table from a stored run's records."""
    from gerec.runs.records import csv_row

    return to_frame([csv_row(dict(r)) for r in records])


def label_only_rows(
    labels: Mapping[str, Sequence[str]], cnn: Mapping[str, str | None], mode: str, network: SceneNetwork | None = None
) -> Iterator[dict[str, object]]:
    """OUT.csv rows of a label-only evaluation (images with a known true class), one at a time."""
    from gerec.pipeline import Pipeline, PipelineConfig
    from gerec.scene.chain import LabelerChain

    # no face member is used: the face registry is not read (a damaged ensemble.json must not stop it)
    pipeline = Pipeline(PipelineConfig(mode=mode), labeler=LabelerChain([]), network=network, faces=False)
    for name in labels:
        actual = true_class_of(name)
        if actual is None:
            continue
        row = prediction_row(name, actual, pipeline.from_labels(name, labels[name], cnn.get(name)))
        yield {**row, "faces": ""}  # label-only: the photo's face count is not known


def to_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """A results table from rows, checked and normalised."""
    return normalise(pd.DataFrame(list(rows)))


def read_results(source: str | Path | IO[bytes] | bytes) -> pd.DataFrame:
    """A saved OUT.csv (path, bytes or file) as a results table. Raises ``InvalidDataset``."""
    try:
        if isinstance(source, str | Path):
            data = Path(source).read_bytes()
        else:
            data = source if isinstance(source, bytes) else source.read()
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        short = short_rows(data.decode("utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDataset(f"cannot read results CSV: {exc}") from exc
    return normalise(mark_short_rows(frame, short) if len(short) == len(frame) else frame)


def short_rows(text: str) -> list[bool]:
    """Per data row of a CSV text: whether it has fewer fields than the header (blank lines skipped,
    as pandas does). pandas reads the missing fields as empty ones, so it cannot tell."""
    lengths = [len(fields) for fields in csv.reader(io.StringIO(text, newline="")) if fields]
    return [n < lengths[0] for n in lengths[1:]]


def mark_short_rows(frame: pd.DataFrame, short: Sequence[bool]) -> pd.DataFrame:
    """Rows with fewer fields than the header fail (:data:`CUT_SHORT`), their answers cleared.

    A run stopped while writing a row leaves it cut, a number cut to its first digits ("0.2" of
    "0.25"); read as it was, it was scored.
    """
    mask = pd.Series(list(short), index=frame.index, dtype=bool)
    if not mask.any():
        return frame
    frame = frame.copy()
    answers = [c for c in frame.columns if c in MODULES or c.startswith("p_")]
    frame.loc[mask, answers] = ""
    if "error" not in frame.columns:
        frame["error"] = ""
    frame.loc[mask, "error"] = CUT_SHORT
    return frame


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the columns, fill optional ones, keep rows with a known true class."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidDataset(f"results table lacks columns {', '.join(missing)} (expected gerec's OUT.csv)")
    frame = frame.copy()
    for column in ("bottom_up", "fused", "labels_used", "labels_ignored", "labeler", "error"):
        if column not in frame.columns:
            frame[column] = ""
    for column in ("image", "actual", *MODULES, "labels_used", "labels_ignored", "labeler", "error"):
        frame[column] = frame[column].fillna("").astype(str)
    frame = frame[frame["actual"].isin(CLASSES)].reset_index(drop=True)
    if frame.empty:
        raise InvalidDataset("no rows with a true class (Positive/Neutral/Negative) in the results")
    return frame


@dataclass(frozen=True)
class ResultsUpload:
    """Which uploaded files the page opens: one results CSV, its sidecar if any, and the rest ignored."""

    csv: int | None
    sidecar: int | None
    ignored: tuple[str, ...]

    def notice(self, names: Sequence[str]) -> str | None:
        """The warning that says which file is used and which are not (``None`` when all are used)."""
        if not self.ignored or self.csv is None:
            return None
        used = names[self.csv] + (f" with {names[self.sidecar]}" if self.sidecar is not None else "")
        return (
            f"One results file is opened at a time: {used} is used; "
            f"{', '.join(self.ignored)} {'was' if len(self.ignored) == 1 else 'were'} ignored. "
            "To open another, leave only it (and its .csv.json) in the upload box; to compare two runs, "
            "keep them with `evaluate --store` and use Open a stored run."
        )


def lone_sidecar_notice(names: Sequence[str]) -> str:
    """What to do when only JSON was uploaded: a sidecar records what made a results CSV, not the
    results, so nothing opens without the CSV it is named after (``OUT.csv.json`` -> ``OUT.csv``).

    >>> lone_sidecar_notice(["out.csv.json"])
    'out.csv.json alone opens nothing: it records what made out.csv, not the results. Upload out.csv with it.'
    >>> lone_sidecar_notice(["notes.json"])
    'notes.json alone opens nothing: it records what made a results CSV, not the results. Upload its CSV with it.'
    """
    wanted = [n[: -len(SIDECAR_SUFFIX)] for n in names if n.lower().endswith(".csv" + SIDECAR_SUFFIX)]
    one = len(names) == 1
    made = ", ".join(dict.fromkeys(wanted)) if wanted else "a results CSV"
    upload = made if wanted else ("its CSV" if one else "their CSVs")
    return (
        f"{', '.join(names)} alone {'opens' if one else 'open'} nothing: {'it records' if one else 'they record'} "
        f"what made {made}, not the results. Upload {upload} with {'it' if one else 'them'}."
    )


def pick_upload(names: Sequence[str]) -> ResultsUpload:
    """The results CSV among uploaded files (the first CSV) and its sidecar: the JSON named after it
    (``OUT.csv.json``), else the only JSON uploaded if it is not named after another uploaded CSV."""
    lower = [n.lower() for n in names]
    csvs = [i for i, n in enumerate(lower) if n.endswith(".csv")]
    jsons = [i for i, n in enumerate(lower) if n.endswith(".json")]
    if not csvs:
        return ResultsUpload(None, None, ())
    first = csvs[0]
    named = [i for i in jsons if lower[i] == lower[first] + ".json"]
    others = {lower[i] + ".json" for i in csvs[1:]}
    alone = [i for i in jsons if lower[i] not in others] if len(jsons) == 1 else []
    sidecar = (named or alone)[0] if named or alone else None
    return ResultsUpload(first, sidecar, tuple(n for i, n in enumerate(names) if i not in (first, sidecar)))
