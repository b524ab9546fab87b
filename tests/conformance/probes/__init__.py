"""Probes run by hand over the conformance checkers (minutes per pass, so not part of the suite)."""
