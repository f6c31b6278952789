"""The Scene network page's graph: the root ``Emotion``, the photo's present labels and the prior in one
column, its absent labels (the strongest on their own, the rest summed) in the other, and the CNN
node, each coloured by the class it favours (a plotly figure; no streamlit calls)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from gerec.bn import SceneNetwork
from gerec.classes import CLASSES
from gerec.types import LabelContribution, Probs
from gerec_app.plots import layout
from gerec_app.render import CLASS_COLOURS, CLASS_SHORT


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
    return layout(fig, height=height).update_layout(legend={"y": 0, "yanchor": "top"})
