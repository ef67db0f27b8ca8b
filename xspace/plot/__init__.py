"""xspace.plot."""
