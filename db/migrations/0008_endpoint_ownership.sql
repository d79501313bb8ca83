ALTER TABLE "providers" ADD COLUMN "endpoint" text;--> statement-breakpoint
ALTER TABLE "providers" ADD CONSTRAINT "providers_endpoint_unique" UNIQUE("endpoint");