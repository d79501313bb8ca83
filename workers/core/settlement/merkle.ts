/**
 * The Merkle tree of a settlement period's receipts. Leaves are the receipts' EIP-712 digests —
 * the hash of every receipt field under the Meshgate domain — so a provider can recompute its leaf
 * from the receipt it signed. OpenZeppelin's SimpleMerkleTree (sorted pairs, leaves sorted) matches
 * `MerkleProof.verify` on chain. A digest is keccak256 of 66 bytes (0x1901 ‖ domain ‖ struct) and an
 * inner node keccak256 of 64, so a leaf cannot pose as an inner node.
 */
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { type Hex, keccak256, stringToHex } from "viem";

/** The root posted for a period that pays earnings but has no receipts (every request gateway-measured). */
export const EMPTY_PERIOD_ROOT: Hex = keccak256(stringToHex("meshgate.settlement.empty-period"));

export interface PeriodTree {
  root: Hex;
  size: number;
  proof(digest: Hex): Hex[] | null;
}

export function periodTree(digests: readonly Hex[]): PeriodTree {
  if (digests.length === 0) return { root: EMPTY_PERIOD_ROOT, size: 0, proof: () => null };
  const tree = SimpleMerkleTree.of([...new Set(digests.map((d) => d.toLowerCase() as Hex))]);
  return {
    root: tree.root as Hex,
    size: tree.length,
    proof: (digest) => {
      try {
        return tree.getProof(digest.toLowerCase()) as Hex[];
      } catch {
        return null; // not a leaf of this tree
      }
    },
  };
}

/** Checks a proof the way the contract's MerkleProof.verify does. */
export function verifyProof(root: Hex, digest: Hex, proof: readonly Hex[]): boolean {
  return SimpleMerkleTree.verify(root, digest, [...proof]);
}
