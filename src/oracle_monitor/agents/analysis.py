"""The analysis agent: finds the series a question is about and analyses their numbers.

Per series: first and last points, change (absolute, percent), compound annual growth, the
largest year-on-year rise and fall, the least-squares trend per year and its direction.
Several series are compared by their annual growth.
"""

from __future__ import annotations

import itertools
from typing import Any

from oracle_monitor.agents.base import BaseAgent
from oracle_monitor.agents.messages import Task
from oracle_monitor.agents.research import question_of

__all__ = ["AnalysisAgent", "compare", "series_stats"]

MAX_SERIES = 3


def series_stats(series: dict[str, Any]) -> dict[str, Any]:
    """Statistics of one series (``name``, ``unit``, ``points`` as [year, value])."""
    points = sorted((int(y), float(v)) for y, v in series["points"])
    if len(points) < 2:
        raise ValueError(f"series {series.get('name')!r} has fewer than two points")
    (y0, v0), (y1, v1) = points[0], points[-1]
    years = y1 - y0
    steps = [
        (b[0], (b[1] - a[1]) / a[1] * 100 if a[1] else 0.0) for a, b in itertools.pairwise(points)
    ]
    rise = max(steps, key=lambda s: s[1])
    fall = min(steps, key=lambda s: s[1])
    mean_year = sum(y for y, _ in points) / len(points)
    mean_value = sum(v for _, v in points) / len(points)
    spread = sum((y - mean_year) ** 2 for y, _ in points)
    slope = sum((y - mean_year) * (v - mean_value) for y, v in points) / spread
    cagr = ((v1 / v0) ** (1 / years) - 1) * 100 if v0 > 0 and v1 > 0 and years else 0.0
    relative = slope / mean_value if mean_value else 0.0
    direction = "rising" if relative > 0.01 else "falling" if relative < -0.01 else "flat"
    return {
        "name": series["name"],
        "title": series.get("title", series["name"]),
        "unit": series.get("unit", ""),
        "first": [y0, v0],
        "last": [y1, v1],
        "change": round(v1 - v0, 4),
        "change_pct": round((v1 - v0) / v0 * 100, 1) if v0 else None,
        "cagr_pct": round(cagr, 1),
        "largest_rise": {"year": rise[0], "pct": round(rise[1], 1)},
        "largest_fall": {"year": fall[0], "pct": round(fall[1], 1)},
        "trend_per_year": round(slope, 4),
        "direction": direction,
    }


def describe(stats: dict[str, Any]) -> str:
    """One sentence on a series' statistics."""
    (y0, v0), (y1, v1) = stats["first"], stats["last"]
    unit = stats["unit"]
    return (
        f"{stats['title']} went from {v0:g} {unit} in {y0} to {v1:g} {unit} in {y1} "
        f"({stats['change_pct']:+g}%, {stats['cagr_pct']:+g}% a year), {stats['direction']}; "
        f"largest rise {stats['largest_rise']['pct']:+g}% in {stats['largest_rise']['year']}."
    )


def compare(all_stats: list[dict[str, Any]]) -> str:
    """Which series grew fastest and slowest per year (one series: its description)."""
    if len(all_stats) == 1:
        return describe(all_stats[0])
    ranked = sorted(all_stats, key=lambda s: -s["cagr_pct"])
    fastest, slowest = ranked[0], ranked[-1]
    return (
        f"Fastest annual growth: {fastest['title']} ({fastest['cagr_pct']:+g}% a year); "
        f"slowest: {slowest['title']} ({slowest['cagr_pct']:+g}% a year)."
    )


class AnalysisAgent(BaseAgent):
    """Analyses the series ``input.question`` is about (or ``input.datasets``), with the
    research agent's ``input.findings`` (when it comes after it) as background."""

    kind = "analysis"
    system_prompt = "You are a data analyst. Explain figures in two sentences."

    def process_task(self, task: Task) -> dict[str, Any]:
        question = question_of(task)
        names = task.input.get("datasets")
        if not isinstance(names, list) or not names:
            found = self.call_tool("find_datasets", query=question, limit=MAX_SERIES)
            names = [item["name"] for item in found]
        if not names:
            raise ValueError(f"no dataset matches {question!r}")
        names = [str(n) for n in names[:MAX_SERIES]]
        self.reason(f"Analysing {', '.join(names)}", tools_planned=["dataset"] * len(names))
        stats = [series_stats(self.call_tool("dataset", name=name)) for name in names]
        comparison = compare(stats)
        self.reason(comparison)
        findings = task.input.get("findings")
        notes = [f"{f['title']}: {f['text'][:200]}" for f in findings or [] if isinstance(f, dict)]
        explanation = self.ask_llm(
            f"Question: {question}\nFigures: {[describe(s) for s in stats]}\n"
            f"Background: {notes[:3]}\nExplain the figures."
        )
        return {
            "question": question,
            "series": stats,
            "summary": [describe(s) for s in stats],
            "comparison": comparison,
            "explanation": explanation,
            "background_sources": sorted({f["doc_id"] for f in findings or [] if "doc_id" in f}),
        }
