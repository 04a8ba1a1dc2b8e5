"""rhograph.nn."""
