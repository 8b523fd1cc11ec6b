"""Call recordings: storage, metadata, signed download links, retention."""
