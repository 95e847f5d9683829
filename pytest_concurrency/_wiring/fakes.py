"""pytest wiring for fakes (filled in by its feature)."""
