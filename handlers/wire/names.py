"""Every Socket.IO event and room name of the contract (namespace "/"), in one place."""

from __future__ import annotations

# What clients send; AudienceNamespace handles each in on_<name with underscores>.
JOIN_CHAT_ROOM = "join-chat-room"
LEAVE_CHAT_ROOM = "leave-chat-room"
WATCH_BREAKOUT = "watch-breakout"
UNWATCH_BREAKOUT = "unwatch-breakout"
SEND_COMMENT = "send-comment"
COMMENTS_BEFORE = "comments-before"
DELETE_COMMENT = "delete-comment"
MUTE_USER = "mute-user"
ACTIVITY = "activity"
CLIENT_EVENTS = frozenset(
    {
        JOIN_CHAT_ROOM,
        LEAVE_CHAT_ROOM,
        WATCH_BREAKOUT,
        UNWATCH_BREAKOUT,
        SEND_COMMENT,
        COMMENTS_BEFORE,
        DELETE_COMMENT,
        MUTE_USER,
        ACTIVITY,
    }
)
# Called by the server itself, never by a client (protocol.GuardedServer sees to that).
LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})

# What the server sends.
VIEWER_COUNT = "viewer-count"  # to the chat room and its watchers
PRESENCE_DIFF = "presence-diff"  # to the watchers
BREAKOUT_ENDED = "breakout-ended"  # to the chat room
PLAYBACK = "playback"  # to an expelled socket, with DEVICE_LIMIT_EXCEEDED
DEVICE_LIMIT_EXCEEDED = "device-limit-exceeded"
NEW_COMMENT = "new-comment"  # to the chat room
LAST_COMMENTS = "last-comments"  # to a socket that joined
COMMENT_DELETED = "comment-deleted"  # to the chat room
FEVER_ALERT = "fever-alert"  # to an org's staff
FEVER_ALERT_ACKNOWLEDGED = "fever-alert-acknowledged"  # to an org's staff


def handler_name(event: str) -> str:
    """The namespace method's name for a wire event: join-chat-room -> join_chat_room."""
    return event.replace("-", "_")


def chat_room(place: str) -> str:
    """The sockets with an open session in the breakout (its place: `org_place`): its
    viewers, and its chat."""
    return f"chat-room-{place}"


def place_of_chat_room(room: str) -> str | None:
    """The place whose chat room `room` is, or None for any other room."""
    prefix = chat_room("")
    return room[len(prefix) :] if room.startswith(prefix) else None


def watchers_room(place: str) -> str:
    """Hosts watching a breakout; kept apart from the chat room so viewers hear no host events."""
    return f"watchers-{place}"


def staff_room(org_id: str) -> str:
    """The sockets of an org's hosts and admins, who hear its fever alerts live."""
    return f"staff-{org_id}"
