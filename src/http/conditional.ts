import type { FastifyReply } from 'fastify';
import type { ExpectedVersions } from '../domain/common.js';

/** The strong entity tag of a version: `"3"`. */
export function entityTag(version: number): string {
  return `"${version}"`;
}

/** Sets the ETag header from a resource's version. */
export function withEntityTag<T extends { version: number }>(reply: FastifyReply, resource: T): T {
  reply.header('etag', entityTag(resource.version));
  return resource;
}

/**
 * Reads `If-Match`: absent or `*` → unconditional; otherwise the versions of the listed tags
 * (weak tags are compared by value). Tags that do not parse match nothing, so the write gets 412.
 */
export function expectedVersions(ifMatch: string | undefined): ExpectedVersions {
  if (ifMatch === undefined || ifMatch.trim() === '*') return null;
  return ifMatch
    .split(',')
    .map((tag) => /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(tag)?.[1])
    .filter((version): version is string => version !== undefined)
    .map(Number);
}

/** True when `If-None-Match` already names the current version, so a GET can answer 304. */
export function notModified(ifNoneMatch: string | undefined, version: number): boolean {
  if (ifNoneMatch === undefined) return false;
  const expected = expectedVersions(ifNoneMatch);
  return expected === null || expected.includes(version);
}
