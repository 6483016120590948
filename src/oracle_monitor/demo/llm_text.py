"""Text of the local LLM provider's realistic mode: the prompt, an answer, token counts.

Tokens are estimated the way the providers' guides do (about four characters of English a
token); an answer is built from the prompt's own words, deterministically, so the same
question gets the same answer and the demo's runs are reproducible.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
_STOP_WORDS = (
    "this that with from have what which about into your their there these those them then "
    "than when where will would should could been being does were also only just like more "
    "most some such very task tool tools answer question please using used user system "
    "assistant json"
)
_STOP = frozenset(_STOP_WORDS.split())
_OPENINGS = (
    "Here is what the sources say about {a}.",
    "In short: {a} depends mostly on {b}.",
    "The evidence on {a} points in one direction.",
    "Summary of the findings on {a} and {b}.",
)
_SENTENCES = (
    "The most cited factor is {a}, followed by {b}.",
    "Two sources disagree on how {a} relates to {b}; the newer one is more careful.",
    "{A} has been measured directly only in small studies.",
    "Taken together, {a} and {b} explain most of what was observed.",
    "A reasonable next step is to compare {a} across the remaining documents.",
    "There is no sign that {b} changed the outcome on its own.",
)


def _content(value: Any) -> str:
    """Text of a message ``content``: a string, or a list of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_content(part.get("text", "")) for part in value if isinstance(part, dict))
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    """All the text a chat/responses/messages/completions request sends."""
    parts: list[str] = [_content(body.get("system"))]  # Anthropic's system prompt
    parts.append(_content(body.get("instructions")))  # OpenAI responses
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            parts.append(_content(message.get("content")))
    given = body.get("input")
    if isinstance(given, str):
        parts.append(given)
    elif isinstance(given, list):
        parts.extend(_content(item.get("content")) for item in given if isinstance(item, dict))
    prompt = body.get("prompt")
    parts.append(prompt if isinstance(prompt, str) else "")
    return "\n".join(part for part in parts if part)


def tokens_in(text: str) -> int:
    """Estimated tokens of ``text`` (about four characters each, a few for the framing)."""
    return max(1, (len(text) + 3) // 4) + 7


def answer_for(prompt: str, max_tokens: int = 0) -> str:
    """An answer of a few sentences built from the prompt's words (the same for the same)."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    words: list[str] = [w.lower() for w in _WORD.findall(prompt) if w.lower() not in _STOP]
    pool: list[str] = list(dict.fromkeys(words)) or ["the question", "the context"]

    def pick() -> str:
        return rng.choice(pool)

    sentences = [rng.choice(_OPENINGS).format(a=pick(), b=pick())]
    for _ in range(rng.randint(2, 5)):
        a = pick()
        sentences.append(rng.choice(_SENTENCES).format(a=a, A=a.capitalize(), b=pick()))
    text = " ".join(sentences)
    if max_tokens > 0:
        text = "".join(split_tokens(text)[:max_tokens])
    return text


def split_tokens(text: str) -> list[str]:
    """``text`` cut into token-sized pieces (a word with its leading space, or punctuation)."""
    return re.findall(r"\s*[\w'-]+|\s*[^\w\s]", text) or [text]
