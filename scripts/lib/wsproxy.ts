/**
 * Neon's wsproxy protocol on loopback, so the Neon serverless driver (in workerd or Node) reaches a
 * local Postgres: `WS /v1?address=host:port` → a TCP connection to that address, bytes piped both ways.
 * Only loopback targets are allowed; anything else is refused before any connection is attempted.
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";

export interface StartWsProxyOptions {
  /** 0 or undefined: a free port. */
  port?: number;
}

export interface WsProxy {
  port: number;
  /** "127.0.0.1:PORT/v1", the value for the worker's WSPROXY binding / `configureNeon`. */
  wsProxy: string;
  /** Cuts every open connection; never waits for clients. */
  stop(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

const loopback = new net.BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

export async function startWsProxy(opts: StartWsProxyOptions = {}): Promise<WsProxy> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => res.writeHead(404, { connection: "close" }).end());
  const sockets = new Set<Duplex>(); // client and upstream sockets alike, so stop() can cut them all
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.on("error", () => {}); // each side's failure is handled by closing the pair
    socket.once("close", () => sockets.delete(socket));
  };

  server.on("connection", track);
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://wsproxy");
    if (url.pathname !== "/v1") return refuse(socket, "404 Not Found");
    const target = loopbackTarget(url.searchParams.get("address"));
    if (!target) return refuse(socket, "403 Forbidden");
    wss.handleUpgrade(req, socket, head, (ws) => pipe(ws, target, track));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    for (const ws of wss.clients) ws.terminate();
    for (const socket of sockets) socket.destroy();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port, wsProxy: `127.0.0.1:${port}/v1`, stop: () => (stopping ??= stop()) };
}

/** Pipes one WebSocket to a new TCP connection: binary frames in, binary frames out. */
function pipe(ws: WebSocket, target: Target, track: (socket: Duplex) => void): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  track(upstream);
  upstream.setNoDelay(true);

  let pending: Buffer[] | null = [];
  upstream.once("connect", () => {
    for (const chunk of pending ?? []) upstream.write(chunk);
    pending = null;
  });
  ws.on("message", (data: RawData) => {
    const chunk = toBuffer(data);
    if (pending) pending.push(chunk);
    else upstream.write(chunk);
  });
  upstream.on("data", (chunk: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
  });

  let upstreamError: Error | undefined;
  upstream.on("error", (err) => (upstreamError = err));
  upstream.once("close", () => {
    if (ws.readyState === ws.OPEN) ws.close(upstreamError ? 1011 : 1000, upstreamError?.message.slice(0, 120));
  });
  ws.once("close", () => upstream.destroy());
  ws.on("error", () => {
    ws.terminate();
    upstream.destroy();
  });
}

/** `host:port` or `[v6]:port`, accepted only when the host is loopback. */
function loopbackTarget(address: string | null): Target | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address ?? "");
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !(port >= 1 && port <= 65535)) return null;
  const family = net.isIPv4(host) ? "ipv4" : net.isIPv6(host) ? "ipv6" : null;
  const isLoopback = family ? loopback.check(host, family) : host.toLowerCase() === "localhost";
  return isLoopback ? { host, port } : null;
}

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
