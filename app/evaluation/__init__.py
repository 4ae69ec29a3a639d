"""Offline evaluation (shared PROTOCOLS.md P1-P4): data set loaders, the protocols' splits and metrics, and
adapters for peer libraries. Used by scripts/evaluate.py; never on the request path."""
