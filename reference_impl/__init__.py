"""Reference implementations of the concurrency guards in the seed documents.

Standard library only; every guard reads its clock at call time so fake clocks
and the explorer's virtual time reach it.
"""
