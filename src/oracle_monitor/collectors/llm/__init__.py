"""LLM usage and cost: the pricing table, and the LLM proxy."""
