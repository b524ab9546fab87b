"""Kalshi venue adapter: request signing (this package's `signing`), REST client and paper venue."""
