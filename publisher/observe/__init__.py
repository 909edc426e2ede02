"""What ops watch: Prometheus metrics, health and readiness, the event bus and the alerts
raised from it. Reads the store; changes no item or delivery state."""
