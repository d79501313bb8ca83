import { describe, expect, it } from "vitest";
import { buildImportGraph, type SourceFile } from "./import-graph";
import {
  bodyReadsOutsideParser,
  castsToDbHandles,
  countLayerEdges,
  IMPORT_RULES,
  importViolations,
  oversizedFiles,
  withDbOutsideAdapters,
} from "./rules";

const isRepoFile = (target: string) => /\.tsx?$/.test(target);

/** The specifier `from` writes for `to`: a relative path without extension for a repository file, else the package. */
const specifierOf = (from: string, to: string) =>
  isRepoFile(to) ? "../".repeat(from.split("/").length - 1) + to.replace(/\.tsx?$/, "") : to;

/** A synthetic tree: each file imports the repository files (`*.ts`) or packages listed for it. */
function graphOf(imports: Record<string, string[]>) {
  const sources = Object.entries(imports).map(([from, targets]) => ({
    path: from,
    text: targets.map((to) => `import "${specifierOf(from, to)}";`).join("\n"),
  }));
  const known = [...Object.keys(imports), ...Object.values(imports).flat().filter(isRepoFile)];
  return buildImportGraph(sources, known);
}

const ruleNamed = (start: string) => {
  const rule = IMPORT_RULES.find((r) => r.name.startsWith(start));
  if (!rule) throw new Error(`no rule starts with ${start}`);
  return rule;
};

// Per rule: one import it must forbid and imports it must allow.
const cases: { rule: string; forbidden: [string, string]; allowed: [string, string][] }[] = [
  {
    rule: "workers/http",
    forbidden: ["workers/http/routes/v1/chat.ts", "workers/adapters/upstream.ts"],
    allowed: [
      ["workers/http/routes/v1/chat.ts", "workers/pipeline/infer.ts"],
      ["workers/http/app-env.ts", "workers/ports.ts"],
    ],
  },
  { rule: "workers/http", forbidden: ["workers/http/app-env.ts", "workers/wire.ts"], allowed: [] },
  {
    rule: "workers/pipeline",
    forbidden: ["workers/pipeline/forward.ts", "workers/http/render-error.ts"],
    allowed: [["workers/pipeline/forward.ts", "workers/core/openai/errors.ts"]],
  },
  { rule: "workers/pipeline", forbidden: ["workers/pipeline/meter.ts", "workers/adapters/postgres/usage.ts"], allowed: [] },
  {
    rule: "workers/core",
    forbidden: ["workers/core/money/ledger.ts", "db/schema.ts"],
    allowed: [
      ["workers/core/money/ledger.ts", "workers/core/money/pricing.ts"],
      ["workers/core/money/ledger.ts", "zod"],
      ["workers/core/protocol/receipt.ts", "viem/accounts"],
      ["workers/core/settlement/merkle.ts", "@openzeppelin/merkle-tree"],
      ["workers/core/money/ledger.test.ts", "fast-check"],
    ],
  },
  { rule: "workers/core", forbidden: ["workers/core/money/ledger.ts", "node:crypto"], allowed: [] },
  { rule: "workers/core", forbidden: ["workers/core/money/ledger.ts", "fast-check"], allowed: [] },
  {
    rule: "only the composition roots",
    forbidden: ["workers/deps.ts", "workers/adapters/postgres/keys.ts"],
    allowed: [
      ["workers/wire.ts", "workers/adapters/postgres/keys.ts"],
      ["workers/index.ts", "workers/adapters/upstream.ts"],
      ["workers/adapters/postgres/usage.ts", "workers/adapters/postgres/neon.ts"],
      ["test/support/workerd/gateway.ts", "workers/adapters/postgres/neon.ts"],
      ["workers/pipeline/meter.test.ts", "workers/adapters/usage-buffer.ts"],
      // Node programs build the same adapters over node-postgres: the job runner, a tool, a benchmark.
      ["scripts/settle.ts", "workers/adapters/chain/operator.ts"],
      ["scripts/ledger-check.ts", "workers/adapters/postgres/ledger.ts"],
      ["bench/rollup.ts", "workers/adapters/postgres/rollups.ts"],
    ],
  },
  // A library module of the local network is not a program: it goes through the ports like the worker.
  { rule: "only the composition roots", forbidden: ["scripts/lib/network.ts", "workers/adapters/chain/operator.ts"], allowed: [] },
  { rule: "only the composition roots", forbidden: ["provider-runtime/src/agent.ts", "workers/adapters/upstream.ts"], allowed: [] },
  {
    rule: "workers/jobs",
    forbidden: ["workers/jobs/probe.ts", "workers/adapters/upstream.ts"],
    allowed: [
      ["workers/jobs/probe.ts", "workers/core/routing/latency.ts"],
      ["workers/jobs/probe.ts", "workers/ports.ts"],
    ],
  },
  { rule: "workers/jobs", forbidden: ["workers/jobs/settlement.ts", "workers/http/routes/admin.ts"], allowed: [] },
  {
    rule: "provider-runtime",
    forbidden: ["provider-runtime/src/main.ts", "scripts/lib/exit-with-parent.ts"],
    allowed: [["provider-runtime/src/receipts.ts", "workers/core/protocol/receipt.ts"]],
  },
  { rule: "provider-runtime", forbidden: ["provider-runtime/src/main.ts", "workers/adapters/upstream.ts"], allowed: [] },
  { rule: "provider-runtime", forbidden: ["provider-runtime/src/main.ts", "workers/http/render-error.ts"], allowed: [] },
  { rule: "provider-runtime", forbidden: ["provider-runtime/src/main.ts", "workers/pipeline/relay.ts"], allowed: [] },
];

