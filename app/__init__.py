"""semrec: personalized product recommendations from language-model text vectors and matrix factorization.

Data flow, one package per step: ``api`` (HTTP) -> ``store`` (SQL) -> ``encoder`` -> ``trainer`` -> ``index``
-> ``recommender``. ``core`` holds what every step shares (settings, security, metrics).
"""

__version__ = "0.1.0"
