"""tlsprobe: judge the TLS of PostgreSQL, SMTP and HTTPS endpoints."""

__version__ = "0.1.0"
