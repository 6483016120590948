"""Tests of the aggregator's causal-chain engine."""
