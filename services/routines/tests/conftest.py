"""The shared fixtures (a trained model, a real server on loopback) for the routines package's own tests."""

from tests.conftest import api, trained_model

__all__ = ["api", "trained_model"]
