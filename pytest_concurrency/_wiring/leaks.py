"""pytest wiring for leaks (filled in by its feature)."""
