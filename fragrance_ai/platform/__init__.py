"""What every process needs from its host: logs, metrics, systemd notification and the
watchdog, socket activation, files replaced atomically."""
