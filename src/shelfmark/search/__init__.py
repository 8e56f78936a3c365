"""Search: the denormalised, eventually consistent book index the catalogue is searched through."""
