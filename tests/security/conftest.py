"""One database per security test module (auth tests read state; tests that write use ``fresh_db``): ``module_db``
and ``module_ns`` come from tests/conftest.py."""
