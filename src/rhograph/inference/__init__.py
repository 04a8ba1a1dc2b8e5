"""rhograph.inference."""
