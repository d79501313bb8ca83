import { describe, expect, it } from "vitest";
import { mergeReceiptStatus, RECEIPT_STATUS_ORDER, replacedBy, statusWrites, type ReceiptStatus } from "./receipt-status";

describe("receipt status precedence", () => {
  it("keeps verified against a late unverified or none, in either order", () => {
    expect(mergeReceiptStatus("verified", "unverified")).toBe("verified");
    expect(mergeReceiptStatus("verified", "none")).toBe("verified");
    expect(mergeReceiptStatus("unverified", "verified")).toBe("verified");
    expect(mergeReceiptStatus("none", "unverified")).toBe("unverified");
    expect(mergeReceiptStatus("unverified", "none")).toBe("unverified");
  });

  it("is a join: commutative, idempotent, and never weaker than either side", () => {
    for (const a of RECEIPT_STATUS_ORDER)
      for (const b of RECEIPT_STATUS_ORDER) {
        const m = mergeReceiptStatus(a, b);
        expect(m).toBe(mergeReceiptStatus(b, a));
        expect(mergeReceiptStatus(m, a)).toBe(m);
        expect(mergeReceiptStatus(m, b)).toBe(m);
      }
  });

  it("a write replaces only strictly weaker statuses", () => {
    expect(replacedBy("verified")).toEqual(["none", "unverified"]);
    expect(replacedBy("unverified")).toEqual(["none"]);
    expect(replacedBy("none")).toEqual([]);
  });

  it("groups writes by status, the strongest per request, leaving out writes that change nothing", () => {
    const updates: [string, ReceiptStatus][] = [
      ["a", "unverified"],
      ["b", "verified"],
      ["a", "verified"],
      ["c", "none"],
      ["d", "unverified"],
    ];
    expect(statusWrites(updates)).toEqual([
      { status: "unverified", requestIds: ["d"] },
      { status: "verified", requestIds: ["a", "b"] },
    ]);
    expect(statusWrites([])).toEqual([]);
  });
});
