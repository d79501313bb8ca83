import { describe, expect, it } from "vitest";
import { keccak256, stringToHex, type Hex } from "viem";
import { EMPTY_PERIOD_ROOT, periodTree, verifyProof } from "./merkle";

const leaves = Array.from({ length: 37 }, (_, i) => keccak256(stringToHex(`receipt-${i}`)));

describe("periodTree", () => {
  it("proves every leaf against the root, and nothing else", () => {
    const tree = periodTree(leaves);
    expect(tree.size).toBe(37);
    for (const leaf of leaves) expect(verifyProof(tree.root, leaf, tree.proof(leaf)!)).toBe(true);
    const stranger = keccak256(stringToHex("not in the period"));
    expect(tree.proof(stranger)).toBeNull();
    expect(verifyProof(tree.root, stranger, tree.proof(leaves[0]!)!)).toBe(false);
  });

  it("gives the same root whatever order the receipts were read in", () => {
    expect(periodTree([...leaves].reverse()).root).toBe(periodTree(leaves).root);
    expect(periodTree(leaves.map((l) => l.toUpperCase().replace("0X", "0x") as Hex)).root).toBe(periodTree(leaves).root);
  });

  it("posts a fixed non-zero root for a period without receipts", () => {
    expect(periodTree([]).root).toBe(EMPTY_PERIOD_ROOT);
    expect(BigInt(EMPTY_PERIOD_ROOT)).not.toBe(0n);
  });
});
