"""Text to semantic vectors: the encoder model (``model``), what text is read (``texts``), and the job that
keeps every user's and item's vector current (``pipeline``)."""
