-- Memory keys become unique per project (entries without a project share one namespace), so a
-- key of one project can never reach an entry of another. See docs/memory.md, "Keys and projects".
ALTER TABLE "memory_entries" DROP CONSTRAINT "memory_entries_pkey";--> statement-breakpoint
DROP INDEX "memory_entries_project_idx";--> statement-breakpoint
ALTER TABLE "memory_entries" ADD CONSTRAINT "memory_entries_project_key_unique" UNIQUE NULLS NOT DISTINCT("project_id","key");--> statement-breakpoint
-- On the MCP server an entry of a project is now the entity "@<project id>/<key>". Queued writes
-- are renamed, and every existing project entry is queued again so that it reaches the server
-- under its new name (the entity under the bare key is no longer read).
UPDATE "memory_replay_queue" SET "key" = '@' || ("record"->>'project_id') || '/' || "key"
  WHERE "record"->>'project_id' IS NOT NULL;--> statement-breakpoint
INSERT INTO "memory_replay_queue" ("key", "record")
  SELECT '@' || "project_id" || '/' || "key",
    jsonb_build_object('key', "key", 'content', "content", 'tags', to_jsonb("tags"),
      'project_id', "project_id", 'agent_id', "agent_id")
  FROM "memory_entries" WHERE "project_id" IS NOT NULL ORDER BY "updated_at", "key";
