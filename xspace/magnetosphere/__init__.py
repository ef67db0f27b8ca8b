"""xspace.magnetosphere."""
