"""rhograph.data."""
