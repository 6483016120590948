"""Settings of `oracle-monitor serve`, in one documented place.

Every setting is read once at start-up from, in order of precedence: the command-line flag,
the ``ORACLE_<NAME>`` environment variable, the default below. Parts of the server receive the
typed `Settings` object; nothing deeper reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Where `serve` listens, where it stores, and the receiver's limits."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_", extra="ignore")

    data_dir: Path = Field(Path("./oracle-data"), description="Directory of the embedded store.")
    host: str = Field("127.0.0.1", description="Address every listener binds to.")
    otlp_grpc_port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC port.")
    otlp_http_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP port.")
    api_port: int = Field(8000, ge=0, le=65535, description="REST API and UI port.")
    store: str = Field(
        "",
        description="Store URL: sqlite:///<data-dir>/oracle.db (default) or postgresql://…",
        repr=False,  # it may hold a password or a Supabase key
    )
    supabase_url: str = Field(
        "",
        validation_alias=AliasChoices("ORACLE_SUPABASE_URL", "SUPABASE_URL"),
        description="A Supabase project's API URL (https://<ref>.supabase.co). With a key and "
        "no store URL, events, snapshots and alerts go to the project through its API "
        "(PostgREST) and spans to <data-dir>/oracle.db; see docs/deployment.md, "
        '"PostgreSQL / Supabase".',
    )
    supabase_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "ORACLE_SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY"
        ),
        description="The project's service_role (secret) key, used with supabase_url (the "
        "first of these variables that is set); the anon key is refused.",
    )
    supabase_schema: str = Field(
        "public",
        description="The schema of Oracle Monitor's tables in that project, one the Data API "
        "exposes (the migrations' tables go to public unless applied to another).",
    )
    store_migrate: bool = Field(
        True, description="Apply the PostgreSQL store's schema migrations at start-up."
    )
    max_request_bytes: int = Field(
        16 * MiB, ge=1024, description="Largest OTLP request accepted, measured after gunzip."
    )
    max_attribute_value_length: int = Field(
        65536, ge=16, description="Longer string/bytes attribute values are cut, with a marker."
    )
    ingest_workers: int = Field(
        0, ge=0, description="Processes that decode and store spans; 0 means one per core."
    )
    queue_max_bytes: int = Field(
        64 * MiB,
        ge=1,
        description="Request bytes waiting to be stored before receivers refuse with retry info.",
    )
    write_batch_max_spans: int = Field(
        5_000, ge=1, description="Most spans written in one store transaction."
    )
    retry_after_seconds: float = Field(
        1.0, gt=0, description="Delay a refused exporter is told to wait before retrying."
    )
    shutdown_timeout_seconds: float = Field(
        30.0, gt=0, description="How long shutdown waits for in-flight requests and writes."
    )
    pricing_file: Path | None = Field(
        None, description="A TOML price table that extends or overrides the shipped one."
    )
    api_token: SecretStr | None = Field(
        None,
        description="When set, the API, Jaeger API, /metrics and WebSocket need this bearer "
        "token (/api/v1/health stays open for probes).",
    )
    otlp_token: SecretStr | None = Field(
        None, description="When set, both OTLP receivers need this bearer token."
    )
    auth_token: SecretStr | None = Field(
        None, description="Fallback for api_token and otlp_token when either is unset."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    snapshot_interval_seconds: float = Field(
        2.0, gt=0, description="How often a system snapshot is taken and stored (time travel)."
    )
    snapshot_full_resolution_hours: float = Field(
        24.0, ge=0, description="Snapshots younger than this are all kept."
    )
    snapshot_thinned_step_seconds: float = Field(
        60.0, gt=0, description="Older snapshots are thinned to one per this many seconds."
    )
    snapshot_retention_days: float = Field(
        30.0, gt=0, description="Snapshots and alerts older than this are deleted."
    )
    alert_dedupe_seconds: float = Field(
        600.0, gt=0, description="Repeats of an alert (kind and entity) this close are one alert."
    )
    alert_active_seconds: float = Field(
        300.0, gt=0, description="An alert is active (in snapshots) this long after it last fired."
    )
    # Causal chains.
    chain_timeout_seconds: float = Field(
        30.0, gt=0, description="A tool or consumer wait this long is an agent_timeout."
    )
    chain_orphan_timeout_seconds: float = Field(
        300.0, gt=0, description="A task silent this long after its pod went is orphaned."
    )

    # OTLP forwarding: every accepted span is also exported to these backends.
    forward_otlp_endpoints: str = Field(
        "",
        description="Comma-separated OTLP targets every stored span is forwarded to: "
        "grpc://host:4317, grpcs:// (TLS), http://host:4318[/v1/traces], https://.",
    )
    forward_otlp_headers: SecretStr | None = Field(
        None,
        description="Headers sent to the forward targets, as OTEL_EXPORTER_OTLP_HEADERS: "
        "key=value pairs, comma-separated, values URL-encoded.",
    )
    forward_queue_max_spans: int = Field(
        20_000, ge=1, description="Spans waiting per forward target (per worker) before drops."
    )
    forward_events: bool = Field(
        True, description="Add correlated infrastructure events to forwarded spans."
    )

    # Scale-out pipeline: `oracle-monitor receiver` publishes to it, `aggregator` consumes it.
    pipeline: str = Field(
        "",
        description="Kafka topic of the scale-out pipeline: kafka://host:port[,host:port]/topic "
        "(receivers publish to it, aggregators consume it; dead letters go to TOPIC.dlq).",
    )
    pipeline_group_id: str = Field(
        "oracle-aggregators", min_length=1, description="Consumer group of the aggregators."
    )
    pipeline_kafka_options: SecretStr | None = Field(
        None,
        description="Extra librdkafka settings for every pipeline client, key=value pairs "
        "comma-separated (e.g. security.protocol=SASL_SSL,sasl.mechanism=PLAIN,...).",
    )
    pipeline_delivery_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a receiver waits for the brokers to acknowledge a request's "
        "messages before answering UNAVAILABLE (the exporter retries).",
    )
    pipeline_linger_ms: float = Field(
        5.0, ge=0, description="How long a receiver's producer waits to fill a batch."
    )
    pipeline_compression: str = Field(
        "none", description="Producer compression: none, gzip, snappy, lz4 or zstd."
    )
    pipeline_max_message_bytes: int = Field(
        1_000_000,
        ge=4096,
        description="Largest message a receiver publishes; a larger trace becomes several.",
    )
    pipeline_topic_partitions: int = Field(
        12, ge=1, description="Partitions of the topic (and its .dlq) when it has to be created."
    )
    pipeline_consume_batch_messages: int = Field(
        500, ge=1, description="Most messages an aggregator writes in one store transaction."
    )
    pipeline_session_timeout_ms: int = Field(
        45_000,
        ge=1,
        description="Consumer session timeout: an aggregator silent this long is "
        "presumed dead and its partitions go to the others.",
    )
    pipeline_heartbeat_interval_ms: int = Field(
        3_000, ge=1, description="Consumer heartbeat interval (below a third of the session)."
    )
    pipeline_max_poll_interval_ms: int = Field(
        300_000,
        ge=1,
        description="Longest a consumer may spend on one batch before it is "
        "taken out of the group.",
    )
    pipeline_health_port: int | None = Field(
        None, ge=0, le=65535, description="Port of an aggregator's GET /health (unset: none)."
    )
    pipeline_stats_interval_seconds: float = Field(
        30.0, gt=0, description="How often an aggregator logs its counters."
    )

    # Kubernetes collector: on with a kubeconfig, or in a pod (service account).
    kubeconfig: Path | None = Field(None, description="Kubeconfig of the cluster to watch.")
    kubernetes_service_host: str | None = Field(
        None,
        validation_alias="KUBERNETES_SERVICE_HOST",
        description="Set by Kubernetes in every pod: without a kubeconfig, the collector then "
        "watches the cluster with the pod's service account.",
    )
    k8s_namespaces: str = Field("", description="Comma-separated namespaces; empty: all.")
    k8s_metrics_poll_seconds: float = Field(15.0, gt=0, description="metrics.k8s.io poll period.")
    k8s_memory_pressure_ratio: float = Field(
        0.9, gt=0, le=1, description="Memory use of a pod's limit that is memory pressure."
    )
    k8s_memory_pressure_seconds: float = Field(
        30.0, ge=0, description="How long a pod stays that high before memory_pressure."
    )
    # Kafka collector: on with a bootstrap address.
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers host:port.")
    kafka_poll_seconds: float = Field(5.0, gt=0, description="How often lag is measured.")
    kafka_dlq_patterns: str = Field(
        "*.dlq,*-dlq,dlq.*,*.DLT", description="Comma-separated globs of dead-letter topics."
    )
    kafka_lag_spike_seconds: float = Field(
        5.0, gt=0, description="Lag in seconds above which a lag_spike event is emitted."
    )
    kafka_window_polls: int = Field(10, ge=2, description="Polls in the consumer-status window.")
    kafka_security_protocol: str | None = Field(None, description="librdkafka security.protocol.")
    kafka_sasl_mechanism: str | None = Field(None, description="librdkafka sasl.mechanism.")
    kafka_sasl_username: str | None = Field(None, description="librdkafka sasl.username.")
    kafka_sasl_password: SecretStr | None = Field(None, description="librdkafka sasl.password.")
    # LLM usage collector: always on (it reads stored spans).
    llm_window_seconds: float = Field(300.0, gt=0, description="Rolling window of LLM usage.")
    llm_poll_seconds: float = Field(5.0, gt=0, description="How often LLM usage is read.")
    llm_rate_limit_burst: int = Field(
        5, ge=1, description="429s of one provider and model within a minute that make a burst."
    )
    llm_budget_usd_per_hour: float | None = Field(
        None, gt=0, description="Cost rate above which cost_over_budget is emitted."
    )

    # Scale-out: snapshot leadership among aggregators, and the API-only command.
    leader_lock_name: str = Field(
        "snapshots",
        min_length=1,
        description="Name of the snapshot leader's PostgreSQL advisory lock; the key also "
        "depends on the store's schema and tenant, so deployments sharing a database differ.",
    )
    leader_retry_seconds: float | None = Field(
        None,
        gt=0,
        description="How often a follower tries to become leader; default: the snapshot "
        "interval, so a dead leader is replaced within one interval.",
    )
    leader_check_seconds: float = Field(
        1.0, gt=0, description="How often the leader checks it still holds its lock connection."
    )
    leader_keepalive_seconds: float = Field(
        5.0,
        gt=0,
        description="TCP keepalive idle time of the lock connection (both ends) and how long "
        "a check may take: a vanished peer is noticed after about twice this.",
    )
    live_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="`oracle-monitor api`: how often the store is polled for new snapshots, "
        "alerts and events to send to live clients.",
    )

    @property
    def namespaces(self) -> tuple[str, ...]:
        """`k8s_namespaces` as a tuple (empty: every namespace the collector may list)."""
        return tuple(name.strip() for name in self.k8s_namespaces.split(",") if name.strip())

    @property
    def dlq_patterns(self) -> tuple[str, ...]:
        """`kafka_dlq_patterns` as a tuple of globs."""
        return tuple(glob.strip() for glob in self.kafka_dlq_patterns.split(",") if glob.strip())

    def api_bearer_token(self) -> str | None:
        """The token the API requires (``api_token``, else ``auth_token``), or ``None``."""
        token = self.api_token or self.auth_token
        return token.get_secret_value() if token else None

    def otlp_bearer_token(self) -> str | None:
        """The token the OTLP receivers require (``otlp_token``, else ``auth_token``)."""
        token = self.otlp_token or self.auth_token
        return token.get_secret_value() if token else None

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka settings for the collector's clients (bootstrap and security)."""
        config = {"bootstrap.servers": self.kafka_bootstrap or ""}
        for key, value in (
            ("security.protocol", self.kafka_security_protocol),
            ("sasl.mechanism", self.kafka_sasl_mechanism),
            ("sasl.username", self.kafka_sasl_username),
        ):
            if value:
                config[key] = value
        if self.kafka_sasl_password is not None:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        return config

    @field_validator("forward_otlp_endpoints")
    @classmethod
    def _check_forward_endpoints(cls, value: str) -> str:
        from oracle_monitor.exporters.otlp_forward.endpoints import parse_endpoints

        parse_endpoints(value)  # a ValueError names the bad entry
        return value

    @field_validator("pipeline")
    @classmethod
    def _check_pipeline(cls, value: str) -> str:
        if value:
            from oracle_monitor.pipeline.url import parse_pipeline_url

            parse_pipeline_url(value)  # a ValueError says what is wrong
        return value

    @model_validator(mode="after")
    def _default_store(self) -> Settings:
        if self.store:
            return self
        sqlite = f"sqlite:///{(self.data_dir / 'oracle.db').as_posix()}"
        if not self.supabase_url:
            self.store = sqlite
        elif self.supabase_key is None or not self.supabase_key.get_secret_value():
            raise ValueError(
                "SUPABASE_URL is set without a key: set SUPABASE_SERVICE_ROLE_KEY (the "
                "project's service_role key), or ORACLE_STORE=postgresql://… instead"
            )
        else:
            from oracle_monitor.store.postgrest.url import supabase_store_url

            key = self.supabase_key.get_secret_value()
            self.store = supabase_store_url(self.supabase_url, key, sqlite, self.supabase_schema)
        return self


class ProxySettings(BaseSettings):
    """Settings of `oracle-monitor proxy` (flag, else ``ORACLE_PROXY_<NAME>``, else default)."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_PROXY_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the proxy binds to.")
    port: int = Field(8787, ge=0, le=65535, description="Port the proxy listens on.")
    openai_upstream: str = Field("https://api.openai.com", description="OpenAI API base URL.")
    anthropic_upstream: str = Field(
        "https://api.anthropic.com", description="Anthropic API base URL."
    )
    pricing_file: Path | None = Field(
        None,
        validation_alias="ORACLE_PRICING_FILE",
        description="A TOML price table that extends or overrides the shipped one.",
    )
    log_level: str = Field("INFO", description="Python logging level.")
