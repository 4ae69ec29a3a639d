"""semrec: personalized product recommendations from language-model text vectors and matrix factorization.

The data flow, one package per step: ``api`` (HTTP) -> ``store`` (SQL) -> ``encoder`` (text vectors) ->
``trainer`` -> ``model`` (the trained artifact) -> ``index`` (FAISS) -> ``recommender`` and ``conversation``
(serving). The layers and what each package holds: docs/architecture.md.
"""

__version__ = "0.1.0"
