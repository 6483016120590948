"""The writer agent: drafts a short cited note that answers a question from findings.

It takes the research agent's findings (or searches itself when there are none), fetches the
best sources in full, and from each keeps the sentences that share the most words with the
question, in the source's order, cited ``[n]``.
"""

from __future__ import annotations

import re
from typing import Any

from oracle_monitor.agents.base import BaseAgent
from oracle_monitor.agents.corpus import keywords
from oracle_monitor.agents.messages import Task
from oracle_monitor.agents.research import question_of

__all__ = ["WriterAgent", "draft", "pick_sentences"]

MAX_SOURCES = 3
SENTENCES_PER_SOURCE = 2
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"])")


def pick_sentences(question: str, paragraphs: list[str], count: int) -> list[str]:
    """The ``count`` sentences sharing most keywords with ``question``, in text order."""
    terms = set(keywords(question))
    sentences = [s.strip() for p in paragraphs for s in _SENTENCE.split(p) if s.strip()]
    scored = [(len(terms & set(keywords(s))), -n, s) for n, s in enumerate(sentences)]
    best = sorted(scored, reverse=True)[:count]
    return [s for _, _, s in sorted(best, key=lambda item: -item[1])]


def draft(question: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """A note answering ``question`` from ``sources`` (``doc_id``, ``title``, ``paragraphs``)."""
    title = question.rstrip("?.! ")
    title = title[:1].upper() + title[1:]
    body: list[str] = []
    cited: list[dict[str, str]] = []
    for source in sources[:MAX_SOURCES]:
        picked = pick_sentences(question, source["paragraphs"], SENTENCES_PER_SOURCE)
        if not picked:
            continue
        cited.append({"doc_id": source["doc_id"], "title": source["title"]})
        body.append(f"{' '.join(picked)} [{len(cited)}]")
    if not cited:
        intro = "The corpus holds nothing on this question."
    else:
        names = ", ".join(c["title"] for c in cited)
        intro = f"This note draws on {len(cited)} source{'s' * (len(cited) > 1)}: {names}."
    references = [f"[{n}] {c['title']} ({c['doc_id']})" for n, c in enumerate(cited, start=1)]
    text = "\n\n".join([f"# {title}", intro, *body, "Sources:\n" + "\n".join(references)])
    return {
        "title": title,
        "draft": text,
        "sources": cited,
        "word_count": len(text.split()),
    }


def source_order(findings: list[dict[str, Any]]) -> list[str]:
    """Document ids of the findings, best-scored first, each once."""
    order: dict[str, float] = {}
    for finding in findings:
        order[finding["doc_id"]] = max(order.get(finding["doc_id"], 0.0), finding["score"])
    return sorted(order, key=lambda d: (-order[d], d))


class WriterAgent(BaseAgent):
    """Drafts a note for ``input.question`` from ``input.findings``; output: the draft."""

    kind = "writer"
    system_prompt = "You are an editor. Suggest one improvement, briefly."

    def process_task(self, task: Task) -> dict[str, Any]:
        question = question_of(task)
        findings = task.input.get("findings")
        if not isinstance(findings, list) or not findings:
            self.reason("No findings came with the task; searching first", ["search"])
            findings = self.call_tool("search", query=question, limit=4)
        doc_ids = source_order(findings)[:MAX_SOURCES]
        self.reason(
            f"Drafting from {len(doc_ids)} sources: {', '.join(doc_ids)}",
            tools_planned=["fetch"] * len(doc_ids),
        )
        sources = [self.call_tool("fetch", doc_id=doc_id) for doc_id in doc_ids]
        note = draft(question, sources)
        note["editor_note"] = self.ask_llm(f"Edit this draft:\n{note['draft'][:4000]}")
        return note
