"""Error analysis over OUT.csv-shaped tables (pandas; no streamlit).

A results table has the columns of ``python -m gerec evaluate --out OUT.csv``: ``image, actual,
bottom_up, top_down, fused, p_<module>_<class>..., faces, labeler, labels_used (|-joined),
labels_ignored, error``. Any source that yields such a table (a run now, a saved OUT.csv, later a
runs store) plugs into the same analysis.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from gerec.bn import SceneNetwork
from gerec.classes import CLASSES, MODULES, true_class_of
from gerec.errors import InvalidDataset
from gerec.evaluation import score_module, to_indices
from gerec.fileio import csv_safe
from gerec.provenance import SIDECAR_SUFFIX
from gerec.runs import compare as runs_compare
from gerec.types import GroupPrediction

REQUIRED = ("image", "actual", "top_down")
CUT_SHORT = "row cut short (the file ends or breaks inside it): not scored"
"""The error a results row gets when it has fewer fields than the header (a run stopped mid-row)."""
PAIRS = (("bottom_up", "fused"), ("top_down", "fused"), ("bottom_up", "top_down"))
FIXED, BROKEN = runs_compare.VERDICT_WORDS[runs_compare.FIXED], runs_compare.VERDICT_WORDS[runs_compare.BROKEN]
"""How an answer changed between two modules or two runs: it became right, or stopped being right."""
ACCURACY_COLUMNS = ("accuracy", *(f"recall {c}" for c in CLASSES))
"""The columns of this module's tables that hold an accuracy (a fraction; shown as a percentage)."""
ERROR_RATE = "error rate with label"
"""The column of :func:`label_errors` with the share of a label's images the module got wrong (a
fraction; shown as a percentage)."""
LABEL_ERROR_HEADERS = {
    "wrong images with label": "wrong images",
    "pushed towards wrong class": "pushed wrong",
    "images with label": "images",
    ERROR_RATE: "error rate",
}
"""The short headers the page gives :func:`label_errors`' longer columns, so the table fits a page's
width (the full names are the CSV's and each header's tooltip)."""


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
    text = in_sample_text(mode, path)
    return text[0].upper() + text[1:] + "."


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


def present_modules(frame: pd.DataFrame) -> list[str]:
    """Modules with at least one prediction."""
    return [m for m in MODULES if (frame[m] != "").any()]


def scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy, coverage and per-class recall of each module."""
    actual = to_indices(list(frame["actual"]))
    out = []
    for module in present_modules(frame):
        score = score_module(module, actual, to_indices(list(frame[module])))
        row: dict[str, object] = {
            "module": module,
            "accuracy": round(score.accuracy, 4),
            "covered": score.covered,
            "total": score.total,
        }
        for cls, recall in zip(CLASSES, score.recall):
            row[f"recall {cls}"] = round(float(recall), 4)
        out.append(row)
    return pd.DataFrame(out)


def confusion(frame: pd.DataFrame, module: str) -> np.ndarray:
    """Confusion matrix of ``module`` (rows actual, columns predicted)."""
    return score_module(module, to_indices(list(frame["actual"])), to_indices(list(frame[module]))).confusion


def cell(frame: pd.DataFrame, module: str, actual: str, predicted: str) -> pd.DataFrame:
    """The images of one confusion-matrix cell."""
    rows = frame[(frame["actual"] == actual) & (frame[module] == predicted)]
    return rows[["image", "actual", *present_modules(frame), "labels_used"]].reset_index(drop=True)


def transitions(frame: pd.DataFrame) -> pd.DataFrame:
    """For module pairs A -> B: images fixed (A wrong, B right), broken (A right, B wrong), etc."""
    out = []
    available = set(present_modules(frame))
    for a, b in PAIRS:
        if not {a, b} <= available:
            continue
        both = frame[(frame[a] != "") & (frame[b] != "")]
        ra, rb = both[a] == both["actual"], both[b] == both["actual"]
        out.append(
            {
                "from": a,
                "to": b,
                "images": len(both),
                FIXED: int((~ra & rb).sum()),
                BROKEN: int((ra & ~rb).sum()),
                "both right": int((ra & rb).sum()),
                "both wrong": int((~ra & ~rb).sum()),
                "disagree": int((both[a] != both[b]).sum()),
            }
        )
    return pd.DataFrame(out)


def changed(frame: pd.DataFrame, a: str, b: str, kind: str) -> pd.DataFrame:
    """Images ``fixed`` or ``broken`` going from module ``a`` to ``b``."""
    both = frame[(frame[a] != "") & (frame[b] != "")]
    ra, rb = both[a] == both["actual"], both[b] == both["actual"]
    rows = both[(~ra & rb) if kind == "fixed" else (ra & ~rb)]
    return rows[["image", "actual", *present_modules(frame), "labels_used"]].reset_index(drop=True)


def disagreements(frame: pd.DataFrame) -> pd.DataFrame:
    """Images where the present modules do not all agree, with which were right."""
    modules = [m for m in present_modules(frame)]
    sub = frame[modules].replace("", np.nan)
    differ = sub.nunique(axis=1, dropna=True) > 1
    rows = frame[differ]
    out = rows[["image", "actual", *modules]].copy()
    out["right"] = ["+".join(m for m in modules if r[m] == r["actual"]) or "none" for _, r in rows.iterrows()]
    return out.reset_index(drop=True)


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


def label_push_table(net: SceneNetwork) -> dict[str, np.ndarray]:
    """Each known label's centred log-likelihood per class when present (from contributions)."""
    return {r.label: np.asarray(r.log_ratio) for r in net.contributions(net.labels, top_absent=0) if r.kind == "label"}


def label_errors(frame: pd.DataFrame, net: SceneNetwork, module: str = "top_down", min_images: int = 3) -> pd.DataFrame:
    """Labels that most often push wrongly classified images towards their wrong class.

    For every image ``module`` got wrong, each present label's push is its log-likelihood for the
    predicted class minus that for the true class (the contributions of ``labels_used``).
    """
    push = label_push_table(net)
    index = {c: i for i, c in enumerate(CLASSES)}
    stats: dict[str, list[float]] = {}
    seen: dict[str, int] = {}
    wrong_count: dict[str, int] = {}
    for _, row in frame.iterrows():
        labels = [lab for lab in str(row["labels_used"]).split("|") if lab in push]
        for lab in labels:
            seen[lab] = seen.get(lab, 0) + 1
        predicted = row[module]
        if not predicted or predicted == row["actual"]:
            continue
        p, a = index[predicted], index[row["actual"]]
        for lab in labels:
            wrong_count[lab] = wrong_count.get(lab, 0) + 1
            stats.setdefault(lab, []).append(float(push[lab][p] - push[lab][a]))
    out = []
    for lab, values in stats.items():
        arr = np.array(values)
        if wrong_count[lab] < min_images:
            continue
        out.append(
            {
                "label": lab,
                "wrong images with label": wrong_count[lab],
                "pushed towards wrong class": int((arr > 0).sum()),
                "mean push": round(float(arr.mean()), 4),
                "total push": round(float(arr[arr > 0].sum()), 3),
                "images with label": seen[lab],
                ERROR_RATE: round(wrong_count[lab] / seen[lab], 4),
                "favours": CLASSES[int(np.argmax(push[lab]))],
            }
        )
    table = pd.DataFrame(
        out,
        columns=[
            "label",
            "wrong images with label",
            "pushed towards wrong class",
            "mean push",
            "total push",
            "images with label",
            ERROR_RATE,
            "favours",
        ],
    )
    return table.sort_values(["total push", "pushed towards wrong class"], ascending=False).reset_index(drop=True)


def to_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV bytes (for download buttons); formula-like cells are neutralised."""
    safe = frame.map(csv_safe).rename(columns=lambda c: csv_safe(str(c)))
    return safe.to_csv(index=False).encode("utf-8")
