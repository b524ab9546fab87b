"""The uuid5 namespace of every deterministic aggregate id in Paul P (never change it: ids derive from it)."""

from uuid import UUID

PAULP_NAMESPACE = UUID("6f1c2a4e-5d3b-5a8e-9c41-7b0d2e9f3a10")
