"""`triage-bot report`: SLA compliance of a period, as text, JSON, CSV or a PNG chart."""

from __future__ import annotations

import argparse
import json

from bot.cli.common import with_services
from bot.settings import Settings
from rules.errors import InvalidInput, PeriodError


def _write(path: str, data: bytes | str, what: str) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as e:
        raise InvalidInput(f"cannot write the {what} to {path}: {e.strerror or e}") from None


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.exports import report_csv, report_dict
    from bot.services.reporting import build_period_report
    from rules.periods import parse_period

    async def work(services):
        now = services.clock.now()
        try:
            period = parse_period(args.period, now)
        except PeriodError as e:
            raise PeriodError(f"--period: {e}") from None
        report, loaded = await build_period_report(services, period, now, args.customer, args.plan)
        return report, loaded

    report, loaded = with_services(settings, work)
    if args.csv:
        _write(args.csv, report_csv(report), "CSV")
    if args.chart and not args.chart.lower().endswith(".png"):
        raise InvalidInput(f"--chart {args.chart!r}: the chart is a PNG image; name the file *.png")
    if args.chart:
        from bot.chart import compliance_chart_png

        _write(args.chart, compliance_chart_png(report), "chart")
    if args.json:
        data = report_dict(report)
        data["skipped"] = loaded.skipped
        print(json.dumps(data, indent=2))
        return 0
    from bot.text import report_lines

    print("\n".join(report_lines(report)))
    for path, what in ((args.csv, "CSV"), (args.chart, "chart")):
        if path:
            print(f"{what} written to {path}")
    if loaded.skipped:
        print(f"! left out, their plan is no longer loaded: {', '.join(loaded.skipped)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """`report`."""
    rep = sub.add_parser("report", help="SLA compliance per plan and severity, breaches and case quotas")
    rep.add_argument(
        "--period",
        default="this-month",
        help="this-month (default), last-month, this-quarter, last-quarter, YYYY-MM or YYYY-Qn; "
        "tickets count by their opening in their plan's time zone",
    )
    rep.add_argument("--customer", help="only this customer (name)")
    rep.add_argument("--plan", help="only this plan id")
    rep.add_argument("--csv", metavar="FILE", help="also write one row per ticket to FILE")
    rep.add_argument("--chart", metavar="FILE", help="also write the compliance-over-time chart (PNG) to FILE")
    rep.add_argument("--json", action="store_true", help="print JSON for scripts")
    rep.set_defaults(func=cmd_report)
