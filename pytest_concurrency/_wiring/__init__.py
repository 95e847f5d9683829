"""Thin pytest glue per feature; logic lives in the library."""
