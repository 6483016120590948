"""The agents' local corpus: short articles and yearly series, searched without a network.

`Corpus.load()` reads the files shipped beside this module (see ``README.md`` here).
`Corpus.search` ranks passages (paragraphs) by BM25 over lower-cased word tokens;
`Corpus.find_datasets` matches a query against the series' titles and tags.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Corpus", "Dataset", "Document", "Passage", "keywords", "tokens"]

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been but by can could did do does for
    from had has have how if in into is it its make makes may more most much not of on or
    our over so some such than that the their them then there these they this those to up
    use used was we were what when where which while who why will with would you your
    between give tell explain describe compare versus vs me my i""".split()  # noqa: SIM905
)


def _words(text: str) -> list[str]:
    return [part for word in _WORD.findall(text.lower()) for part in word.split("-")]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, crude plurals folded (``batteries`` → ``battery``)."""
    return [_fold(word) for word in _words(text)]


def _fold(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def keywords(text: str) -> list[str]:
    """The tokens of ``text`` that carry meaning (no stop words), first occurrence order."""
    seen: dict[str, None] = {}
    for word in _words(text):
        token = _fold(word)
        if word not in STOPWORDS and token not in STOPWORDS and len(token) > 1:
            seen.setdefault(token)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Passage:
    """One paragraph of a document."""

    passage_id: str
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    """An article: its id (file stem), title, tags and paragraphs."""

    doc_id: str
    title: str
    tags: tuple[str, ...]
    passages: tuple[Passage, ...]

    @property
    def text(self) -> str:
        """The paragraphs, separated by blank lines."""
        return "\n\n".join(p.text for p in self.passages)

    @property
    def topic_terms(self) -> frozenset[str]:
        """Tokens of the title and tags: what the document is about."""
        return frozenset(tokens(" ".join((self.title, *self.tags)))) - STOPWORDS


@dataclass(frozen=True, slots=True)
class Dataset:
    """A yearly series: ``points`` are (year, value) in year order."""

    name: str
    title: str
    unit: str
    tags: tuple[str, ...]
    points: tuple[tuple[int, float], ...]

    def to_json(self) -> dict[str, Any]:
        """The series as a tool returns it."""
        return {
            "name": self.name,
            "title": self.title,
            "unit": self.unit,
            "points": [[year, value] for year, value in self.points],
        }


def _parse_document(doc_id: str, text: str) -> Document:
    lines = text.strip().splitlines()
    title = lines[0].lstrip("# ").strip()
    tags: tuple[str, ...] = ()
    body = lines[1:]
    if body and body[0].startswith("tags:"):
        tags = tuple(t.strip() for t in body[0][5:].split(",") if t.strip())
        body = body[1:]
    paragraphs = [p.strip().replace("\n", " ") for p in "\n".join(body).split("\n\n")]
    passages = tuple(
        Passage(f"{doc_id}#{n}", doc_id, title, p)
        for n, p in enumerate((p for p in paragraphs if p), start=1)
    )
    return Document(doc_id, title, tags, passages)


class Corpus:
    """Documents and datasets, with BM25 passage search."""

    K1 = 1.5
    B = 0.75

    def __init__(self, documents: list[Document], datasets: list[Dataset]) -> None:
        self.documents = {d.doc_id: d for d in documents}
        self.datasets = {d.name: d for d in datasets}
        self._passages = [p for d in documents for p in d.passages]
        self._terms = [Counter(tokens(f"{p.title} {p.text}")) for p in self._passages]
        count = max(1, len(self._passages))
        self._avg_len = sum(sum(t.values()) for t in self._terms) / count
        frequency: Counter[str] = Counter()
        for terms in self._terms:
            frequency.update(terms.keys())
        self._idf = {
            term: math.log(1 + (count - n + 0.5) / (n + 0.5)) for term, n in frequency.items()
        }

    @classmethod
    @cache
    def load(cls) -> Corpus:
        """The corpus shipped in the package (read once per process)."""
        root = resources.files(__name__)
        documents = [
            _parse_document(entry.name.removesuffix(".md"), entry.read_text(encoding="utf-8"))
            for entry in sorted(root.joinpath("documents").iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".md")
        ]
        raw = json.loads(root.joinpath("datasets.json").read_text(encoding="utf-8"))
        datasets = [
            Dataset(
                name,
                item["title"],
                item["unit"],
                tuple(item["tags"]),
                tuple((int(year), float(value)) for year, value in item["points"]),
            )
            for name, item in raw.items()
        ]
        return cls(documents, datasets)

    def search(self, query: str, limit: int = 3) -> list[tuple[Passage, float]]:
        """The ``limit`` passages that best match ``query`` (BM25), best first; no zeros."""
        terms = keywords(query)
        scored: list[tuple[Passage, float]] = []
        for passage, counts in zip(self._passages, self._terms, strict=True):
            length = sum(counts.values())
            score = 0.0
            for term in terms:
                tf = counts.get(term, 0)
                if tf:
                    norm = tf + self.K1 * (1 - self.B + self.B * length / self._avg_len)
                    score += self._idf[term] * tf * (self.K1 + 1) / norm
            if score > 0:
                scored.append((passage, round(score, 4)))
        scored.sort(key=lambda item: (-item[1], item[0].passage_id))
        return scored[:limit]

    def topics(self, terms: list[str]) -> list[tuple[Document, list[str]]]:
        """Documents whose title or tags share a term, most shared first, with those terms."""
        found = []
        for doc in self.documents.values():
            shared = [t for t in terms if t in doc.topic_terms]
            if shared:
                found.append((doc, shared))
        found.sort(key=lambda item: (-len(item[1]), item[0].doc_id))
        return found

    def find_datasets(self, query: str, limit: int = 3) -> list[Dataset]:
        """Datasets whose name, title or tags share the most query terms (at least half as many
        as the best), best first."""
        terms = set(keywords(query))
        scored = []
        for dataset in self.datasets.values():
            words = set(tokens(" ".join((dataset.name.replace("_", " "), dataset.title))))
            words |= set(tokens(" ".join(dataset.tags)))
            shared = len(terms & (words - STOPWORDS))
            if shared:
                scored.append((shared, dataset.name, dataset))
        scored.sort(key=lambda item: (-item[0], item[1]))
        best = scored[0][0] if scored else 0
        return [dataset for shared, _, dataset in scored[:limit] if 2 * shared >= best]
