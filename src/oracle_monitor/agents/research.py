"""The research agent: plans sub-searches of a question, runs them, gathers the findings.

Planning is over the corpus's topics: each topic (an article's title and tags) the question
names becomes one sub-search, with the question's other words (its aspects: cost, growth…)
added; a question naming no topic is searched as it is. The findings are the best distinct
passages of all sub-searches.
"""

from __future__ import annotations

from typing import Any

from oracle_monitor.agents.base import BaseAgent
from oracle_monitor.agents.corpus import Corpus, keywords
from oracle_monitor.agents.messages import Task

__all__ = ["ResearchAgent", "plan_searches", "question_of"]

MAX_SEARCHES = 3
MAX_FINDINGS = 6


def question_of(task: Task) -> str:
    """The task's question (``input.question``, or ``input.topic``); ValueError if none."""
    question = task.input.get("question") or task.input.get("topic")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"task {task.task_id} has no input.question")
    return question.strip()


def plan_searches(question: str, corpus: Corpus, limit: int = MAX_SEARCHES) -> list[str]:
    """The sub-searches for ``question``: one per corpus topic it names (see module doc)."""
    terms = keywords(question)
    groups: dict[tuple[str, ...], None] = {}
    for _, shared in corpus.topics(terms):
        groups.setdefault(tuple(shared))
    covered: set[str] = set()
    chosen: list[tuple[str, ...]] = []
    for group in sorted(groups, key=lambda g: (-len(g), terms.index(g[0]))):
        if not set(group) <= covered and len(chosen) < limit:
            chosen.append(group)
            covered |= set(group)
    if not chosen:
        return [" ".join(terms) or question]
    aspects = [t for t in terms if t not in covered]
    chosen.sort(key=lambda g: terms.index(g[0]))
    return [" ".join([*group, *aspects]) for group in chosen]


def gather(results: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """The best distinct passages over all sub-searches, best first, each with its query."""
    best: dict[str, dict[str, Any]] = {}
    for query, hits in results:
        for hit in hits:
            known = best.get(hit["passage_id"])
            if known is None or hit["score"] > known["score"]:
                best[hit["passage_id"]] = {**hit, "query": query}
    ranked = sorted(best.values(), key=lambda h: (-h["score"], h["passage_id"]))
    return ranked[:MAX_FINDINGS]


class ResearchAgent(BaseAgent):
    """Researches ``input.question`` in the corpus; output: searches and findings."""

    kind = "research"
    system_prompt = "You are a research planner. Be brief and concrete."

    def process_task(self, task: Task) -> dict[str, Any]:
        question = question_of(task)
        searches = plan_searches(question, Corpus.load())
        self.reason(
            f"Split the question into {len(searches)} searches: {'; '.join(searches)}",
            tools_planned=["search"] * len(searches),
        )
        plan_note = self.ask_llm(f"Plan the research of: {question}\nSearches: {searches}")
        results = [(query, self.call_tool("search", query=query, limit=3)) for query in searches]
        findings = gather(results)
        sources = sorted({f["doc_id"] for f in findings})
        self.reason(f"Found {len(findings)} passages in {', '.join(sources) or 'nothing'}")
        excerpt = "\n".join(f"- {f['title']}: {f['text'][:300]}" for f in findings)
        summary = self.ask_llm(f"Summarise for a writer, question {question!r}:\n{excerpt}")
        return {
            "question": question,
            "searches": searches,
            "findings": findings,
            "plan_note": plan_note,
            "research_summary": summary,
        }
