"""The compliance-over-time chart of a report, as PNG bytes (matplotlib, Agg backend, no display).

Uses matplotlib's object API (no pyplot global state), so charts can be drawn in a
worker thread while the bot keeps serving.
"""

from __future__ import annotations

import io

from rules.compliance import Report


def compliance_chart_png(report: Report) -> bytes:
    """Met % per week of the period (by opening) for first response, updates and resolution, as grouped bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = report.trend
    labels = [f"{p.start:%b %d}\n{p.tickets} ticket{'s' if p.tickets != 1 else ''}" for p in points]
    fig = Figure(figsize=(8, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    series = [
        ("First response", [p.first_response for p in points], "#1f77b4"),
        ("Updates", [p.update for p in points], "#ff7f0e"),
        ("Resolution", [p.resolution for p in points], "#2ca02c"),
    ]
    width = 0.26
    for i, (name, rates, color) in enumerate(series):
        xs = [j + (i - 1) * width for j in range(len(points))]
        heights = [0.0 if r.percent is None else r.percent for r in rates]
        bars = ax.bar(xs, heights, width, label=name, color=color)
        for bar, rate in zip(bars, rates):  # "3/4" above each bar; nothing where no deadline had a verdict
            if rate.total:
                ax.annotate(f"{rate.met}/{rate.total}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_ylim(0, 112)
    ax.set_ylabel("deadlines met (%)")
    ax.set_xticks(range(len(points)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    scope = [f"SLA compliance {report.period.label}"]
    if report.customer:
        scope.append(report.customer)
    if report.plan_id:
        scope.append(report.plan_id)
    ax.set_title(" · ".join(scope) + " (by week opened)")
    if not report.tickets:
        ax.text(0.5, 0.5, "no tickets in this period", transform=ax.transAxes, ha="center", va="center", color="gray")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
