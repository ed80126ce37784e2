// The dashboard's Socket.IO connection (the official client), signed in with the page's token.
import { io } from "socket.io-client";
import { token } from "./auth.js";

export function connect() {
  return io({ auth: { token: token() }, transports: ["websocket"] });
}
