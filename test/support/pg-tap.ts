/**
 * A TCP tap between the ws proxy and Postgres, for tests: it counts every database session the
 * worker opens, reads the SQL each one sends (the tunnel carries the plain Postgres protocol), and
 * can hold new sessions, so that Postgres is unreachable for the worker without being stopped.
 *
 * Control (HTTP, loopback): GET /sessions → { count, held, sessions }, POST /hold, POST /release.
 */
import http from "node:http";
import net from "node:net";

export interface TapSession {
  id: number;
  openedAtMs: number;
  /** Held when it arrived: no byte reached Postgres until the hold was released. */
  held: boolean;
  releasedAtMs: number | null;
  /** The statements it sent (simple and extended query protocol), in order. */
  sql: string[];
}

export interface PgTap {
  /** The port to put in DATABASE_URL instead of Postgres's. */
  port: number;
  controlUrl: string;
  stop(): Promise<void>;
}

/** A forgotten hold must not hang the rest of the run. */
const HOLD_LIMIT_MS = 15_000;

export async function startPgTap(target: { host: string; port: number }): Promise<PgTap> {
  const sessions: TapSession[] = [];
  const sockets = new Set<net.Socket>();
  let queue: (() => void)[] | null = null; // non-null while holding
  let holdTimer: NodeJS.Timeout | undefined;

  const release = () => {
    clearTimeout(holdTimer);
    const waiting = queue ?? [];
    queue = null;
    for (const start of waiting) start();
  };

  const tap = net.createServer((client) => {
    const session: TapSession = { id: sessions.length, openedAtMs: Date.now(), held: queue !== null, releasedAtMs: null, sql: [] };
    sessions.push(session);
    sockets.add(client);
    client.on("error", () => {});
    client.once("close", () => sockets.delete(client));
    client.pause();
    const start = () => {
      if (session.held) session.releasedAtMs = Date.now();
      const upstream = net.connect(target);
      sockets.add(upstream);
      upstream.setNoDelay(true);
      upstream.on("error", () => {});
      upstream.once("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.once("close", () => upstream.destroy());
      const sniff = sqlSniffer((sql) => session.sql.push(sql));
      client.on("data", (chunk: Buffer) => {
        sniff(chunk);
        upstream.write(chunk);
      });
      upstream.pipe(client);
      client.resume();
    };
    if (queue) queue.push(start);
    else start();
  });

  const control = http.createServer((req, res) => {
    const reply = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method === "GET" && req.url === "/sessions") return reply({ count: sessions.length, held: queue !== null, sessions });
    if (req.method === "POST" && req.url === "/hold") {
      queue ??= [];
      clearTimeout(holdTimer);
      holdTimer = setTimeout(release, HOLD_LIMIT_MS);
      return reply({ held: true });
    }
    if (req.method === "POST" && req.url === "/release") {
      release();
      return reply({ held: false });
    }
    res.writeHead(404).end();
  });

  const listen = (server: net.Server) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
  const [port, controlPort] = [await listen(tap), await listen(control)];

  return {
    port,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    stop: async () => {
      release();
      for (const s of sockets) s.destroy();
      control.closeAllConnections();
      await Promise.all([tap, control].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/**
 * Reads the frontend messages of one Postgres session: the untyped startup (and SSL/cancel
 * requests), then typed messages; reports the SQL of Query ('Q') and Parse ('P').
 */
function sqlSniffer(onSql: (sql: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let started = false;
  const cstring = (b: Buffer, at: number) => {
    const end = b.indexOf(0, at);
    return b.toString("utf8", at, end < 0 ? b.length : end);
  };
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!started) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code !== 80877103 && code !== 80877104) started = true; // not an SSL/GSS request: the startup message
        continue;
      }
      if (buf.length < 5) return;
      const type = String.fromCharCode(buf[0]!);
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const body = buf.subarray(5, 1 + len);
      if (type === "Q") onSql(cstring(body, 0));
      if (type === "P") onSql(cstring(body, body.indexOf(0) + 1));
      buf = buf.subarray(1 + len);
    }
  };
}
