/**
 * `npm run ledger:check`: proves the books balance and every ledger entry traces to its record.
 * The database: --database-url, else DATABASE_URL, else the running local network (.meshgate/dev.json).
 * Exit 0 when clean, 1 with the problems listed, 2 when it cannot run.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { openNodeDb } from "../db/node";

import { auditLedger } from "../workers/adapters/postgres/ledger";
import { formatUsdc } from "../workers/core/money/units";

const { values } = parseArgs({ options: { "database-url": { type: "string" } } });
const DEV_JSON = ".meshgate/dev.json";
const url =
  values["database-url"] ??
  process.env.DATABASE_URL ??
  (existsSync(DEV_JSON) ? (JSON.parse(readFileSync(DEV_JSON, "utf8")) as { databaseUrl: string }).databaseUrl : undefined);
if (!url) {
  console.error("ledger:check: no database: pass --database-url, set DATABASE_URL, or run `npm start` first");
  process.exit(2);
}

const { db, close } = openNodeDb(url);
try {
  const audit = await auditLedger(db);
  console.log(`ledger: ${audit.transactions} transactions, ${audit.postings} postings`);
  for (const [cls, total] of Object.entries(audit.totals).sort()) console.log(`  ${cls.padEnd(10)} ${formatUsdc(total).padStart(24)} USDC`);
  const sum = Object.values(audit.totals).reduce((a, b) => a + b, 0n);
  console.log(`  ${"sum".padEnd(10)} ${formatUsdc(sum).padStart(24)} USDC`);
  if (audit.problems.length === 0) {
    console.log(
      "books balance; every entry traces to its record (usage event, credit grant, deposit, withdrawal or settlement batch); every charged usage event is in the books",
    );
  } else {
    console.log(`${audit.problems.length} problem(s):`);
    for (const p of audit.problems.slice(0, 50)) console.log(`  - ${p}`);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`ledger:check: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
} finally {
  await close();
}
