"""Errors raised by :mod:`qdevices` for bad input."""


class DeviceInputError(ValueError):
    """A device parameter or input is outside its allowed range."""


def require_in_range(name: str, value: float, low: float, high: float) -> None:
    """Raise :class:`DeviceInputError` unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise DeviceInputError(f"{name} must be in [{low}, {high}], got {value}")
