"""Dataset readers, split files, transforms and the synthetic scene generator."""
