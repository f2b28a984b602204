"""Device protocol adapters, one per module, each implementing assistant.devices.DeviceAdapter."""
