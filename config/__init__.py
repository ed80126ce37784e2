"""Configuration: the environment read once into a frozen Settings."""

from config.settings import (
    SETTINGS,
    EventLoop,
    IpNetwork,
    IpStorage,
    JsonCodec,
    PartitionInterval,
    PoolReset,
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
    "EventLoop",
    "JsonCodec",
    "PartitionInterval",
    "PoolReset",
    "RetentionMode",
    "Settings",
    "SettingsError",
    "describe_settings",
    "load_settings",
]
