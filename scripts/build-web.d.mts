/** The sources the dashboard is built from (absolute paths). */
export const webSources: string[];
/** True when `outDir` holds a build newer than every source of it. */
export function webBuildIsCurrent(outDir: string): boolean;
/** Builds the dashboard into `outDir`; with `ifNeeded`, only when a source is newer. True when it built. */
export function buildWeb(options: { outDir: string; ifNeeded?: boolean }): Promise<boolean>;
