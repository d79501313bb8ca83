CREATE TABLE "receipts" (
	"request_id" text PRIMARY KEY NOT NULL,
	"provider_id" text NOT NULL,
	"signer" text NOT NULL,
	"model" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"input_price" bigint NOT NULL,
	"output_price" bigint NOT NULL,
	"response_hash" text NOT NULL,
	"signed_at_ms" bigint NOT NULL,
	"digest" text NOT NULL,
	"signature" text NOT NULL,
	"source" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "receipts_digest_unique" UNIQUE("digest")
);
--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "tokens_served" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "max_concurrency" integer DEFAULT 32 NOT NULL;--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "draining" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "last_message_at_ms" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "receipt_status" text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "receipts" ADD CONSTRAINT "receipts_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "receipts_provider_id_created_at_index" ON "receipts" USING btree ("provider_id","created_at");