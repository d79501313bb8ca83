import { describe, expect, it } from "vitest";
import { buildImportGraph, formatEdge, importSpecifiers, packageOf, resolveImport } from "./import-graph";

describe("importSpecifiers", () => {
  it("reads static, type-only, re-exported, dynamic and required specifiers", () => {
    const text = [
      `import { a } from "./a";`,
      `import type { B } from "../b";`,
      `export * from "./c";`,
      `export { d } from "./d";`,
      `import "./side-effect";`,
      `const e = await import("./e");`,
      `type F = typeof import("./f");`,
      `const g = require("./g");`,
    ].join("\n");
    expect(importSpecifiers(text)).toEqual(["./a", "../b", "./c", "./d", "./side-effect", "./e", "./f", "./g"]);
  });

  it("ignores import-like text in comments and strings", () => {
    const text = [`// import { x } from "./commented";`, `/* import("./block") */`, `const s = 'import { y } from "./quoted"';`].join("\n");
    expect(importSpecifiers(text)).toEqual([]);
  });
});

describe("resolveImport", () => {
  const known = new Set(["workers/a.ts", "workers/view.tsx", "workers/dir/index.ts", "workers/assets/app.client.js", "workers/esm.ts"]);
  const isKnown = (file: string) => known.has(file);
  const resolve = (specifier: string) => resolveImport("workers/http/route.ts", specifier, isKnown);

  it("finds the file a relative specifier names, as the bundler would", () => {
    expect(resolve("../a").to).toBe("workers/a.ts");
    expect(resolve("../view").to).toBe("workers/view.tsx");
    expect(resolve("../dir").to).toBe("workers/dir/index.ts");
    expect(resolve("../assets/app.client.js").to).toBe("workers/assets/app.client.js");
    expect(resolve("../esm.js").to).toBe("workers/esm.ts");
  });

  it("keeps the joined path of a relative specifier that names no known file", () => {
    expect(resolve("../../db/missing")).toEqual({ from: "workers/http/route.ts", to: "db/missing", external: false });
  });

  it("marks bare specifiers as packages, untouched", () => {
    expect(resolve("viem/accounts")).toEqual({ from: "workers/http/route.ts", to: "viem/accounts", external: true });
    expect(resolve("node:crypto").external).toBe(true);
  });
});

describe("packageOf", () => {
  it("names the package of a subpath specifier, scoped or not", () => {
    expect(packageOf("viem")).toBe("viem");
    expect(packageOf("viem/accounts")).toBe("viem");
    expect(packageOf("@openzeppelin/merkle-tree")).toBe("@openzeppelin/merkle-tree");
    expect(packageOf("@cloudflare/vitest-pool-workers/config")).toBe("@cloudflare/vitest-pool-workers");
  });
});

describe("buildImportGraph", () => {
  it("has one edge per imported file, from TypeScript files under the graph's roots only", () => {
    const sources = [
      { path: "workers/http/route.ts", text: `import { a } from "../a";\nimport type { A } from "../a";\nimport { z } from "zod";` },
      { path: "workers/a.ts", text: `export const a = 1;` },
      { path: "workers/assets/app.client.js", text: `import "../a";` },
      { path: "contracts/generated/abi.ts", text: `import "../../workers/a";` },
      { path: "vitest.config.ts", text: `import "./workers/a";` },
    ];
    const edges = buildImportGraph(
      sources,
      sources.map((s) => s.path),
    );
    expect(edges.map(formatEdge)).toEqual(["workers/http/route.ts → workers/a.ts", "workers/http/route.ts → zod"]);
  });
});
