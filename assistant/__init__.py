"""Hearth: the dialogue manager, NLU, store, server and the seams that everything else plugs into."""

__version__ = "0.1.0"
