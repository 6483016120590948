"""What the research, writer and analysis agents work out, without Kafka or LLMs."""

from __future__ import annotations

import pytest

from oracle_monitor.agents.analysis import compare, series_stats
from oracle_monitor.agents.corpus import Corpus
from oracle_monitor.agents.research import gather, plan_searches
from oracle_monitor.agents.tools import corpus_tools
from oracle_monitor.agents.writer import draft, pick_sentences, source_order


@pytest.mark.parametrize(
    ("question", "searches"),
    [
        ("How do batteries help solar and wind?", ["battery help", "solar help", "wind help"]),
        # one topic naming several of the words is one search, not three
        (
            "Why is data center electricity demand rising?",
            ["data center electricity demand rising"],
        ),
        ("What does carbon pricing cost households?", ["carbon pricing cost household"]),
        # no topic: the question's words as they are
        ("Tell me about quantum gravity", ["quantum gravity"]),
    ],
)
def test_research_plans_one_search_per_topic(question: str, searches: list[str]) -> None:
    assert plan_searches(question, Corpus.load()) == searches


def test_research_keeps_the_best_distinct_passages() -> None:
    search = corpus_tools(Corpus.load())["search"]
    results = [(q, search(query=q, limit=3)) for q in ("battery solar", "solar evening")]
    findings = gather(results)
    ids = [f["passage_id"] for f in findings]
    assert len(ids) == len(set(ids)) <= 6
    assert [f["score"] for f in findings] == sorted((f["score"] for f in findings), reverse=True)
    assert findings[0]["query"] in ("battery solar", "solar evening")


def test_writer_picks_the_sentences_that_answer_the_question() -> None:
    paragraphs = [
        "Heat pumps move heat. They were invented long ago.",
        "In cold weather heat pumps lose efficiency. Cold-climate models keep working.",
    ]
    picked = pick_sentences("Do heat pumps work in cold weather?", paragraphs, 2)
    assert picked == [
        "Heat pumps move heat.",
        "In cold weather heat pumps lose efficiency.",
    ]


def test_writer_drafts_a_cited_note_from_the_best_sources() -> None:
    tools = corpus_tools(Corpus.load())
    findings = tools["search"](query="battery storage evening solar", limit=4)
    order = source_order(findings)
    assert order[0] in {"battery-storage", "solar-power"}
    note = draft("how do batteries help solar?", [tools["fetch"](doc_id=d) for d in order])
    assert note["title"] == "How do batteries help solar"
    assert note["draft"].startswith("# How do batteries help solar\n\nThis note draws on")
    for number, source in enumerate(note["sources"], start=1):
        assert f"[{number}] {source['title']} ({source['doc_id']})" in note["draft"]
    assert note["word_count"] == len(note["draft"].split())
    assert draft("anything", [])["draft"].count("holds nothing") == 1


def test_analysis_computes_change_growth_and_trend() -> None:
    stats = series_stats(
        {"name": "x", "title": "X", "unit": "GW", "points": [[2021, 150], [2020, 100], [2022, 120]]}
    )
    assert stats["first"] == [2020, 100.0] and stats["last"] == [2022, 120.0]
    assert stats["change"] == 20.0 and stats["change_pct"] == 20.0
    assert stats["cagr_pct"] == 9.5  # 1.2 ** (1/2) - 1
    assert stats["largest_rise"] == {"year": 2021, "pct": 50.0}
    assert stats["largest_fall"] == {"year": 2022, "pct": -20.0}
    assert stats["trend_per_year"] == 10.0 and stats["direction"] == "rising"
    with pytest.raises(ValueError, match="fewer than two points"):
        series_stats({"name": "y", "points": [[2020, 1]]})


def test_analysis_compares_the_growth_of_the_shipped_series() -> None:
    tools = corpus_tools(Corpus.load())
    stats = [
        series_stats(tools["dataset"](name=n))
        for n in ("solar_capacity_gw", "wind_capacity_gw", "battery_pack_price_usd_kwh")
    ]
    assert [s["direction"] for s in stats] == ["rising", "rising", "falling"]
    text = compare(stats)
    assert text.startswith("Fastest annual growth: Installed solar photovoltaic capacity")
    assert "slowest: Lithium-ion battery pack price (-11.7% a year)" in text
