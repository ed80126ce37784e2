// The engagement contract with the official socket.io-client across two nodes: Ada on node A
// reports what she is doing (plain emits, no ack asked, as a page would), the host on node B
// watches. Prints what the server answered as one JSON object on stdout. Usage:
//   node engagement.mjs <urlA> <urlB> <breakoutId> <adaToken> <hostToken>
import { io } from "socket.io-client";
import { call, connected, next, report, sleep } from "./socket.mjs";

const [urlA, urlB, breakoutId, adaToken, hostToken] = process.argv.slice(2);
// What Ada does, and for how long (ms): the test checks the server's count of each.
const SCRIPT = [
  ["visible", 300],
  ["playing", 900],
  ["hidden", 400],
  ["playing", 300],
  ["idle", 500],
  ["paused", 300],
];

async function open(url, token) {
  const socket = io(url, { auth: { token }, reconnection: false, transports: ["websocket"] });
  await connected(socket);
  return socket;
}

async function main() {
  const result = {};
  const host = await open(urlB, hostToken);
  result.watch = await call(host, "watch-breakout", { breakoutId });
  const ada = await open(urlA, adaToken);
  result.join = await call(ada, "join-chat-room", { breakoutId });

  const heard = [];
  host.on("presence-diff", (diff) => heard.push(...(diff.activities ?? [])));
  for (const [state, ms] of SCRIPT) {
    ada.emit("activity", { breakoutId, state });
    await sleep(ms);
  }
  result.heard = heard.filter((change) => change.userId === "ada").map((c) => c.activity);
  const snapshot = await call(host, "watch-breakout", { breakoutId });
  result.snapshot = snapshot.viewers.map((v) => ({ userId: v.userId, activity: v.activity }));
  result.refused = await call(ada, "activity", { breakoutId, state: "dancing" });
  result.leave = await call(ada, "leave-chat-room", { breakoutId });
  result.script = SCRIPT;
  for (const socket of [ada, host]) socket.disconnect();
  return result;
}

report(main, "engagement contract");
