"""What an operator watches: metrics for Prometheus, structured logs, health and readiness."""
