#!/bin/sh
# The agents' Kafka topology: task topics per agent kind, tool calls, results, dead letters.
# Idempotent: a topic that exists already is left as it is.
set -eu
BROKERS="${BROKERS:-redpanda.agents.svc.cluster.local:9092}"
REPLICAS="${REPLICAS:-1}"
until rpk cluster health --brokers "$BROKERS" --exit-when-healthy; do sleep 2; done
for topic in tasks.research tasks.writer tasks.analysis tool-requests tool-responses results; do
  rpk topic create "$topic" --brokers "$BROKERS" -p 6 -r "$REPLICAS" || true
done
rpk topic create tasks.dlq --brokers "$BROKERS" -p 1 -r "$REPLICAS" -c retention.ms=604800000 || true
rpk topic list --brokers "$BROKERS"
