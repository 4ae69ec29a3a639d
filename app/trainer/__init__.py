"""Hybrid matrix factorization: learn user and item factors from interactions, starting from (and mapping
from) the encoder's text vectors. ``types`` holds what the parts share, ``fit`` is the one entry point over the
two solvers (``model``: Adam, ``bayes``: Gibbs sampling), ``data`` reads the store into arrays, ``job`` runs it
in the worker and writes a model version (``versions``)."""
