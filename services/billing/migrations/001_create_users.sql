-- Trove users, keyed by their Firebase uid. Row-level security: a transaction sees only the user named in
-- app.user_id, or (while resolving a sign-in) the one whose Firebase uid is in app.firebase_uid.
CREATE TABLE billing.users (
    user_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    firebase_uid text NOT NULL UNIQUE CHECK (length(firebase_uid) BETWEEN 1 AND 128),
    email        text NOT NULL DEFAULT '',
    tier         text NOT NULL DEFAULT 'free',
    created_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE billing.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.users FORCE ROW LEVEL SECURITY;

CREATE POLICY users_self ON billing.users
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid
           OR firebase_uid = nullif(current_setting('app.firebase_uid', true), ''));
