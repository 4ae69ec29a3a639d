"""Answers for storefronts: the active model version loaded for serving (``serving``), the catalog's
current state in memory (``catalog``), and the recommendation logic (``service``)."""
