"""The dataset format and API: chunks, chunk indexes, metadata, tensors and datasets."""
