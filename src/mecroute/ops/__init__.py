"""Operational tools an on-call engineer runs against a deployed stack (or the offline one)."""
