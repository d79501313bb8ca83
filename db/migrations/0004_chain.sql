CREATE TABLE "chain_cursors" (
	"name" text PRIMARY KEY NOT NULL,
	"next_block" bigint NOT NULL,
	"last_block_hash" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deposits" (
	"chain_id" integer NOT NULL,
	"tx_hash" text NOT NULL,
	"log_index" integer NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"account" text NOT NULL,
	"account_id" uuid,
	"from_address" text NOT NULL,
	"amount_base" bigint NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deposits_chain_id_tx_hash_log_index_pk" PRIMARY KEY("chain_id","tx_hash","log_index")
);
--> statement-breakpoint
CREATE TABLE "settlement_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"period_id" bigint NOT NULL,
	"part" integer NOT NULL,
	"payouts" jsonb NOT NULL,
	"fee_base" bigint NOT NULL,
	"total_base" bigint NOT NULL,
	"status" text NOT NULL,
	"nonce" integer,
	"tx_hash" text,
	"raw_tx" text,
	"block_number" bigint,
	"gas_used" bigint,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"settled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "settlement_periods" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"chain_id" integer NOT NULL,
	"cutoff" timestamp with time zone NOT NULL,
	"merkle_root" text NOT NULL,
	"receipt_count" integer NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"settled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "withdrawals" (
	"chain_id" integer NOT NULL,
	"tx_hash" text NOT NULL,
	"log_index" integer NOT NULL,
	"account" text NOT NULL,
	"account_id" uuid,
	"owner" text NOT NULL,
	"requested_base" bigint NOT NULL,
	"held_base" bigint NOT NULL,
	"available_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"limit_tx_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "withdrawals_chain_id_tx_hash_log_index_pk" PRIMARY KEY("chain_id","tx_hash","log_index")
);
--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "stake_base" bigint;--> statement-breakpoint
ALTER TABLE "providers" ADD COLUMN "stake_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "receipts" ADD COLUMN "period_id" bigint;--> statement-breakpoint
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "settlement_batches" ADD CONSTRAINT "settlement_batches_period_id_settlement_periods_id_fk" FOREIGN KEY ("period_id") REFERENCES "public"."settlement_periods"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deposits_account_id_created_at_index" ON "deposits" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "settlement_batches_period_id_index" ON "settlement_batches" USING btree ("period_id");--> statement-breakpoint
CREATE INDEX "settlement_batches_status_index" ON "settlement_batches" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "settlement_periods_one_open" ON "settlement_periods" USING btree ("status") WHERE status = 'open';--> statement-breakpoint
CREATE INDEX "receipts_period_id_index" ON "receipts" USING btree ("period_id");