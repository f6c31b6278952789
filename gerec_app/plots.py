"""Plotly figures for the dashboard (built from gerec results; no streamlit calls)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from gerec.calibration import ReliabilityBin
from gerec.classes import CLASSES
from gerec.types import Face, GroupPrediction, LabelContribution, Probs
from gerec_app.render import (
    CLASS_COLOURS,
    MODULE_COLOURS,
    MODULE_NAMES,
    SERIES_COLOURS,
    member_colours,
    percent,
)


def layout(fig: go.Figure, title: str = "", height: int = 320) -> go.Figure:
    """The dashboard's figure layout: its title, height, small margins and a legend under the plot."""
    fig.update_layout(
        title=title or None,
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


BAR_TEXT_MIN_PX = 10
"""The smallest font a number over a bar may shrink to before it is hidden."""


def probs_figure(
    series: Mapping[str, Probs | None], title: str = "", colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Grouped bars: one group per class, one bar per named probability vector."""
    fig = go.Figure()
    for name, probs in series.items():
        if probs is None:
            continue
        colour = (colours or {}).get(name, SERIES_COLOURS[len(fig.data) % len(SERIES_COLOURS)])
        fig.add_bar(
            name=name,
            x=list(CLASSES),
            y=list(probs),
            text=[f"{p:.2f}" for p in probs],
            textposition="outside",
            marker_color=colour,
        )
    fig.update_yaxes(range=[0, 1.12], title="probability")
    # a bar's number is shrunk to the bar's width; in a narrow column (a face's four bars in a 1024 px
    # window) they shrank to an unreadable '0.930.930.94'. Below BAR_TEXT_MIN_PX they are hidden (the
    # tables beside the charts and the hover still give them), and all bars' numbers share one size
    fig.update_layout(barmode="group", uniformtext={"minsize": BAR_TEXT_MIN_PX, "mode": "hide"})
    return layout(fig, title)


def verdict_figure(pred: GroupPrediction) -> go.Figure:
    """Bottom-up, top-down and fused probabilities side by side."""
    series = {
        MODULE_NAMES["bottom_up"]: pred.bottom_up,
        MODULE_NAMES["top_down"]: pred.top_down,
        MODULE_NAMES["fused"]: pred.fused,
    }
    colours = {MODULE_NAMES[m]: c for m, c in MODULE_COLOURS.items()}
    title = "" if pred.bottom_up is not None else "no face: fused = top-down"
    return probs_figure(series, title, colours)


def face_figure(face: Face) -> go.Figure:
    """One face's probabilities: the ensemble and each member."""
    if face.scores is None:
        return layout(go.Figure(), "not scored")
    series: dict[str, Probs | None] = {"ensemble": face.scores.ensemble, **face.scores.members}
    return probs_figure(series, f"face {face.index}", member_colours(list(series)))


def contributions_figure(rows: Sequence[LabelContribution], title: str = "") -> go.Figure:
    """Each term's centred log-likelihood (or log prior) per class (positive: pushes towards it).

    Plotly stacks a horizontal group's bars from the bottom up in trace order, so the classes are
    added last to first: each row reads Positive, Neutral, Negative from the top, as the legend
    (reversed to match) and every other chart do."""
    names = [r.display for r in rows][::-1]
    fig = go.Figure()
    for i, cls in reversed(list(enumerate(CLASSES))):
        fig.add_bar(
            name=cls, y=names, x=[r.log_ratio[i] for r in rows][::-1], orientation="h", marker_color=CLASS_COLOURS[cls]
        )
    fig.update_layout(barmode="group", legend_traceorder="reversed")
    fig.update_xaxes(title="log-likelihood, centred over classes")
    return layout(fig, title, height=max(260, 26 * len(rows) + 80))


def confusion_figure(matrix: np.ndarray, title: str) -> go.Figure:
    """A clickable confusion matrix (rows actual, columns predicted): squares shaded blue by row share
    (not green: green means Positive)."""
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    xs, ys, text, colour, custom = [], [], [], [], []
    for i, actual in enumerate(CLASSES):
        for j, predicted in enumerate(CLASSES):
            xs.append(predicted)
            ys.append(actual)
            text.append(f"{int(matrix[i, j])}<br>{100 * share[i, j]:.0f}%")
            colour.append(share[i, j])
            custom.append([actual, predicted])
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=text,
            customdata=custom,
            textfont={"size": 13, "color": ["white" if c > 0.45 else "#1d2521" for c in colour]},
            hovertemplate="actual %{customdata[0]}<br>predicted %{customdata[1]}<br>%{text}<extra></extra>",
            marker={
                "symbol": "square",
                "size": 64,
                "color": colour,
                "colorscale": "Blues",
                "cmin": 0,
                "cmax": 1,
                "line": {"color": "#adb5bd", "width": 1},
            },
        )
    )
    fig.update_xaxes(title="predicted", categoryorder="array", categoryarray=list(CLASSES), side="top")
    fig.update_yaxes(title="actual", categoryorder="array", categoryarray=list(CLASSES)[::-1])
    return layout(fig, title, height=330)


def accuracy_figure(accuracies: Mapping[str, float]) -> go.Figure:
    """Accuracy per module."""
    names = list(accuracies)
    fig = go.Figure(
        go.Bar(
            x=[MODULE_NAMES.get(m, m) for m in names],
            y=[accuracies[m] for m in names],
            text=[percent(accuracies[m]) for m in names],
            textposition="outside",
            marker_color=[MODULE_COLOURS.get(m, "#868e96") for m in names],
        )
    )
    fig.update_yaxes(range=[0, 1.1], title="accuracy")
    return layout(fig, height=280)


def reliability_figure(tables: Mapping[str, Sequence[ReliabilityBin]], title: str = "") -> go.Figure:
    """Reliability diagram: per module, accuracy against mean confidence of each bin (marker size
    and hover: the bin's count); the diagonal is perfect calibration."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"dash": "dot", "color": "#868e96"}
    )
    for module, bins in tables.items():
        used = [b for b in bins if b.count]
        if not used:
            continue
        largest = max(b.count for b in used)
        fig.add_scatter(
            x=[b.confidence for b in used],
            y=[b.accuracy for b in used],
            mode="lines+markers",
            name=MODULE_NAMES.get(module, module),
            line={"color": MODULE_COLOURS.get(module)},
            marker={"size": [6 + 14 * math.sqrt(b.count / largest) for b in used]},
            customdata=[[b.count, b.low, b.high] for b in used],
            hovertemplate="said %{customdata[1]:.0%}-%{customdata[2]:.0%}: mean %{x:.2f}, right %{y:.2f}"
            " (%{customdata[0]} images)<extra></extra>",
        )
    fig.update_xaxes(range=[0, 1], title="confidence (top probability)")
    fig.update_yaxes(range=[0, 1.02], title="how often it was right")
    return layout(fig, title, height=360)
