import net from "node:net";

/** A TCP port that is free on 127.0.0.1 right now (the OS picks it; another process may take it before you bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("freePort: the OS gave no port"))));
    });
  });
}
