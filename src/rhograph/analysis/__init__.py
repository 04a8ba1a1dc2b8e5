"""rhograph.analysis."""
