"""Agents that take tasks from Kafka, call tools and LLMs, and are traced end to end.

`BaseAgent` is the base class (subclass it and write ``process_task``); `ResearchAgent`,
`WriterAgent` and `AnalysisAgent` are built on it, over the small corpus shipped in
``agents/corpus/``; `ToolWorker` serves their tool calls. One process runs one of them::

    python -m oracle_monitor.agents research|writer|analysis|tools [--name NAME]
    python -m oracle_monitor.agents my_package.my_module:MyCustomAgent

configured by its environment (`AgentSettings`, ``ORACLE_AGENT_*``; ``OTEL_*``; ``K8S_*``).
"""

from oracle_monitor.agents.analysis import AnalysisAgent
from oracle_monitor.agents.base import BaseAgent, Outcome
from oracle_monitor.agents.errors import AgentStopping, ToolCallFailed, ToolError, ToolTimeoutError
from oracle_monitor.agents.messages import DeadLetter, Result, Task, ToolRequest, ToolResponse
from oracle_monitor.agents.research import ResearchAgent
from oracle_monitor.agents.settings import AgentSettings, Control
from oracle_monitor.agents.tool_client import KafkaToolClient, LocalToolClient, ToolClient
from oracle_monitor.agents.tools import ToolWorker, corpus_tools
from oracle_monitor.agents.writer import WriterAgent

#: The agents ``python -m oracle_monitor.agents <kind>`` knows by name.
AGENTS: dict[str, type[BaseAgent]] = {
    agent.kind: agent for agent in (ResearchAgent, WriterAgent, AnalysisAgent)
}

__all__ = [
    "AGENTS",
    "AgentSettings",
    "AgentStopping",
    "AnalysisAgent",
    "BaseAgent",
    "Control",
    "DeadLetter",
    "KafkaToolClient",
    "LocalToolClient",
    "Outcome",
    "ResearchAgent",
    "Result",
    "Task",
    "ToolCallFailed",
    "ToolClient",
    "ToolError",
    "ToolRequest",
    "ToolResponse",
    "ToolTimeoutError",
    "ToolWorker",
    "WriterAgent",
    "corpus_tools",
]
