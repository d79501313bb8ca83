import { formatAbiItem } from "viem/utils";
import { describe, expect, it } from "vitest";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { redactUrl, settlementAbi } from "./l2";

describe("settlementAbi", () => {
  it("is a subset of the compiled contracts (Settlement, and the ERC-20 errors the token raises)", () => {
    const compiled = new Set(
      [...Settlement.abi, ...MockUSDC.abi]
        .filter((i) => i.type === "function" || i.type === "error")
        .map((item) => formatAbiItem(item as never)),
    );
    for (const item of settlementAbi) expect(compiled).toContain(formatAbiItem(item));
  });

  it("keeps view functions view, so reads are not sent as transactions", () => {
    const compiled = Settlement.abi.filter((i) => i.type === "function");
    for (const item of settlementAbi.filter((i) => i.type === "function")) {
      expect(compiled.find((c) => "name" in c && c.name === item.name)?.stateMutability).toBe(item.stateMutability);
    }
  });
});

describe("redactUrl", () => {
  it("shows only the origin of an RPC URL that may carry a key", () => {
    expect(redactUrl("https://base-mainnet.example/v2/SECRET?key=x")).toBe("https://base-mainnet.example");
  });
});
