/**
 * Teardown registered where a resource is created: `const teardown = useTeardown()` inside a describe, then
 * `teardown.add(() => server.close())` right after making the server. Runs in reverse order after each test.
 */
export interface Teardown {
  add(fn: () => unknown): void;
}

export function useTeardown(): Teardown {
  let fns: Array<() => unknown> = [];
  afterEach(async function () {
    const todo = fns.reverse();
    fns = [];
    const errors: unknown[] = [];
    for (const fn of todo) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return { add: (fn) => void fns.push(fn) };
}
