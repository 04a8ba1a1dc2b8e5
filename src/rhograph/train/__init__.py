"""rhograph.train."""
