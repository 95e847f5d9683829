"""The lines of the "concurrency" section that ends a pytest run's output."""

from __future__ import annotations

import re


def section(output: str) -> list[str]:
    """The section's lines, from its heading's separator to the next one."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ concurrency =+", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return lines[start + 1 : end]
