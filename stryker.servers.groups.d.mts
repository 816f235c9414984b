/** Types of stryker.servers.groups.mjs, for vitest.mutation.config.ts and the harness test. */
export declare const groups: Record<string, { mutate: string[]; tests: string[] }>;
export declare const allMutated: string[];
export declare const allTests: string[];
