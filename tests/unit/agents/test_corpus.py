"""The shipped corpus, its search, and the tools over it."""

from __future__ import annotations

import pytest

from oracle_monitor.agents.corpus import Corpus, keywords, tokens
from oracle_monitor.agents.messages import ToolRequest
from oracle_monitor.agents.tools import corpus_tools, run_tool


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.load()


def test_the_package_ships_ten_articles_and_seven_series(corpus: Corpus) -> None:
    assert len(corpus.documents) == 10
    assert len(corpus.datasets) == 7
    solar = corpus.documents["solar-power"]
    assert solar.title == "Solar power"
    assert "photovoltaic" in solar.tags
    assert len(solar.passages) == 4 and solar.passages[0].passage_id == "solar-power#1"


def test_tokens_fold_plurals_and_keywords_drop_stop_words() -> None:
    assert tokens("Batteries and turbines, e-fuels") == ["battery", "and", "turbine", "e", "fuel"]
    assert keywords("How do the batteries help solar?") == ["battery", "help", "solar"]


def test_search_ranks_the_passages_about_the_query_first(corpus: Corpus) -> None:
    hits = corpus.search("grid congestion transmission", limit=2)
    assert [p.passage_id for p, _ in hits] == ["grid-congestion#1", "grid-congestion#2"]
    assert hits[0][1] > hits[1][1] > 0
    assert [p.passage_id for p, _ in corpus.search("interconnection queue")] == [
        "grid-congestion#2"
    ]
    assert corpus.search("quantum gravity") == []


def test_find_datasets_keeps_the_close_matches(corpus: Corpus) -> None:
    names = [d.name for d in corpus.find_datasets("How fast are electric car sales growing?")]
    assert names == ["ev_sales_millions"]
    assert corpus.find_datasets("nothing relevant here") == []


def test_tools_answer_and_fail_with_a_message(corpus: Corpus) -> None:
    tools = corpus_tools(corpus)
    assert tools["fetch"](doc_id="hydrogen")["title"] == "Hydrogen"
    assert tools["dataset"](name="wind_capacity_gw")["points"][0] == [2015, 430.0]
    assert len(tools["search"](query="battery", limit=50)) <= 10
    request = ToolRequest(request_id="r1", task_id="t", tool="fetch", arguments={"doc_id": "x"})
    response = run_tool(tools, request)
    assert not response.ok and response.error == "no document 'x'"
    assert response.request_id == "r1" and response.task_id == "t"
    bad = run_tool(tools, ToolRequest(request_id="r2", tool="search", arguments={"q": 1}))
    assert not bad.ok and "unexpected keyword argument 'q'" in (bad.error or "")
    unknown = run_tool(tools, ToolRequest(request_id="r3", tool="browse"))
    assert unknown.error == "unknown tool 'browse'"
