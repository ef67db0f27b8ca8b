"""xspace.analysis."""
