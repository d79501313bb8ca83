CREATE TABLE "accounts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"role" text DEFAULT 'inference' NOT NULL,
	"budget_pico" bigint,
	"rpm" integer,
	"tpm" integer,
	"allowed_models" text[],
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_keys_secretHash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE TABLE "latency_stats" (
	"edge" text NOT NULL,
	"provider_id" text NOT NULL,
	"model" text NOT NULL,
	"ttft_ms" double precision NOT NULL,
	"tpot_ms" double precision NOT NULL,
	"success_rate" double precision NOT NULL,
	"samples" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "latency_stats_edge_provider_id_model_pk" PRIMARY KEY("edge","provider_id","model")
);
--> statement-breakpoint
CREATE TABLE "provider_models" (
	"provider_id" text NOT NULL,
	"model" text NOT NULL,
	"endpoints" text[] DEFAULT '{chat,completions}'::text[] NOT NULL,
	"input_price" bigint NOT NULL,
	"output_price" bigint NOT NULL,
	"context_length" integer DEFAULT 8192 NOT NULL,
	CONSTRAINT "provider_models_provider_id_model_pk" PRIMARY KEY("provider_id","model")
);
--> statement-breakpoint
CREATE TABLE "providers" (
	"id" text PRIMARY KEY NOT NULL,
	"address" text,
	"url" text NOT NULL,
	"region" text DEFAULT '' NOT NULL,
	"gpu" jsonb,
	"suspended" boolean DEFAULT false NOT NULL,
	"suspended_reason" text,
	"last_heartbeat_at" timestamp with time zone,
	"running_requests" integer DEFAULT 0 NOT NULL,
	"waiting_requests" integer DEFAULT 0 NOT NULL,
	"max_waiting_requests" integer DEFAULT 32 NOT NULL,
	"kv_cache_usage" double precision DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "providers_address_unique" UNIQUE("address")
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"request_id" text PRIMARY KEY NOT NULL,
	"key_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"provider_id" text,
	"model" text NOT NULL,
	"endpoint" text NOT NULL,
	"stream" boolean NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"cost_pico" bigint NOT NULL,
	"status" text NOT NULL,
	"error_code" text,
	"ttft_ms" integer,
	"duration_ms" integer NOT NULL,
	"edge" text NOT NULL,
	"attempts" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "latency_stats" ADD CONSTRAINT "latency_stats_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provider_models" ADD CONSTRAINT "provider_models_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "usage_events_account_id_created_at_index" ON "usage_events" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "usage_events_provider_id_created_at_index" ON "usage_events" USING btree ("provider_id","created_at");