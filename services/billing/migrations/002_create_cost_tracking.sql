-- One row per provider call. The idempotency key makes a retried call land once.
CREATE TABLE billing.cost_tracking (
    cost_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL,
    idempotency_key text NOT NULL,
    media_id        uuid,
    stage           text NOT NULL DEFAULT '',
    service         text NOT NULL,
    units           double precision NOT NULL CHECK (units >= 0),
    unit_price      numeric(20, 10) NOT NULL CHECK (unit_price >= 0),
    amount          numeric(20, 10) NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    billing_period  date NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX cost_tracking_user_period ON billing.cost_tracking (user_id, billing_period);

ALTER TABLE billing.cost_tracking ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.cost_tracking FORCE ROW LEVEL SECURITY;

CREATE POLICY cost_tracking_owner ON billing.cost_tracking
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
