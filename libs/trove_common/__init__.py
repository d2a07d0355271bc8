"""Code shared by every Trove service: settings blocks, logging, telemetry, gRPC, database, storage."""
