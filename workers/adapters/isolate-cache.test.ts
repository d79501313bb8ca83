import { describe, expect, it } from "vitest";
import { SwrMap, SwrValue } from "./isolate-cache";

function deferred<T>() {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SwrValue", () => {
  it("loads once, serves fresh values without loading, and refreshes stale ones once, in the background", async () => {
    const v = new SwrValue<number>(1_000, 10_000);
    let loads = 0;
    expect(
      await v.get(
        0,
        async () => ++loads,
        () => undefined,
      ),
    ).toBe(1);
    expect(
      await v.get(
        999,
        async () => ++loads,
        () => undefined,
      ),
    ).toBe(1);
    expect(loads).toBe(1);

    const slow = deferred<number>();
    const background: Promise<unknown>[] = [];
    const refresh = () => {
      loads++;
      return slow.promise;
    };
    expect(await v.get(1_500, refresh, (p) => background.push(p))).toBe(1); // stale: old value at once
    expect(await v.get(1_600, refresh, (p) => background.push(p))).toBe(1); // one refresh only
    expect(background).toHaveLength(1);
    slow.resolve(2);
    await Promise.all(background);
    expect(await v.get(1_700, refresh, () => undefined)).toBe(2);
    expect(loads).toBe(2);
    // Too old to serve: the caller waits for a load.
    expect(
      await v.get(
        20_000,
        async () => 3,
        () => undefined,
      ),
    ).toBe(3);
  });

  it("keeps the old value when a background refresh fails; invalidate forces a refresh", async () => {
    const v = new SwrValue<string>(1_000, 10_000);
    await v.get(
      0,
      async () => "a",
      () => undefined,
    );
    let bg: Promise<unknown> | undefined;
    expect(
      await v.get(
        2_000,
        async () => {
          throw new Error("db down");
        },
        (p) => {
          bg = p;
        },
      ),
    ).toBe("a");
    await bg;
    expect(
      await v.get(
        2_001,
        async () => "b",
        (p) => {
          bg = p;
        },
      ),
    ).toBe("a");
    await bg;
    expect(
      await v.get(
        2_002,
        async () => "c",
        () => undefined,
      ),
    ).toBe("b"); // fresh again
    v.invalidate();
    expect(
      await v.get(
        2_003,
        async () => "d",
        (p) => {
          bg = p;
        },
      ),
    ).toBe("b");
    await bg;
    expect(
      await v.get(
        2_004,
        async () => "e",
        () => undefined,
      ),
    ).toBe("d");
  });

  it("does not let a refresh that began before an invalidation make the value fresh", async () => {
    const v = new SwrValue<string>(1_000, 60_000);
    await v.get(
      0,
      async () => "old",
      () => undefined,
    );
    const slow = deferred<string>();
    const bg: Promise<unknown>[] = [];
    expect(
      await v.get(
        1_500,
        () => slow.promise,
        (p) => bg.push(p),
      ),
    ).toBe("old");
    v.invalidate(); // e.g. a provider was suspended while the refresh was reading
    expect(
      await v.get(
        1_501,
        async () => "new",
        (p) => bg.push(p),
      ),
    ).toBe("old");
    expect(bg).toHaveLength(2); // a second refresh started for the new generation
    slow.resolve("old");
    await Promise.all(bg);
    expect(
      await v.get(
        1_502,
        async () => "x",
        () => undefined,
      ),
    ).toBe("new");
  });

  it("reload waits for a fresh value, so the caller's next get sees the change (an operator's action)", async () => {
    const v = new SwrValue<string>(60_000, 60_000);
    const none = () => undefined;
    expect(await v.get(0, async () => "before", none)).toBe("before");
    // A plain invalidation serves the old value once more while it refreshes in the background.
    v.invalidate();
    const bg: Promise<unknown>[] = [];
    expect(
      await v.get(
        1,
        async () => "after",
        (p) => bg.push(p),
      ),
    ).toBe("before");
    await Promise.all(bg);
    // reload is waited for by its caller: the very next get has the new value, with no load of its own.
    expect(await v.reload(2, async () => "reloaded")).toBe("reloaded");
    let loads = 0;
    expect(await v.get(3, async () => `load ${++loads}`, none)).toBe("reloaded");
    expect(loads).toBe(0);
  });
});

describe("SwrMap", () => {
  it("a cold start under load is one load: concurrent requests wait for it instead of loading too", async () => {
    const v = new SwrValue<number>(1_000, 10_000);
    const first = deferred<number>();
    let loads = 0;
    const load = () => {
      loads++;
      return loads === 1 ? first.promise : Promise.resolve(99);
    };
    const gets = Array.from({ length: 20 }, () => v.get(0, load, () => undefined));
    setTimeout(() => first.resolve(7), 20);
    expect(await Promise.all(gets)).toEqual(Array(20).fill(7));
    expect(loads).toBe(1);
  });

  it("a waiting request loads by itself when the other load fails", async () => {
    const v = new SwrValue<number>(1_000, 10_000);
    const failing = deferred<number>();
    let loads = 0;
    const load = () => {
      loads++;
      return loads === 1 ? failing.promise : Promise.resolve(5);
    };
    const a = v.get(0, load, () => undefined);
    const b = v.get(0, load, () => undefined);
    setTimeout(() => failing.reject(new Error("db down")), 10);
    await expect(a).rejects.toThrow("db down");
    expect(await b).toBe(5);
    expect(loads).toBe(2);
  });

  it("caches per key, bounded", async () => {
    const m = new SwrMap<string>(1_000, 10_000, 2);
    let loads = 0;
    const load = (k: string) => async () => {
      loads++;
      return k.toUpperCase();
    };
    expect(await m.get("a", 0, load("a"), () => undefined)).toBe("A");
    expect(await m.get("a", 10, load("a"), () => undefined)).toBe("A");
    expect(await m.get("b", 10, load("b"), () => undefined)).toBe("B");
    expect(loads).toBe(2);
    await m.get("c", 10, load("c"), () => undefined); // evicts "a"
    await m.get("a", 20, load("a"), () => undefined);
    expect(loads).toBe(4);
  });
});
