"""The e2e suite's pytest plugins: provider options and the `backend` fixture, notices, the kind run report.

Everything pytest-specific lives here and in the tests; the providers themselves know nothing of pytest.
"""
