"""Text to semantic vectors: the encoder model (``model``), what text is read (``texts``), the job that
keeps every user's and item's vector current (``pipeline``), and the request path's queries encoded in shared
passes (``batcher``)."""
