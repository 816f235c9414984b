-- Agent names become unique per project (agents without a project share one namespace), so two
-- projects may reuse a name and a key limited to projects learns nothing from a 409 about others.
-- Rows that were unique service-wide are unique per project too. The constraint's index starts
-- with project_id, so the index on project_id alone is dropped. See docs/api.md.
DROP INDEX "agents_name_key";--> statement-breakpoint
DROP INDEX "agents_project_id_idx";--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_project_name_unique" UNIQUE NULLS NOT DISTINCT("project_id","name");