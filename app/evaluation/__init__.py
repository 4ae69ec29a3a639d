"""Offline evaluation (shared PROTOCOLS.md P1-P4; P5, simulated shoppers; P6, generated reviews): data set
loaders, the protocols' splits and metrics, and adapters for peer libraries. Used by the evaluation scripts;
never on the request path."""
