// What every contract script needs around the official socket.io-client: wait for a connection,
// call an event with an ack, wait for the next matching event, and report the result as one JSON
// object on stdout (or the failure on stderr, with a non-zero exit).

export const TIMEOUT_MS = 10000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

export const call = (socket, event, ...args) =>
  socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);

// The next `event` whose payload `wanted` accepts (any, by default), or an error after the timeout.
export function next(socket, event, wanted = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching ${event} in time`)), TIMEOUT_MS);
    const listener = (payload) => {
      if (!wanted(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

// Runs `main`, prints its result as JSON and exits: 0 when it returned, 1 when it threw.
export function report(main, what) {
  main().then(
    (result) => {
      process.stdout.write(JSON.stringify(result));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${what} failed: ${err && err.stack ? err.stack : err}\n`);
      process.exit(1);
    },
  );
}
