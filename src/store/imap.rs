//! Rows about IMAP mailboxes: where each one's sync stands, and the messages done but still
//! waiting in their folder to be moved.

use super::{Conn, Result, Tx, now, on_conn};

impl Conn {
    /// The UIDVALIDITY and last UID done of `mailbox`, if it was ever synced.
    pub async fn imap_state(&mut self, mailbox: &str) -> Result<Option<(i64, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (i64, i64)>(
                "SELECT uid_validity, last_uid FROM imap_state WHERE mailbox = $1")
            .bind(mailbox).fetch_optional(&mut *c).await?))
    }

    /// The messages of `mailbox` under `uid_validity` still waiting to be moved: UID,
    /// target, and whether they were copied there already, in UID order.
    pub async fn imap_moves(&mut self, mailbox: &str, uid_validity: i64) -> Result<Vec<(i64, String, bool)>> {
        let rows = on_conn!(self, c => sqlx::query_as::<_, (i64, String, i64)>(
                "SELECT uid, target, copied FROM imap_moves WHERE mailbox = $1 AND uid_validity = $2 ORDER BY uid")
            .bind(mailbox).bind(uid_validity).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(|(uid, target, copied)| (uid, target, copied != 0)).collect())
    }
}

impl Tx {
    /// Records that `mailbox` is done up to `uid` under `uid_validity` and, with a
    /// `target`, that the message still has to be moved there: both or neither, in this transaction.
    pub async fn imap_taken(&mut self, mailbox: &str, uid_validity: i64, uid: i64, target: Option<&str>) -> Result<()> {
        let at = now();
        on_conn!(self.conn, c => {
            sqlx::query(
                    "INSERT INTO imap_state (mailbox, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity,
                        last_uid = excluded.last_uid, updated_at = excluded.updated_at")
                .bind(mailbox).bind(uid_validity).bind(uid).bind(at).execute(&mut *c).await?;
            sqlx::query("DELETE FROM imap_moves WHERE mailbox = $1 AND uid_validity <> $2")
                .bind(mailbox).bind(uid_validity).execute(&mut *c).await?;
            if let Some(target) = target {
                sqlx::query(
                        "INSERT INTO imap_moves (mailbox, uid_validity, uid, target) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (mailbox, uid_validity, uid) DO UPDATE SET target = excluded.target, copied = 0")
                    .bind(mailbox).bind(uid_validity).bind(uid).bind(target).execute(&mut *c).await?;
            }
        });
        Ok(())
    }

    /// Records that the messages `uids` of `mailbox` were copied to their target: only
    /// their removal from the folder is left.
    pub async fn imap_copied(&mut self, mailbox: &str, uid_validity: i64, uids: &[i64]) -> Result<()> {
        self.for_each_move(
            "UPDATE imap_moves SET copied = 1 WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3",
            mailbox,
            uid_validity,
            uids,
        )
        .await
    }

    /// Records that the messages `uids` of `mailbox` left their folder.
    pub async fn imap_moved(&mut self, mailbox: &str, uid_validity: i64, uids: &[i64]) -> Result<()> {
        self.for_each_move(
            "DELETE FROM imap_moves WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3",
            mailbox,
            uid_validity,
            uids,
        )
        .await
    }

    /// Runs `sql` (bound to mailbox, UIDVALIDITY, UID) for each of `uids` in this transaction.
    async fn for_each_move(&mut self, sql: &'static str, mailbox: &str, uid_validity: i64, uids: &[i64]) -> Result<()> {
        for uid in uids {
            on_conn!(self.conn, c => sqlx::query(sql)
                .bind(mailbox).bind(uid_validity).bind(uid).execute(&mut *c).await?.rows_affected());
        }
        Ok(())
    }
}
