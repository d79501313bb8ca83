ALTER TABLE "withdrawals" ADD COLUMN "closed_by" text;--> statement-breakpoint
ALTER TABLE "withdrawals" ADD COLUMN "paid_base" bigint;--> statement-breakpoint
CREATE INDEX "withdrawals_chain_id_account_index" ON "withdrawals" USING btree ("chain_id","account");