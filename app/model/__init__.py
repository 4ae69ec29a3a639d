"""The trained model, the one thing training and serving share: the factors (``factors``), a saved version and
its loading (``versions``, its arrays memory-mapped by ``mapped``), the FAISS indexes built beside it and the
served view of it (``serving``), and the references users with few events are ranked by (``neighbours``).

The trainer writes it (``app.trainer.job``), the recommender reads it; neither imports the other.
"""
