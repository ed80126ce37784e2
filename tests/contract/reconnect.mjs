// An app that keeps its stay across socket.io-client's own automatic reconnection: it remembers
// the sessionId of its join's ack and passes it as resumeSessionId whenever it (re)joins. Prints
// one JSON line per ack. Usage: node reconnect.mjs <serverUrl> <token> <breakoutId>
import { io } from "socket.io-client";
import { call } from "./socket.mjs";

const [url, token, breakoutId] = process.argv.slice(2);

const socket = io(url, { auth: { token }, reconnectionDelay: 200, reconnectionDelayMax: 500 });
let sessionId = null; // the stay this app is in, from its last ack

async function join() {
  const payload = sessionId ? { breakoutId, resumeSessionId: sessionId } : { breakoutId };
  const ack = await call(socket, "join-chat-room", payload);
  if (ack.ok) sessionId = ack.sessionId;
  return ack;
}

const acks = [];
// "connect" fires on the first connection and again after every automatic reconnection.
socket.on("connect", async () => {
  const ack = await join();
  acks.push(ack);
  // (For the test: the blip it causes cuts a websocket, so wait for the upgrade to one.)
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") {
    await new Promise((resolve) => engine.once("upgrade", resolve));
  }
  process.stdout.write(JSON.stringify({ event: "joined", ack }) + "\n");
  if (acks.length === 2) {
    const left = await call(socket, "leave-chat-room", { breakoutId });
    process.stdout.write(JSON.stringify({ event: "left", ack: left }) + "\n");
    socket.disconnect();
    process.exit(0);
  }
});
socket.on("disconnect", (reason) => {
  process.stdout.write(JSON.stringify({ event: "disconnected", reason }) + "\n");
});
setTimeout(() => {
  process.stderr.write("no reconnection in time\n");
  process.exit(1);
}, 30000);
