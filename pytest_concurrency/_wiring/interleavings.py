"""pytest wiring for interleavings (filled in by its feature)."""
