#!/bin/sh
# The span pipeline's topic: keyed by trace id, so a trace's spans meet in one aggregator.
# Partitions bound how many aggregators share the work. Idempotent.
set -eu
BROKERS="${BROKERS:-redpanda.oracle-monitor.svc.cluster.local:9092}"
REPLICAS="${REPLICAS:-3}"
PARTITIONS="${PARTITIONS:-12}"
until rpk cluster health --brokers "$BROKERS" --exit-when-healthy; do sleep 2; done
rpk topic create oracle.spans --brokers "$BROKERS" -p "$PARTITIONS" -r "$REPLICAS" \
  -c retention.ms=21600000 -c compression.type=producer || true
rpk topic describe oracle.spans --brokers "$BROKERS"
