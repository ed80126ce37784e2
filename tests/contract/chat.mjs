// The chat contract with the official socket.io-client across two nodes: Ada on node A, Bob and
// the host on node B. Prints what the server answered as one JSON object on stdout. Usage:
//   node chat.mjs <urlA> <urlB> <breakoutId> <adaToken> <bobToken> <lateToken> <hostToken>
import { io } from "socket.io-client";
import { call, connected, next, report, sleep } from "./socket.mjs";

const [urlA, urlB, breakoutId, adaToken, bobToken, lateToken, hostToken] = process.argv.slice(2);

async function open(url, token) {
  const socket = io(url, { auth: { token }, reconnection: false, transports: ["websocket"] });
  await connected(socket);
  return socket;
}

async function join(socket) {
  const last = next(socket, "last-comments");
  const ack = await call(socket, "join-chat-room", { breakoutId });
  return { ack, last: await last };
}

// Posts until the answer is not `ok` or `deadlineMs` passes: a mute set on another node applies
// there within a couple of seconds.
async function postUntilRefused(socket, text, deadlineMs) {
  const until = Date.now() + deadlineMs;
  let ack;
  do {
    ack = await call(socket, "send-comment", { breakoutId, text });
    if (!ack.ok) return ack;
    await sleep(250);
  } while (Date.now() < until);
  return ack;
}

async function main() {
  const result = {};
  const ada = await open(urlA, adaToken);
  const bob = await open(urlB, bobToken);
  const host = await open(urlB, hostToken);
  result.adaJoin = await join(ada);
  result.bobJoin = await join(bob);

  const bobHears = next(bob, "new-comment");
  result.post = await call(ada, "send-comment", { breakoutId, text: "hello from node A" });
  result.bobHeard = await bobHears;

  const late = await open(urlB, lateToken);
  result.lateJoin = await join(late);
  result.before = await call(late, "comments-before", {
    breakoutId, before: result.post.comment.id, limit: 10,
  });

  result.mute = await call(host, "mute-user", { breakoutId, userId: "ada", minutes: 5 });
  result.muted = await postUntilRefused(ada, "am I muted?", 4000);
  await call(host, "mute-user", { breakoutId, userId: "ada", minutes: 0 });
  await sleep(2500);
  result.unmuted = await call(ada, "send-comment", { breakoutId, text: "back again" });

  const adaHearsDelete = next(ada, "comment-deleted");
  result.delete = await call(host, "delete-comment", { breakoutId, commentId: result.post.comment.id });
  result.adaHeardDelete = await adaHearsDelete;

  result.flood = [];
  for (let n = 0; n < 6; n += 1) {
    result.flood.push(await call(bob, "send-comment", { breakoutId, text: `flood ${n}` }));
  }
  for (const socket of [ada, bob, late, host]) socket.disconnect();
  return result;
}

report(main, "chat contract");
