"""The Wyoming satellite channel: Hearth connects to satellites and runs their voice pipelines."""

from skills.satellite.channel import SatelliteChannel

CHANNEL = SatelliteChannel

__all__ = ["CHANNEL", "SatelliteChannel"]
