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


TOP_ABSENT = 6
"""Absent labels the Scene network graph shows on their own by default (the rest summed in one node)."""
COLUMN_X = 0.95
"""Where the graph's two columns of label nodes stand (x range ±2.3): present labels and the prior on
the left, absent labels on the right, each text on its column's outer side, so no two texts meet."""
ROW_PX = 36
"""Height in px of one row of label nodes: a text on two lines (:func:`_node_text`) and a gap."""
WRAP_AT = 13
"""A node's text longer than this many characters is set on two lines, so it fits beside its column."""
NODE_FONT = 11
"""Size of the label nodes' texts in px."""


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


def _columns(rows: Sequence[LabelContribution]) -> tuple[list[LabelContribution], list[LabelContribution]]:
    """The graph's label nodes: the prior and the present labels (left), the absent ones (right);
    the bottom-up term is the CNN node."""
    absent = ("absent", "absent-rest")
    left = [r for r in rows if r.kind not in (*absent, "bottom-up")]
    return left, [r for r in rows if r.kind in absent]


def _column_ys(count: int, rows: int) -> list[float]:
    """The y of each of ``count`` nodes of a column, one unit apart, centred on ``rows`` rows (y 0 to
    ``1 - rows``)."""
    offset = (rows - count) / 2
    return [-(offset + i) for i in range(count)]


def _add_label_nodes(
    fig: go.Figure, column: Sequence[LabelContribution], x: float, centre_y: float, rows: int, top: float
) -> None:
    """One column of label nodes at ``x``, each with its edge to ``Emotion`` at (0, ``centre_y``): size
    its strength (relative to ``top``), colour the class it pushes towards, open when absent."""
    if not column:
        return
    ys = _column_ys(len(column), rows)
    fig.add_scatter(
        x=[v for y in ys for v in (0.0, x, None)],
        y=[v for y in ys for v in (centre_y, y, None)],
        mode="lines",
        line={"color": "#ced4da", "width": 1},
        hoverinfo="skip",
        showlegend=False,
    )
    fig.add_scatter(
        x=[x] * len(column),
        y=ys,
        mode="markers+text",
        text=[_node_text(r.display) for r in column],
        textposition="middle left" if x < 0 else "middle right",  # outward: the texts of a column never meet
        textfont={"size": NODE_FONT},
        cliponaxis=False,  # a text may reach into the margin rather than be cut at the plot's edge
        hovertext=[
            f"<b>{r.display}</b><br>" + "<br>".join(f"{c}: {v:+.3f}" for c, v in zip(CLASSES, r.log_ratio))
            for r in column
        ],
        hoverinfo="text",
        showlegend=False,
        customdata=[r.label if r.kind in ("label", "absent") else "aggregated" for r in column],
        marker={
            "size": [10 + 20 * r.strength / top for r in column],  # at most 30 px: rows are ROW_PX apart
            "color": [_node_colour(r.log_ratio) for r in column],
            "symbol": ["circle" if r.present else "circle-open" for r in column],
            "line": {"width": 2},
        },
    )


def _add_cnn_node(
    fig: go.Figure, net: SceneNetwork, cnn: str | Probs | None, xy: tuple[float, float], centre_y: float
) -> None:
    """The CNN node below ``Emotion``: a class (hard evidence), the faces (soft) or no evidence."""
    cnn_ll = net.cnn_log_likelihood(cnn)
    cnn_ll = cnn_ll - cnn_ll.mean()
    if isinstance(cnn, str):
        cnn_text, cnn_colour = f"CNN = {cnn}", CLASS_COLOURS[cnn]
    elif cnn is not None:  # the faces: coloured by the class they push towards, as label nodes are
        cnn_text, cnn_colour = "CNN = the faces", _node_colour(cnn_ll)
    else:
        cnn_text, cnn_colour = "CNN: no evidence", "#dee2e6"
    fig.add_scatter(
        x=[0.0, xy[0]],
        y=[centre_y, xy[1]],
        mode="lines",
        line={"color": "#ced4da", "width": 1},
        hoverinfo="skip",
        showlegend=False,
    )
    fig.add_scatter(
        x=[xy[0]],
        y=[xy[1]],
        mode="markers+text",
        text=[cnn_text],
        textposition="bottom center",
        textfont={"size": NODE_FONT},
        hovertext=["<br>".join(f"{c}: {v:+.3f}" for c, v in zip(CLASSES, cnn_ll))],
        hoverinfo="text",
        marker={"size": 30, "symbol": "square", "color": cnn_colour},
        showlegend=False,
    )


def network_figure(
    net: SceneNetwork, present: Sequence[str], cnn: str | Probs | None, posterior: Probs, top_absent: int = TOP_ABSENT
) -> go.Figure:
    """The network around ``Emotion``: present labels (and the prior) in a column on the left, the
    strongest absent labels on the right (the rest summed in one node), the CNN node below.

    Node size is a label's strength (spread of its log-likelihood over classes), colour the class
    it pushes towards. The graph grows a row per node of its longer column (:data:`ROW_PX`), so its
    texts keep their room however many labels it shows. ``cnn`` is a class (hard evidence), a photo's
    faces' probabilities (as fusion takes them) or ``None``.
    """
    left, right = _columns(net.contributions(present, top_absent=top_absent))
    rows = max(len(left), len(right), 5)
    centre_y = -(rows - 1) / 2
    top = max([r.strength for r in [*left, *right]] + [1e-9])
    fig = go.Figure()
    _add_label_nodes(fig, left, -COLUMN_X, centre_y, rows, top)
    _add_label_nodes(fig, right, COLUMN_X, centre_y, rows, top)
    cnn_xy = (0.0, centre_y - max(2.0, rows / 2 - 0.5))
    _add_cnn_node(fig, net, cnn, cnn_xy, centre_y)
    best = CLASSES[int(np.argmax(posterior))]
    fig.add_scatter(
        x=[0],
        y=[centre_y],
        mode="markers+text",
        text=["Emotion<br>" + "<br>".join(f"{CLASS_SHORT[c]} {p:.2f}" for c, p in zip(CLASSES, posterior))],
        textposition="middle center",
        textfont={"color": "white", "size": 11},
        hoverinfo="skip",
        showlegend=False,
        marker={"size": 76, "color": CLASS_COLOURS[best]},
    )
    for x, title in ((-COLUMN_X, "present" if left else "present: none"), (COLUMN_X, "absent")):
        fig.add_annotation(x=x, y=0.9, text=title, showarrow=False, font={"size": NODE_FONT, "color": "#6c757d"})
    for cls in CLASSES:  # legend of node colours
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=f"pushes to {cls}",
            marker={"color": CLASS_COLOURS[cls], "size": 10},
        )
    bottom = cnn_xy[1] - 1.2  # room for the CNN node's text
    fig.update_xaxes(visible=False, range=[-2.3, 2.3])
    fig.update_yaxes(visible=False, range=[bottom, 1.3])
    height = round(ROW_PX * (1.3 - bottom)) + 50  # the legend's line below the plot
    return _layout(fig, height=height).update_layout(legend={"y": 0, "yanchor": "top"})


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
