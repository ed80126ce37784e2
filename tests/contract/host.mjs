// The host side of the contract with the official socket.io-client: watch a breakout, see
// viewers come and go (presence-diff, viewer-count), the device limit (playback) and the end
// of the breakout (breakout-ended). Prints what happened as one JSON object. Usage:
//   node host.mjs <serverUrl> <hostToken> <viewerToken> <breakoutId>
import { io } from "socket.io-client";
import { call, connected, next, report } from "./socket.mjs";

const [url, hostToken, viewerToken, breakoutId] = process.argv.slice(2);
const open = (token) => io(url, { auth: { token }, reconnection: false });

async function main() {
  const result = {};
  const host = open(hostToken);
  const tab1 = open(viewerToken);
  const tab2 = open(viewerToken);
  await Promise.all([connected(host), connected(tab1), connected(tab2)]);

  result.watch = await call(host, "watch-breakout", { breakoutId });

  // Both come in the same coalesced flush: listen for both before joining.
  const firstJoin = next(host, "presence-diff", (d) => d.joins.length > 0);
  const firstCount = next(host, "viewer-count", (c) => c.count === 1);
  result.join1 = await call(tab1, "join-chat-room", { breakoutId });
  result.joinDiff = await firstJoin;
  result.count1 = await firstCount;

  const expelled = next(tab1, "playback", () => true);
  const expelledDiff = next(host, "presence-diff", (d) => d.leaves.length > 0);
  result.join2 = await call(tab2, "join-chat-room", { breakoutId });
  result.playback = await expelled;
  result.expelDiff = await expelledDiff;

  const ended = next(tab2, "breakout-ended", () => true);
  const endedDiff = next(host, "presence-diff", (d) =>
    d.leaves.some((leave) => leave.reason === "breakout_ended"));
  const response = await fetch(`${url}/api/breakouts/${breakoutId}/end`, {
    method: "POST",
    headers: { Authorization: `Bearer ${hostToken}` },
  });
  result.endStatus = response.status;
  result.end = (await response.json()).data;
  result.breakoutEnded = await ended;
  result.endDiff = await endedDiff;
  result.unwatch = await call(host, "unwatch-breakout", { breakoutId });

  for (const socket of [host, tab1, tab2]) socket.disconnect();
  return result;
}

report(main, "host contract");
