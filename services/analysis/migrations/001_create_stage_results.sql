-- One row per (media, stage, provider version): a re-run of a stage replaces its row, never adds one.
CREATE TABLE analysis.stage_results (
    media_id    uuid NOT NULL,
    stage       text NOT NULL,
    provider    text NOT NULL,
    user_id     uuid NOT NULL,
    status      text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    result      jsonb NOT NULL DEFAULT '{}',
    error       text NOT NULL DEFAULT '',
    duration_s  double precision NOT NULL DEFAULT 0,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_id, stage, provider)
);

ALTER TABLE analysis.stage_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE analysis.stage_results FORCE ROW LEVEL SECURITY;

CREATE POLICY stage_results_owner ON analysis.stage_results
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
