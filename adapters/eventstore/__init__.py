"""Event store: the library's PostgreSQL recorder extended with the audit chain, and the shared codec."""
