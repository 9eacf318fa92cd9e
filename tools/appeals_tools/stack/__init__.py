"""`appeals-stack`: the local stack without Docker (real Kafka, real PostgreSQL, the services)."""
