"""Cross-cutting pieces: settings, API keys, metrics, error handling."""
