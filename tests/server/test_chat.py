"""A breakout's chat against the real server and PostgreSQL: posting, the room, the comments
sent on join, older ones, bad input, the rate, mutes, deletion, and the analysts' route."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
import pytest

from handlers.keys import SIO
from models.domain.records import Role
from tests.support.api import Api
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def joined(server: RunningServer, connect: Any, user: str, breakout: str, **kw: Any) -> Any:
    viewer = await connect(server, server.token(user, name=f"User {user}", **kw))
    ack = await viewer.call("join-chat-room", {"breakoutId": breakout})
    assert ack["ok"], ack
    await viewer.next("last-comments")
    return viewer


async def post(viewer: Any, breakout: str, text: str, **more: Any) -> Any:
    return await viewer.call("send-comment", {"breakoutId": breakout, "text": text, **more})


async def test_a_comment_is_stored_before_its_ack_and_reaches_the_whole_room(
    server: RunningServer, connect: Any
) -> None:
    breakout = new_breakout_id()
    ada, bob = [await joined(server, connect, u, breakout) for u in ("ada", "bob")]
    ack = await post(ada, breakout, "  Hello, class!\n\tSecond line  ")
    assert ack["ok"] is True
    comment = ack["comment"]
    assert comment["text"] == "Hello, class!\n\tSecond line" and comment["userId"] == "ada"
    assert comment["name"] == "User ada" and comment["breakoutId"] == breakout
    assert comment["replyTo"] is None and comment["createdAt"].endswith("Z")
    async with server.pool.acquire() as connection:
        stored = await connection.fetchval("SELECT text FROM comments WHERE id = $1", comment["id"])
    assert stored == comment["text"]  # committed before the ack
    assert await bob.next("new-comment") == comment
    assert await ada.next("new-comment") == comment

    reply = await post(bob, breakout, "Hi Ada", replyTo=comment["id"])
    assert reply["comment"]["replyTo"] == comment["id"]


async def test_a_joining_socket_gets_the_newest_comments_oldest_first(
    make_server: Any, connect: Any
) -> None:
    server = await make_server(comments_on_join=3)
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    ids = [(await post(ada, breakout, f"note {n}"))["comment"]["id"] for n in range(5)]
    assert ids == sorted(ids)  # ids sort as the comments were posted

    late = await connect(server, server.token("late"))
    await late.call("join-chat-room", {"breakoutId": breakout})
    last = await late.next("last-comments")
    assert last["breakoutId"] == breakout
    assert [c["text"] for c in last["comments"]] == ["note 2", "note 3", "note 4"]

    older = await late.call("comments-before", {"breakoutId": breakout, "before": ids[2]})
    assert older["ok"] and [c["text"] for c in older["comments"]] == ["note 0", "note 1"]
    one = await late.call("comments-before", {"breakoutId": breakout, "before": ids[2], "limit": 1})
    assert [c["text"] for c in one["comments"]] == ["note 1"]


async def test_only_a_socket_in_the_breakout_may_post(server: RunningServer, connect: Any) -> None:
    breakout, other = new_breakout_id(), new_breakout_id()
    elsewhere = await joined(server, connect, "eve", other)
    outside = await connect(server, server.token("out"))
    for viewer in (elsewhere, outside):
        ack = await post(viewer, breakout, "let me in")
        assert ack["ok"] is False and ack["error"]["code"] == "not_joined"
    left = await joined(server, connect, "lea", breakout)
    await left.call("leave-chat-room", {"breakoutId": breakout})
    ack = await post(left, breakout, "still here?")
    assert ack["error"]["code"] == "not_joined"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "nul\u0000"}, "text"),
        ({"text": "bell\u0007"}, "text"),
        ({"text": 42}, "text"),
        ({"text": "ok", "replyTo": "<script>"}, "replyTo"),
        ({"text": "ok", "breakoutId": ""}, "breakoutId"),
    ],
)
async def test_bad_comments_are_refused_with_a_clear_error(
    server: RunningServer, connect: Any, payload: dict[str, Any], field: str
) -> None:
    breakout = new_breakout_id()
    viewer = await joined(server, connect, "ada", breakout)
    ack = await viewer.call("send-comment", {"breakoutId": breakout, **payload})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_payload"
    assert ack["error"]["message"].startswith(field)


async def test_a_user_posting_past_the_rate_is_refused(make_server: Any, connect: Any) -> None:
    server = await make_server(comment_rate_per_min=6)  # a burst of 5, then one every 10 s
    breakout = new_breakout_id()
    viewer = await joined(server, connect, "ada", breakout)
    acks = [await post(viewer, breakout, f"spam {n}") for n in range(6)]
    assert [a["ok"] for a in acks] == [True] * 5 + [False]
    assert acks[-1]["error"]["code"] == "rate_limited"


async def test_a_host_mutes_a_user_and_lifts_it(server: RunningServer, connect: Any) -> None:
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    host = await connect(server, server.token("host", role=Role.HOST))
    refused = await ada.call("mute-user", {"breakoutId": breakout, "userId": "bob", "minutes": 5})
    assert refused["error"]["code"] == "forbidden"  # attendees cannot mute

    muted = await host.call("mute-user", {"breakoutId": breakout, "userId": "ada", "minutes": 10})
    assert muted["ok"] is True and muted["until"].endswith("Z")
    ack = await post(ada, breakout, "can you hear me?")
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    assert "muted" in ack["error"]["message"]
    await host.call("mute-user", {"breakoutId": breakout, "userId": "ada", "minutes": 0})
    assert (await post(ada, breakout, "back"))["ok"] is True


async def test_a_host_deletes_a_comment_everywhere_and_the_record_keeps_who(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    comment = (await post(ada, breakout, "oops"))["comment"]
    await post(ada, breakout, "fine")
    await ada.next("new-comment")
    refused = await ada.call("delete-comment", {"breakoutId": breakout, "commentId": comment["id"]})
    assert refused["error"]["code"] == "forbidden"

    host = await connect(server, server.token("host-1", role=Role.HOST))
    ack = await host.call("delete-comment", {"breakoutId": breakout, "commentId": comment["id"]})
    assert ack["ok"] is True
    assert await ada.next("comment-deleted") == {"breakoutId": breakout, "commentId": comment["id"]}
    missing = await host.call("delete-comment", {"breakoutId": breakout, "commentId": "nope"})
    assert missing["error"]["code"] == "not_found"

    late = await connect(server, server.token("late"))
    await late.call("join-chat-room", {"breakoutId": breakout})
    assert [c["text"] for c in (await late.next("last-comments"))["comments"]] == ["fine"]

    api = Api(http, server, "org-a")
    status, body = await api.call(
        "GET", f"/api/breakouts/{breakout}/comments", headers=api.headers(Role.ANALYST)
    )
    assert status == 200 and body["next_cursor"] is None
    first, second = body["data"]
    assert (first["id"], first["text"], first["deletedBy"]) == (comment["id"], None, "host-1")
    assert first["deletedAt"].endswith("Z") and second["text"] == "fine"
    status, text = await api.text(f"/api/breakouts/{breakout}/comments?format=csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and [row["text"] for row in rows] == ["", "fine"]
    status, _ = await api.call(
        "GET", f"/api/breakouts/{breakout}/comments", headers=api.headers(Role.ATTENDEE)
    )
    assert status == 403
    other = Api(http, server, "org-b")
    status, _ = await other.call("GET", f"/api/breakouts/{breakout}/comments")
    assert status == 404


async def test_comments_are_text_never_markup_and_come_a_page_at_a_time(
    server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    for text in ("<img src=x onerror=alert(1)>", '=HYPERLINK("x")', "third"):
        assert (await post(ada, breakout, text))["ok"]
    api = Api(http, server, "org-a")
    _, page = await api.call("GET", f"/api/breakouts/{breakout}/comments?limit=2")
    assert [c["text"] for c in page["data"]] == ["<img src=x onerror=alert(1)>", '=HYPERLINK("x")']
    _, rest = await api.call(
        "GET", f"/api/breakouts/{breakout}/comments?limit=2&cursor={page['next_cursor']}"
    )
    assert [c["text"] for c in rest["data"]] == ["third"]
    _, text = await api.text(f"/api/breakouts/{breakout}/comments?format=csv")
    assert "'=HYPERLINK" in text  # a spreadsheet shows it, never runs it


async def test_no_comments_on_join_sends_none(make_server: Any, connect: Any) -> None:
    server = await make_server(comments_on_join=0)
    breakout = new_breakout_id()
    ada = await connect(server, server.token("ada"))
    await ada.call("join-chat-room", {"breakoutId": breakout})
    assert (await post(ada, breakout, "hi"))["ok"]
    late = await connect(server, server.token("late"))
    await late.call("join-chat-room", {"breakoutId": breakout})
    with pytest.raises(TimeoutError):
        await late.next("last-comments", 0.5)


class _CountedWrites:
    """A connection's transport that keeps what each write to it carried."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _frames(data: bytes) -> list[str]:
    """The text frames (a server's: final, unmasked) one write carried."""
    frames = []
    while data:
        assert data[0] == 0x81, data[:2]
        size, start = data[1], 2
        if size == 126:
            size, start = int.from_bytes(data[2:4]), 4
        elif size == 127:
            size, start = int.from_bytes(data[2:10]), 10
        frames.append(data[start : start + size].decode())
        data = data[start + size :]
    return frames


