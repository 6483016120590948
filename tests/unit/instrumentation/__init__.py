"""Unit tests of oracle_monitor.instrumentation."""
