"""Collectors: what the infrastructure and the LLM providers did (k8s/, kafka/, llm/)."""
