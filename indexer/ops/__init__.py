"""What operators see: `GET /v1/status` and Prometheus metrics, read from Redis and (briefly) the engine."""
