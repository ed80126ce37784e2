"""Configuration: the environment read once into a frozen Settings."""

from config.settings import (
    SETTINGS,
    IpNetwork,
    IpStorage,
    RetentionMode,
    Settings,
    SettingsError,
    describe_settings,
    load_settings,
)

__all__ = [
    "SETTINGS",
    "IpNetwork",
    "IpStorage",
    "RetentionMode",
    "Settings",
    "SettingsError",
    "describe_settings",
    "load_settings",
]
