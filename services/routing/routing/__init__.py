"""Routing service: addressee agency for every appeal, explained; redirects; agency topics.

The place matcher and the classifier's arithmetic may run compiled: `routing.native` loads
them, and falls back to the source when `make install` did not build them from it.
"""
