-- One row per (media, stage): the pipeline advances through these rows, so a crash between two stages resumes
-- at the first stage that has not succeeded. `errors` keeps every failed try's message (the retry history).
CREATE TABLE analysis.processing_jobs (
    media_id    uuid NOT NULL,
    stage       text NOT NULL,
    user_id     uuid NOT NULL,
    position    int NOT NULL,
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts    int NOT NULL DEFAULT 0,
    errors      jsonb NOT NULL DEFAULT '[]',
    last_error  text NOT NULL DEFAULT '',
    cost_s      double precision NOT NULL DEFAULT 0,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (media_id, stage)
);

-- Jobs that used up their tries; an admin requeues them once the fault is fixed.
CREATE TABLE analysis.dead_letters (
    dead_letter_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    media_id       uuid NOT NULL,
    stage          text NOT NULL,
    user_id        uuid NOT NULL,
    job            jsonb NOT NULL,
    errors         jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    requeued_at    timestamptz
);
CREATE INDEX dead_letters_waiting ON analysis.dead_letters (created_at) WHERE requeued_at IS NULL;

-- The owner sees their rows; the admin routes (checked at the gateway) set app.all_users to list everyone's.
ALTER TABLE analysis.processing_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE analysis.processing_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY processing_jobs_owner ON analysis.processing_jobs
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);

ALTER TABLE analysis.dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE analysis.dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY dead_letters_owner ON analysis.dead_letters
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY dead_letters_admin ON analysis.dead_letters
    USING (current_setting('app.all_users', true) = 'on');
