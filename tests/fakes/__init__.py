"""Loopback fakes of services we do not own, speaking their real wire protocol (style guide §4.7)."""
