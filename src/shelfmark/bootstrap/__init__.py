"""The composition root: the only package that imports every context and adapter."""

from shelfmark.bootstrap.container import Shelfmark, bootstrap

__all__ = ["Shelfmark", "bootstrap"]
