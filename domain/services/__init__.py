"""Thin application services, one per bounded context, all recording into the one global log."""
