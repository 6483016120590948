"""Optional compiled parts of the Oracle Monitor server.

`oracle_monitor_speedups.otlp` decodes OTLP trace requests without the protobuf runtime's
Python wrappers; the receiver uses it when it is installed (``make install`` builds it) and
decodes through the runtime otherwise, with the same result.
"""
