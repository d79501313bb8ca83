/**
 * Every table, re-exported from its domain module in db/schema/: drizzle-kit reads this file, and
 * db/neon.ts and db/node.ts hand it whole to drizzle as the relational schema. Money is bigint:
 * pico-USDC (1e-12) in the books, prices in micro-USDC per million tokens (= pico-USDC per token).
 * Idempotency lives in constraints.
 */
export * from "./schema/accounts";
export * from "./schema/chain";
export * from "./schema/dashboard";
export * from "./schema/ledger";
export * from "./schema/providers";
export * from "./schema/settlement";
export * from "./schema/usage";
