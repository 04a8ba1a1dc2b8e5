"""rhograph.models."""
