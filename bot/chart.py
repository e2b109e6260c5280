"""The compliance chart of a report, as PNG bytes (matplotlib, Agg backend, no display).

What it shows is decided in `rules.chart_data` (tested there); this module only draws it:
top, met % per calendar week (or day) for each clock, with the target line, "met/total"
on each bar and the breaches under each bucket; bottom, the same per severity over the
whole period. Uses matplotlib's object API (no pyplot global state), so charts can be
drawn in a worker thread while the bot keeps serving.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rules.chart_data import SERIES, SERIES_TITLE, ChartData, chart_data
from rules.compliance import Rate, Report

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

COLORS = {"first_response": "#1f77b4", "update": "#ff7f0e", "resolution": "#2ca02c"}
MAX_WIDTH_IN = 30.0  # the widest the chart gets so its captions fit side by side
ZERO_STUB = 2.5  # a 0% bar is drawn this tall (in %) with a red edge: visible, unlike "no verdict yet"


def _bars(ax, xs: list[float], rates: list[Rate], width: float, color: str, horizontal: bool = False) -> list[Text]:
    """One series: a bar per rate with a verdict (0% as a visible stub), none where nothing was judged;
    returns the "met/total" labels (laid out by `_fit_labels` once the figure's size is known)."""
    labels = []
    for x, rate in zip(xs, rates):
        if not rate.total:
            continue
        pct = rate.percent or 0.0
        size = max(pct, ZERO_STUB)
        edge = "#d62728" if pct == 0 else color
        text = f"{rate.met}/{rate.total}"
        if horizontal:
            ax.barh(x, size, width, color=color, edgecolor=edge, linewidth=1.2)
            labels.append(ax.annotate(text, (size, x), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7))
        else:
            ax.bar(x, size, width, color=color, edgecolor=edge, linewidth=1.2)
            labels.append(ax.annotate(text, (x, size), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7))
    return labels


def _touching(boxes: list[Bbox]) -> bool:
    """Whether any two of the texts' boxes touch (2 px of air around each)."""
    padded = [b.padded(2) for b in boxes]
    return any(a.overlaps(b) for i, a in enumerate(padded) for b in padded[i + 1 :])


def _fit_labels(fig: Figure, ax: Axes, labels: list[Text]) -> None:
    """Lay out the top chart's labels on the drawn figure (measured, not guessed): the buckets' captions side by
    side (the figure widens until they fit), the bars' "met/total" side by side when they fit, else upright (a
    5-digit count is wider than its bar), the axis growing upward until the highest is inside it."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for _ in range(3):
        fig.draw_without_rendering()
        captions = [c for c in ax.get_xticklabels() if c.get_text()]
        boxes = [c.get_window_extent(renderer) for c in captions]
        if len(boxes) < 2 or not _touching(boxes):
            break
        pitch = boxes[1].x0 - boxes[0].x0 + boxes[1].width / 2 - boxes[0].width / 2  # centre to centre
        need = max(b.width for b in boxes) * 1.1
        width, height = fig.get_size_inches()
        fig.set_size_inches(min(MAX_WIDTH_IN, width * (1 + (need - pitch) / max(pitch, 1.0) + 0.05)), height)
    fig.draw_without_rendering()
    if _touching([label.get_window_extent(renderer) for label in labels]):
        for label in labels:
            label.set_rotation(90)
    for _ in range(3):
        fig.draw_without_rendering()
        top = ax.get_window_extent(renderer).y1
        highest = max((label.get_window_extent(renderer).y1 for label in labels), default=top)
        if highest <= top:
            return
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * (1 + (highest - top) / ax.get_window_extent(renderer).height) + 2)


def draw(data: ChartData) -> bytes:
    out = io.BytesIO()
    figure(data).savefig(out, format="png")
    return out.getvalue()


def figure(data: ChartData) -> Figure:
    """The chart as a matplotlib figure, its labels laid out (tests read their positions)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = max(1, len(data.buckets))
    rows = max(1, len(data.severities))
    width_in = min(18.0, max(8.0, 1.15 * n + 2))
    fig = Figure(figsize=(width_in, 6.2 + 0.35 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, max(1.2, 0.45 * rows)])

    bar = 0.8 / len(SERIES)
    bar_labels: list[Text] = []
    for i, series in enumerate(SERIES):
        xs = [j + (i - 1) * bar for j in range(len(data.buckets))]
        bar_labels += _bars(top, xs, [b.rates[series] for b in data.buckets], bar, COLORS[series])
    top.axhline(data.target, color="#d62728", linestyle="--", linewidth=1)
    top.set_ylim(0, 118)
    top.set_xlim(-0.6, max(0.6, len(data.buckets) - 0.4))
    top.set_ylabel("deadlines met (%)")
    top.set_xticks(range(len(data.buckets)))
    labels = []
    for b in data.buckets:
        breaches = f"{b.breaches} breach{'es' if b.breaches != 1 else ''}"
        labels.append(f"{b.label.replace(' ', chr(10), 1)}\n{b.tickets} ticket{'s' if b.tickets != 1 else ''}\n{breaches}")
    top.set_xticklabels(labels, fontsize=7)
    for tick, b in zip(top.get_xticklabels(), data.buckets):
        if b.breaches:
            tick.set_color("#d62728")
    top.grid(axis="y", alpha=0.3)
    top.set_title(f"{data.title} (by {'ISO week' if data.unit == 'week' else 'day'} opened)", fontsize=10)
    if not data.buckets or not any(b.tickets for b in data.buckets):
        top.text(0.5, 0.5, "no tickets in this period", transform=top.transAxes, ha="center", va="center", color="gray")
    handles: list[Artist] = [Patch(color=COLORS[s], label=SERIES_TITLE[s]) for s in SERIES]
    handles += [
        Line2D([], [], color="#d62728", linestyle="--", label=f"target: every deadline met ({data.target:.0f}%)"),
        Patch(facecolor="white", edgecolor="#d62728", label="0% (none met)"),
    ]
    top.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)

    hbar = 0.8 / len(SERIES)
    for i, series in enumerate(SERIES):
        ys = [j + (i - 1) * hbar for j in range(len(data.severities))]
        _bars(bottom, ys, [r.rates[series] for r in data.severities], hbar, COLORS[series], horizontal=True)
    bottom.set_yticks(range(len(data.severities)))
    bottom.set_yticklabels(
        [
            f"{r.label}\n{r.tickets} ticket{'s' if r.tickets != 1 else ''} · {r.breaches} breach{'es' if r.breaches != 1 else ''}"
            for r in data.severities
        ],
        fontsize=7,
    )
    bottom.invert_yaxis()  # most urgent severity on top
    bottom.axvline(data.target, color="#d62728", linestyle="--", linewidth=1)
    bottom.set_xlim(0, 118)
    bottom.set_xlabel("deadlines met over the period, per severity (%)", fontsize=8)
    bottom.grid(axis="x", alpha=0.3)
    _fit_labels(fig, top, bar_labels)
    return fig


def compliance_chart_png(report: Report) -> bytes:
    """Met % per ISO week (or day) of the period by opening, per clock, with breaches; and per severity."""
    return draw(chart_data(report))
