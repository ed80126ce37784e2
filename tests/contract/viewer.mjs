// Runs the viewer contract with the official socket.io-client, as a browser would, and prints
// what the server answered as one JSON object on stdout. Usage:
//   node viewer.mjs <serverUrl> <token> <breakoutId> <forwardedFor> <userAgent>
import { io } from "socket.io-client";
import { call, connected, next, report } from "./socket.mjs";

const [url, token, breakoutId, forwardedFor, userAgent] = process.argv.slice(2);

function open(auth) {
  // Default transports: long-polling first, then the upgrade to websocket, as browsers do.
  return io(url, {
    auth,
    reconnection: false,
    extraHeaders: { "X-Forwarded-For": forwardedFor, "User-Agent": userAgent },
  });
}

async function main() {
  const result = {};

  const viewer = open({ token });
  await connected(viewer);
  const firstCount = next(viewer, "viewer-count");
  result.join = await call(viewer, "join-chat-room", { breakoutId });
  result.counts = [await firstCount];
  result.rejoin = await call(viewer, "join-chat-room", { breakoutId });
  result.leave = await call(viewer, "leave-chat-room", { breakoutId });
  result.transport = viewer.io.engine.transport.name;

  result.garbage = [];
  for (const payload of [undefined, 42, "b1", [breakoutId], { breakoutId: {} }, { breakoutId: "" },
    { breakoutId: "x".repeat(500) }, { breakoutId, type: "replay" }, null]) {
    const args = payload === undefined ? [] : [payload];
    result.garbage.push(await call(viewer, "join-chat-room", ...args));
  }
  result.afterGarbage = await call(viewer, "join-chat-room", { breakoutId: `${breakoutId}-2` });
  viewer.disconnect();

  const vanishing = open({ token });
  await connected(vanishing);
  result.vanishingJoin = await call(vanishing, "join-chat-room", { breakoutId });
  vanishing.disconnect(); // closes the tab without leaving

  for (const auth of [{ token: "not-a-token" }, {}]) {
    const refused = open(auth);
    try {
      await connected(refused);
      result.refused = (result.refused || []).concat([{ connected: true }]);
    } catch (err) {
      result.refused = (result.refused || []).concat([{ message: err.message, data: err.data }]);
    }
    refused.close();
  }

  return result;
}

report(main, "viewer contract");
