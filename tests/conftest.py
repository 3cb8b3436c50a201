"""Every test file under tests/ gets the harness's fixtures and hooks (tests/lib/bttest)."""
pytest_plugins = ["bttest.plugin"]
