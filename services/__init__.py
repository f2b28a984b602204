"""Actions: each service module registers its intent handlers with the dialogue manager in setup(core)."""
