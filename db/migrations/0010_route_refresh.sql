ALTER TABLE "provider_models" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "latency_stats_edge_updated_at_idx" ON "latency_stats" USING btree ("edge","updated_at");--> statement-breakpoint
CREATE INDEX "provider_models_updated_at_idx" ON "provider_models" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "providers_updated_at_idx" ON "providers" USING btree ("updated_at");