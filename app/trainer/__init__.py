"""Hybrid matrix factorization: learn user and item factors from interactions, starting from (and mapping
from) the encoder's text vectors. ``data`` reads the store into arrays, ``model`` fits, ``job`` runs it in the
worker and writes a model version."""
