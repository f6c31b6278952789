"""Plotly figures for the dashboard (built from gerec results; no streamlit calls)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from gerec.bn import SceneNetwork
from gerec.calibration import ReliabilityBin
from gerec.classes import CLASSES
from gerec.types import Face, GroupPrediction, LabelContribution, Probs
from gerec_app.render import (
    CLASS_COLOURS,
    CLASS_SHORT,
    MODULE_COLOURS,
    MODULE_NAMES,
    SERIES_COLOURS,
    member_colours,
    percent,
)


def _layout(fig: go.Figure, title: str = "", height: int = 320) -> go.Figure:
    fig.update_layout(
        title=title or None,
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


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
    fig.update_layout(barmode="group")
    return _layout(fig, title)


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
        return _layout(go.Figure(), "not scored")
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
    return _layout(fig, title, height=max(260, 26 * len(rows) + 80))


def _node_colour(log_ratio: Probs | np.ndarray) -> str:
    return CLASS_COLOURS[CLASSES[int(np.argmax(log_ratio))]]


def _text_side(x: float, y: float) -> str:
    """Where a node's text goes: away from the centre (left of left nodes, right of right ones; the
    two nodes either side of the top also, or their texts run into each other above them)."""
    if abs(x) > 0.15:
        return "middle left" if x < 0 else "middle right"
    return "top center" if y > 0 else "bottom center"


TOP_ABSENT = 6
"""Absent labels the Scene network graph shows on their own by default (the rest summed in one node)."""
RING_X = 1.35
"""Half the width of the ring of label nodes (x range ±2.3): the rest of each side is for their texts."""
WRAP_AT = 13
"""A node's text longer than this many characters is set on two lines, so it fits beside the ring."""


def _node_text(name: str) -> str:
    """``name`` on two lines (at the space nearest its middle) when it is longer than WRAP_AT.

    >>> _node_text("not demonstration"), _node_text("87 other absent labels"), _node_text("smile")
    ('not<br>demonstration', '87 other<br>absent labels', 'smile')
    """
    spaces = [i for i, ch in enumerate(name) if ch == " "]
    if len(name) <= WRAP_AT or not spaces:
        return name
    cut = min(spaces, key=lambda i: max(i, len(name) - i - 1))
    return f"{name[:cut]}<br>{name[cut + 1 :]}"


def network_figure(
    net: SceneNetwork, present: Sequence[str], cnn: str | Probs | None, posterior: Probs, top_absent: int = TOP_ABSENT
) -> go.Figure:
    """The network around ``Emotion``: CNN node, present labels and the strongest absent ones.

    Node size is a label's strength (spread of its log-likelihood over classes), colour the class
    it pushes towards; absent labels beyond ``top_absent`` are summed into one node. ``cnn`` is a
    class (hard evidence), a photo's faces' probabilities (as fusion takes them) or ``None``.
    """
    rows = net.contributions(present, top_absent=top_absent)
    nodes: list[tuple[str, Probs, bool, str]] = [
        (r.display, r.log_ratio, r.present, r.label if r.kind in ("label", "absent") else "aggregated")
        for r in rows
        if r.kind != "bottom-up"
    ]
    fig = go.Figure()
    n = max(len(nodes), 1)
    xs, ys = [], []
    for k in range(len(nodes)):
        angle = math.pi / 2 + 2 * math.pi * (k + 0.5) / n
        xs.append(RING_X * math.cos(angle) * (1.0 if k % 2 == 0 else 0.82))
        ys.append(math.sin(angle) * (1.0 if k % 2 == 0 else 0.82))
    cnn_xy = (0.0, -1.45)
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for x, y in [*zip(xs, ys), cnn_xy]:
        edge_x += [0.0, x, None]
        edge_y += [0.0, y, None]
    fig.add_scatter(
        x=edge_x, y=edge_y, mode="lines", line={"color": "#ced4da", "width": 1}, hoverinfo="skip", showlegend=False
    )
    strengths = [max(lr) - min(lr) for _, lr, _, _ in nodes]
    top = max(strengths + [1e-9])
    hover = [
        f"<b>{name}</b><br>" + "<br>".join(f"{c}: {v:+.3f}" for c, v in zip(CLASSES, lr)) for name, lr, _, _ in nodes
    ]
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="markers+text",
        text=[_node_text(name) for name, *_ in nodes],
        textposition=[_text_side(x, y) for x, y in zip(xs, ys)],  # outward, so neighbours' texts do not collide
        cliponaxis=False,  # a text may reach into the margin rather than be cut at the plot's edge
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
        customdata=[key for *_, key in nodes],
        marker={
            "size": [14 + 36 * s / top for s in strengths],
            "color": [_node_colour(lr) for _, lr, _, _ in nodes],
            "symbol": ["circle" if p else "circle-open" for _, _, p, _ in nodes],
            "line": {"width": 2},
        },
    )
    cnn_ll = net.cnn_log_likelihood(cnn)
    cnn_ll = cnn_ll - cnn_ll.mean()
    if isinstance(cnn, str):
        cnn_text, cnn_colour = f"CNN = {cnn}", CLASS_COLOURS[cnn]
    elif cnn is not None:  # the faces: coloured by the class they push towards, as label nodes are
        cnn_text, cnn_colour = "CNN = the faces", _node_colour(cnn_ll)
    else:
        cnn_text, cnn_colour = "CNN: no evidence", "#dee2e6"
    fig.add_scatter(
        x=[cnn_xy[0]],
        y=[cnn_xy[1]],
        mode="markers+text",
        text=[cnn_text],
        textposition="bottom center",
        hovertext=["<br>".join(f"{c}: {v:+.3f}" for c, v in zip(CLASSES, cnn_ll))],
        hoverinfo="text",
        marker={"size": 34, "symbol": "square", "color": cnn_colour},
        showlegend=False,
    )
    best = CLASSES[int(np.argmax(posterior))]
    label = "Emotion<br>" + "<br>".join(f"{CLASS_SHORT[c]} {p:.2f}" for c, p in zip(CLASSES, posterior))
    fig.add_scatter(
        x=[0],
        y=[0],
        mode="markers+text",
        text=[label],
        textposition="middle center",
        textfont={"color": "white", "size": 11},
        hoverinfo="skip",
        showlegend=False,
        marker={"size": 86, "color": CLASS_COLOURS[best]},
    )
    for cls in CLASSES:  # legend of node colours
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=f"pushes to {cls}",
            marker={"color": CLASS_COLOURS[cls], "size": 10},
        )
    fig.update_xaxes(visible=False, range=[-2.3, 2.3])
    fig.update_yaxes(visible=False, range=[-1.9, 1.35])
    return _layout(fig, height=540)


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
    return _layout(fig, title, height=330)


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
    return _layout(fig, height=280)


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
    return _layout(fig, title, height=360)
