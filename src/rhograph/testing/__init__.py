"""rhograph.testing."""
