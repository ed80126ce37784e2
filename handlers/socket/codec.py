"""The JSON codecs Socket.IO packets can go through (JSON_CODEC): python-socketio takes any
object with `dumps` and `loads`."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import orjson

from config import JsonCodec


class Orjson:
    """orjson behind the standard library's two calls: compact output as a str (as
    python-socketio asks `separators=(",", ":")`), and a decoding error that is a ValueError
    like json's, so a malformed packet is refused the same way."""

    @staticmethod
    def dumps(value: Any, **_: Any) -> str:
        return orjson.dumps(value).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)


def packet_codec(chosen: JsonCodec) -> ModuleType | type[Orjson]:
    return Orjson if chosen is JsonCodec.ORJSON else json
