"""Pure domain: aggregates, events and rules. Imports nothing from other layers."""
