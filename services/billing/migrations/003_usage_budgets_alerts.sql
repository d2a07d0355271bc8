-- Usage (one row per media file: its bytes count towards storage until deleted, its upload towards the month
-- it was made in), per-user budgets set by an admin (absent: the tier's default), and budget alerts (one per
-- user, billing period and threshold). Every row belongs to one user; row-level security as everywhere.
CREATE TABLE billing.usage (
    user_id        uuid NOT NULL,
    media_id       uuid NOT NULL,
    size_bytes     bigint NOT NULL CHECK (size_bytes >= 0),
    billing_period date NOT NULL,
    uploaded_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    PRIMARY KEY (user_id, media_id)
);
CREATE INDEX usage_user_period ON billing.usage (user_id, billing_period);

CREATE TABLE billing.budgets (
    user_id    uuid PRIMARY KEY,
    amount     numeric(20, 10) NOT NULL CHECK (amount >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.budget_alerts (
    user_id        uuid NOT NULL,
    billing_period date NOT NULL,
    threshold_pct  integer NOT NULL CHECK (threshold_pct IN (80, 100)),
    spent          numeric(20, 10) NOT NULL,
    budget         numeric(20, 10) NOT NULL,
    currency       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, billing_period, threshold_pct)
);

ALTER TABLE billing.usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.usage FORCE ROW LEVEL SECURITY;
ALTER TABLE billing.budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.budgets FORCE ROW LEVEL SECURITY;
ALTER TABLE billing.budget_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.budget_alerts FORCE ROW LEVEL SECURITY;

CREATE POLICY usage_owner ON billing.usage
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY budgets_owner ON billing.budgets
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY budget_alerts_owner ON billing.budget_alerts
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