describe("import rules", () => {
  it("every rule has a case", () => {
    for (const rule of IMPORT_RULES) expect(cases.some((c) => rule.name.startsWith(c.rule))).toBe(true);
  });

  for (const { rule: start, forbidden, allowed } of cases) {
    const rule = ruleNamed(start);
    it(`${start}: forbids ${forbidden[0]} → ${forbidden[1]}`, () => {
      const [from, to] = forbidden;
      expect(importViolations(rule, graphOf({ [from]: [to] }))).toEqual([`${from} → ${to}`]);
    });
    if (allowed.length > 0) {
      it(`${start}: allows ${allowed.map(([, to]) => to).join(", ")}`, () => {
        const imports: Record<string, string[]> = {};
        for (const [from, to] of allowed) (imports[from] ??= []).push(to);
        expect(importViolations(rule, graphOf(imports))).toEqual([]);
      });
    }
  }
});

describe("countLayerEdges", () => {
  it("counts each layer pair's edges", () => {
    const edges = graphOf({
      "workers/http/routes/finance.ts": ["workers/adapters/postgres/finance.ts", "workers/adapters/postgres/keys.ts"],
      "workers/pipeline/infer.ts": ["workers/jobs/probe.ts"],
      "workers/deps.ts": ["workers/adapters/upstream.ts"],
      "workers/wire.ts": ["workers/adapters/upstream.ts"],
    });
    const counts = Object.fromEntries(countLayerEdges(edges).map((row) => [row.name.split(" (")[0], row.count]));
    expect(counts).toMatchObject({ "http → adapters": 2, "pipeline → jobs": 1, "pipeline → http": 0, "anything else → adapters": 1 });
  });
});

const file = (path: string, ...lines: string[]): SourceFile => ({ path, text: lines.join("\n") });

describe("withDbOutsideAdapters", () => {
  it("finds the identifier outside adapters, the wiring and tests, but not in comments or strings", () => {
    const sources = [
      file("workers/http/routes/finance.ts", "// withDb is not used here", `const s = "withDb";`, "await deps.withDb((db) => db);"),
      file("workers/adapters/postgres/finance.ts", "export const withDb = 1;"),
      file("workers/wire.ts", "import { withDb } from './adapters/postgres/neon';"),
      file("test/workers/finance.test.ts", "withDb();"),
      file("workers/jobs/probe.test.ts", "withDb();"),
    ];
    expect(withDbOutsideAdapters(sources)).toEqual(["workers/http/routes/finance.ts:3"]);
  });
});

describe("oversizedFiles", () => {
  const ofLines = (path: string, n: number) => ({ path, text: "x;\n".repeat(n) });
  it("flags source files over the limit, generated code and other kinds of file aside", () => {
    const sources = [
      ofLines("workers/a.ts", 301),
      ofLines("workers/b.ts", 300),
      ofLines("contracts/Settlement.sol", 301),
      ofLines("workers/http/routes/dashboard/assets/dashboard.client.js", 301),
      ofLines("contracts/generated/abi.ts", 900),
      ofLines("db/migrations/0000.ts", 900),
      ofLines("worker-configuration.d.ts", 900),
      ofLines("README.md", 900),
    ];
    expect(oversizedFiles(sources, 300)).toEqual([
      "contracts/Settlement.sol: 301 lines",
      "workers/a.ts: 301 lines",
      "workers/http/routes/dashboard/assets/dashboard.client.js: 301 lines",
    ]);
  });
});

describe("castsToDbHandles", () => {
  it("finds `as unknown as Db` and `as unknown as Tx`, however parenthesised or qualified", () => {
    const sources = [
      file("workers/adapters/postgres/usage.ts", "await write(tx as unknown as Db);", "const t = (db as unknown) as schema.Tx;"),
      file("workers/pipeline/forward.test.ts", "const deps = {} as unknown as Deps;", "// x as unknown as Db", "const d = db as Db;"),
    ];
    expect(castsToDbHandles(sources)).toEqual([
      "workers/adapters/postgres/usage.ts:1: tx as unknown as Db",
      "workers/adapters/postgres/usage.ts:2: (db as unknown) as schema.Tx",
    ]);
  });
});

describe("bodyReadsOutsideParser", () => {
  it("finds c.req.json / text / parseBody / formData (also via raw) outside parse.ts, not in comments, strings or tests", () => {
    const sources = [
      file(
        "workers/http/routes/admin.ts",
        "// c.req.json() is not allowed here",
        "const raw = await c.req.text();",
        `const s = "c.req.parseBody()";`,
        "const form = await c.req.parseBody();",
        "const f = await ctx.req.raw.formData();",
        "const q = c.req.query();",
        "const r = await fetch(u).then((x) => x.json());",
      ),
      file("workers/http/routes/dashboard/sign-in.tsx", "const b = await c.req.json();"),
      file("workers/http/parse.ts", "const bytes = await c.req.arrayBuffer(); const f = await c.req.parseBody();"),
      file("workers/http/routes/v1/chat.test.ts", "await c.req.json();"),
      file("test/workers/admin.test.ts", "await c.req.json();"),
    ];
    expect(bodyReadsOutsideParser(sources)).toEqual([
      "workers/http/routes/admin.ts:2: c.req.text()",
      "workers/http/routes/admin.ts:4: c.req.parseBody()",
      "workers/http/routes/admin.ts:5: ctx.req.raw.formData()",
      "workers/http/routes/dashboard/sign-in.tsx:1: c.req.json()",
    ]);
  });
});
