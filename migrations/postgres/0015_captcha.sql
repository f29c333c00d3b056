-- Captcha challenges already answered (desk::captcha): each is accepted once. A row is
-- kept until its challenge has expired, after which the challenge is refused anyway.
CREATE TABLE captchas_used (
    id          TEXT    NOT NULL PRIMARY KEY,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX captchas_used_expires_at ON captchas_used (expires_at);
