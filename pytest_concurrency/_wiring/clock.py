"""pytest wiring for clock (filled in by its feature)."""
