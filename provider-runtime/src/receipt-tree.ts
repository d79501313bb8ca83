/**
 * The agent's batch trees (SPEC §2.1): the Merkle tree of a batch's receipt digests, the same
 * sorted-pair tree that the protocol's inReceiptBatch (SimpleMerkleTree.verify) checks.
 */
import { getProof, makeMerkleTree } from "@openzeppelin/merkle-tree/dist/core";
import type { Hex } from "viem";

/**
 * The batch's root and each digest's path, in the order given. At least one digest. Built with the
 * library's core functions (the same sorted-pair tree SimpleMerkleTree.verify checks): the
 * SimpleMerkleTree class re-validates the tree and re-verifies every proof it hands out, eight
 * times the hashing of the tree itself, on the agent's hot path.
 */
export function receiptBatchTree(
  digests: readonly Hex[],
  /** The sorted-pair keccak node hash, when the caller has a faster keccak than the library's. */
  nodeHash?: (a: string, b: string) => Hex,
): { root: Hex; paths: Hex[][] } {
  if (digests.length === 0) throw new Error("a receipt batch needs at least one receipt");
  const leaves = digests.map((d) => d.toLowerCase());
  // The core tree's nodes are 0x-hex strings (leaves given as strings, nodes as nodeHash returns them).
  const tree = nodeHash ? makeMerkleTree(leaves, (a, b) => nodeHash(a as string, b as string)) : makeMerkleTree(leaves);
  return { root: tree[0] as Hex, paths: digests.map((_, i) => getProof(tree, tree.length - 1 - i) as Hex[]) };
}