async def test_a_join_gets_its_ack_and_the_newest_comments_in_one_write(
    make_server: Any, connect: Any
) -> None:
    """When the node has a breakout's newest comments, a join's ack and its `last-comments`
    leave in one write (one system call, one segment), framed right at every length."""
    server = await make_server(comments_on_join=50, comment_rate_per_min=60_000)
    breakout = new_breakout_id()
    ada = await joined(server, connect, "ada", breakout)
    posted = 0
    # Frames of under 126 bytes, under 64 KiB, and over (2,000 two-byte characters a comment).
    for count, length in ((0, 0), (1, 500), (39, 2000)):
        for n in range(count):
            answer = await post(ada, breakout, f"{n:02}" + "é" * (length - 2))
            assert answer["ok"], answer
        posted += count
        await joined(server, connect, "reader", breakout)  # its join reads them: now kept
        late = await connect(server, server.token("late"))
        engine_socket = server.app[SIO].eio.sockets[late.client.eio.sid]
        counted = engine_socket.transport = _CountedWrites(engine_socket.transport)
        ack = await late.call("join-chat-room", {"breakoutId": breakout})
        last = await late.next("last-comments")
        texts = [c["text"] for c in last["comments"]]
        assert len(texts) == posted
        assert all(len(text) == length for text in texts[posted - count :])
        together = [_frames(w) for w in counted.writes if b'"last-comments"' in w]
        assert len(together) == 1, counted.writes
        ack_frame, comments_frame = together[0]
        assert ack_frame.startswith("43") and ack["sessionId"] in ack_frame, ack_frame
        assert comments_frame.startswith('42["last-comments"'), comments_frame[:40]
        await late.client.disconnect()
