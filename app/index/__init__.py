"""Fast top-k over item vectors with FAISS: exact for small catalogs, HNSW above a size threshold."""
