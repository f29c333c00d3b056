//! One IMAP session's work: find the folders, select the intake folder, apply every message
//! above the last UID done (by UID, never by `\Seen`), and record each as done before it is
//! moved, so that a move the server refuses never stops the mailbox: the message is flagged,
//! left in place and moved by a later pass. Then wait with IDLE (or a poll) and go again.
//! A message's size is asked before its body: one over `limits.max_message_bytes` goes to
//! the quarantine unread.

use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::checked::{self, Fetched};
use super::connect::ImapSession;
use super::error::{SyncError, refusal};
use super::plan::{DONE_KEYWORD, Plan, Target, Transfer, uid_set};
use super::watch::{Said, Watch};
use crate::App;
use crate::config::{AfterCommit, ImapMailbox};
use crate::desk::{self, Origin, Outcome};
use crate::domain::Source;
use crate::sources::lease::Held;
use crate::store::Tx;

/// IDLE is renewed well before the 29 minutes after which servers may drop it.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

/// How often a message the server will not give is asked for before it is quarantined.
const UNREADABLE_TRIES: u32 = 3;

/// How long the server may take to answer IDLE or DONE.
const IDLE_ANSWER: Duration = Duration::from_secs(30);

/// A session that lasted this long counts as working: the backoff starts over.
const WORKS_AFTER: Duration = Duration::from_secs(60);

/// While messages wait to be moved, the longest wait before trying again.
const RETRY_MOVES: Duration = Duration::from_secs(5 * 60);

/// How long a message in hand may still take once shutdown is signalled (well within the
/// daemon's drain deadline).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The most UIDs named in one MOVE, COPY or STORE.
const UIDS_PER_COMMAND: usize = 500;

/// One session: its mailbox, the server's ways, and where processed mail goes.
struct Work<'a> {
    app: &'a App,
    mailbox: &'a ImapMailbox,
    /// The lease under which this node works the mailbox.
    held: &'a Held,
    session: ImapSession,
    plan: Plan,
    validity: i64,
    /// Whether messages may be waiting to be moved.
    waiting: bool,
}

/// Serves one session under the lease `held` until shutdown (then logs out and returns
/// `Ok`) or an error; each change to the mailbox is made only while the lease holds.
pub async fn serve(
    app: &App,
    mailbox: &ImapMailbox,
    mut session: ImapSession,
    held: &Held,
    shutdown: &CancellationToken,
    watch: &mut Watch,
) -> Result<(), SyncError> {
    let plan = Plan::prepare(&mut session, mailbox, watch).await?;
    let source = Source::Imap(mailbox.name.clone());
    let origin = Origin { source: &source, department: mailbox.department.as_deref(), fence: Some(held.fence()) };
    let mut work = Work { app, mailbox, held, session, plan, validity: 0, waiting: true };
    let began = Instant::now();
    let part = crate::health::imap(&mailbox.name);
    loop {
        work.select(watch).await?;
        app.health.up(&part);
        if work.waiting {
            work.retry_moves(watch).await?;
        }
        // Mail that arrives while we work is announced during our commands, not in the
        // next IDLE: look again until a pass finds nothing, and only then wait.
        loop {
            let (applied, announced) = work.apply_new(origin, shutdown, watch).await?;
            if applied > 0 && watch.worked() {
                info!(mailbox = %mailbox.name, "mailbox reachable again");
            }
            // News read by async-imap's own commands waits in its channel; an EXISTS there
            // (or during our search) is mail the next IDLE will not announce again.
            let mut queued = false;
            while let Ok(news) = work.session.unsolicited_responses.try_recv() {
                queued |= matches!(news, UnsolicitedResponse::Exists(_));
            }
            if (applied == 0 && !announced && !queued) || shutdown.is_cancelled() {
                break;
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let wait = if work.waiting { RETRY_MOVES } else { IDLE_RENEW };
        let stopped = if work.plan.idle {
            let waited = idle(work.session, wait, shutdown, &mailbox.name).await;
            lasted(began, watch, &mailbox.name);
            let (session, stopped) = waited?;
            work.session = session;
            stopped
        } else {
            let poll = Duration::from_secs(mailbox.poll_interval_secs).min(wait);
            let waited = tokio::select! {
                _ = tokio::time::sleep(poll) => work.session.noop().await.map(|()| false),
                _ = shutdown.cancelled() => Ok(true),
            };
            lasted(began, watch, &mailbox.name);
            waited?
        };
        if stopped {
            break;
        }
    }
    work.session.logout().await?;
    info!(mailbox = %mailbox.name, "logged out");
    Ok(())
}

/// After a wait, however it ended: a session that lasted works (a NAT may cut a long IDLE),
/// so the backoff starts over.
fn lasted(began: Instant, watch: &mut Watch, name: &str) {
    if began.elapsed() >= WORKS_AFTER && watch.worked() {
        info!(mailbox = %name, "mailbox reachable again");
    }
}

/// Waits in IDLE up to `wait` or until shutdown (then true); IDLE's start and end are
/// bounded, so a server that never answers them does not hold the mailbox.
async fn idle(
    session: ImapSession,
    wait: Duration,
    shutdown: &CancellationToken,
    name: &str,
) -> Result<(ImapSession, bool), SyncError> {
    let bounded = |what: &str| {
        let what = what.to_string();
        move |_| SyncError::Imap(std::io::Error::new(std::io::ErrorKind::TimedOut, what).into())
    };
    let mut handle = session.idle();
    tokio::time::timeout(IDLE_ANSWER, handle.init()).await.map_err(bounded("IDLE not answered"))??;
    debug!(mailbox = %name, "waiting in IDLE");
    let stopped = {
        let (idling, _stop) = handle.wait_with_timeout(wait);
        tokio::select! {
            // The renewal is due even when the server keeps the connection alive with
            // `* OK Still here` (which restarts async-imap's own timer).
            _ = tokio::time::sleep(wait) => false,
            response = idling => {
                if let IdleResponse::NewData(data) = response? {
                    debug!(mailbox = %name, response = ?data.parsed(), "mailbox changed");
                }
                false
            }
            _ = shutdown.cancelled() => true,
        }
    };
    let session = tokio::time::timeout(IDLE_ANSWER, handle.done()).await.map_err(bounded("DONE not answered"))??;
    Ok((session, stopped))
}

impl Work<'_> {
    /// Goes on only while this node holds the mailbox's lease: asked before each change
    /// to the mailbox.
    fn may_touch(&self) -> Result<(), SyncError> {
        if self.held.holds() { Ok(()) } else { Err(SyncError::LeaseLost(self.mailbox.name.clone())) }
    }

    /// A transaction for what the mailbox's state records, made only under the lease.
    async fn begin(&self) -> Result<Tx, SyncError> {
        Ok(self.app.store.begin_fenced(Some(self.held.fence())).await?)
    }

    /// Records that the mailbox is done up to `uid` under the session's UIDVALIDITY and,
    /// with a `target`, that the message still has to be moved there: both or neither, and
    /// only while the lease holds.
    async fn taken(&self, uid: i64, target: Option<&str>) -> Result<(), SyncError> {
        let mut tx = self.begin().await?;
        tx.imap_taken(&self.mailbox.name, self.validity, uid, target).await?;
        Ok(tx.commit().await?)
    }

    /// Selects the intake folder; a folder that cannot be selected ends the session with an
    /// error that says what to configure. A warning the server gives on the way (such as a
    /// quota alert) is logged once.
    async fn select(&mut self, watch: &mut Watch) -> Result<(), SyncError> {
        let quoted = super::folders::quoted(&self.plan.intake);
        let selected = match checked::select(&mut self.session, &quoted, DONE_KEYWORD).await {
            Ok(selected) => selected,
            Err(e) => {
                let Some(answer) = refusal(&e) else { return Err(e.into()) };
                let folders = super::folders::some_folders(&mut self.session, 12).await;
                return Err(SyncError::Folder(format!(
                    "cannot select the intake folder {:?}: the server answered {answer}; set `folder` of \
                     [[imap]] {:?} to a folder that exists (this account has: {})",
                    self.plan.intake,
                    self.mailbox.name,
                    folders.join(", ")
                )));
            }
        };
        for warning in &selected.warnings {
            if watch.once(&format!("select: {warning}")) {
                warn!(mailbox = %self.mailbox.name, folder = %self.plan.intake, answer = %warning, "the server warns");
            }
        }
        self.plan.keywords = selected.keywords;
        let validity = i64::from(selected.uid_validity);
        if validity != self.validity {
            self.validity = validity;
            self.waiting = true;
        }
        Ok(())
    }

    /// Applies every message above the last UID done, in UID order, one at a time; returns
    /// how many it applied.
    async fn apply_new(
        &mut self,
        origin: Origin<'_>,
        shutdown: &CancellationToken,
        watch: &mut Watch,
    ) -> Result<(usize, bool), SyncError> {
        let (app, name, validity) = (self.app, self.mailbox.name.as_str(), self.validity);
        let last = match app.store.conn().await?.imap_state(name).await? {
            Some((stored, last)) if stored == validity => last,
            Some(_) => {
                // The folder was recreated: UIDs start over. Fingerprints keep anything from
                // being applied twice.
                info!(mailbox = %name, "UIDVALIDITY changed; reading the folder again");
                self.taken(0, None).await?;
                0
            }
            None => 0,
        };
        let (found, announced) = checked::search(&mut self.session, &format!("UID {}:*", last + 1)).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| i64::from(*uid) > last).collect();
        uids.sort_unstable();
        if !uids.is_empty() {
            debug!(mailbox = %name, count = uids.len(), "new messages");
        }
        let mut applied = 0;
        for uid in uids {
            if shutdown.is_cancelled() {
                break;
            }
            let Some(outcome) = self.receive(uid, origin, shutdown, watch).await? else {
                if shutdown.is_cancelled() {
                    break;
                }
                // Expunged by someone else meanwhile.
                self.taken(i64::from(uid), None).await?;
                continue;
            };
            applied += 1;
            let target = match (&outcome, self.mailbox.after) {
                (Outcome::Quarantined(_), _) => Target::Quarantine,
                (_, AfterCommit::Move) => Target::Done,
                (_, AfterCommit::Flag) => {
                    self.taken(i64::from(uid), None).await?;
                    self.flag(&[uid], Target::Done, watch).await?;
                    continue;
                }
            };
            // Done before the move is tried: a refused or interrupted move never brings the
            // message back, and the move is kept until it happens.
            let waits = (self.plan.transfer != Transfer::Flag).then_some(target.as_str());
            self.taken(i64::from(uid), waits).await?;
            self.settle(&[uid], target, false, watch).await?;
        }
        Ok((applied, announced))
    }

    /// Fetches message `uid` and hands it to desk; `None` when it is gone (or shutdown came
    /// while it was in hand).
    async fn receive(
        &mut self,
        uid: u32,
        origin: Origin<'_>,
        shutdown: &CancellationToken,
        watch: &mut Watch,
    ) -> Result<Option<Outcome>, SyncError> {
        let (app, mailbox) = (self.app, self.mailbox);
        if let Some((tries, answer)) =
            watch.unreadable_so_far(self.validity, uid).filter(|(n, _)| *n >= UNREADABLE_TRIES)
        {
            // One broken message never holds back the mail behind it.
            let answer = format!("{answer}, {tries} times");
            warn!(mailbox = %mailbox.name, uid, answer = %answer, "the server will not give this message; quarantined unread");
            let place = self.place(uid);
            return Ok(Some(desk::quarantine_unreadable(app, origin.source, &place, &answer).await?));
        }
        // The size first: a message over the limit is quarantined without being read.
        let sized = match checked::fetch(&mut self.session, uid, "(UID RFC822.SIZE)").await {
            Ok(Some(sized)) => sized,
            Ok(None) => return Ok(None),
            Err(e) => return self.unreadable(uid, e, watch).await,
        };
        if let Some(size) = sized.size.map(u64::from).filter(|s| *s > app.config().limits.max_message_bytes) {
            let place = self.place(uid);
            return Ok(Some(desk::quarantine_unfetched(app, origin.source, &place, size).await?));
        }
        let raw = match checked::fetch(&mut self.session, uid, "(UID BODY.PEEK[])").await {
            Ok(Some(Fetched { body: Some(raw), .. })) => raw,
            Ok(None) => return Ok(None),
            // A FETCH that came without the message is no sign that it is gone.
            Ok(Some(_)) => {
                let e = async_imap::error::Error::No(
                    "code: None, info: Some(\"FETCH answered without the message\")".into(),
                );
                return self.unreadable(uid, e, watch).await;
            }
            Err(e) => return self.unreadable(uid, e, watch).await,
        };
        let raw = raw.as_slice();
        // Bounded by limits.max_processing_secs inside desk; on shutdown a message still in
        // hand after a grace is left in the folder for the next start (its poison mark
        // counts the attempt).
        // The mail's span (desk's) sits in one naming its mailbox and UID.
        let span = tracing::info_span!("imap", mailbox = %mailbox.name, uid);
        let receiving = tracing::Instrument::instrument(desk::receive(app, raw, origin), span);
        tokio::pin!(receiving);
        tokio::select! {
            outcome = &mut receiving => Ok(Some(outcome?)),
            _ = shutdown.cancelled() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut receiving).await {
                Ok(outcome) => Ok(Some(outcome?)),
                Err(_) => {
                    warn!(mailbox = %mailbox.name, uid, "message still in hand at shutdown; left in the folder");
                    Ok(None)
                }
            },
        }
    }

    /// Where message `uid` is and where it goes, for a quarantine entry.
    fn place(&self, uid: u32) -> String {
        format!(
            "IMAP mailbox {}, folder {}, UIDVALIDITY {}, UID {uid}; {}",
            self.mailbox.name,
            self.plan.intake,
            self.validity,
            match self.plan.moves_to(Target::Quarantine) {
                Some(folder) => format!("moved to folder {folder}"),
                None => "left in that folder, flagged".to_string(),
            }
        )
    }

    /// The server would not give message `uid` (it refused the FETCH, or the connection
    /// broke during it, as Dovecot does when it cannot read the message's file). Gone
    /// meanwhile (expunged by someone else): `None`. Otherwise the session ends and the
    /// next one asks again; after the third failure in this run the message is
    /// quarantined unread with the server's answer.
    async fn unreadable(
        &mut self,
        uid: u32,
        e: async_imap::error::Error,
        watch: &mut Watch,
    ) -> Result<Option<Outcome>, SyncError> {
        let answer = refusal(&e).unwrap_or_else(|| e.to_string());
        if refusal(&e).is_some() {
            let gone = answer.contains("EXPUNGEISSUED")
                || checked::search(&mut self.session, &format!("UID {uid}")).await?.0.is_empty();
            if gone {
                return Ok(None);
            }
        }
        watch.unreadable(self.validity, uid, &answer);
        Err(e.into())
    }

    /// Moves the done messages `uids` to `target`'s folder (`copied`: they are there already
    /// and only have to leave the intake folder); where the server refuses, or there is no
    /// folder or no way to move, flags them and leaves them in place. Only a broken
    /// connection is an error.
    async fn settle(&mut self, uids: &[u32], target: Target, copied: bool, watch: &mut Watch) -> Result<(), SyncError> {
        self.may_touch()?;
        let Some(folder) = self.plan.folder(target).map(str::to_string) else {
            return self.flag(uids, target, watch).await;
        };
        // Copied before (by a session without MOVE): only the removal is left, whatever this
        // session would do.
        let transfer = if copied && self.plan.uidplus { Transfer::CopyExpunge } else { self.plan.transfer };
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            let set = uid_set(chunk);
            let rows: Vec<i64> = chunk.iter().map(|u| i64::from(*u)).collect();
            let moved = match transfer {
                Transfer::Move if copied => return self.flag(uids, target, watch).await,
                Transfer::Move => self.session.uid_mv(&set, &folder).await,
                Transfer::CopyExpunge => {
                    let copy = if copied { Ok(()) } else { self.session.uid_copy(&set, &folder).await };
                    match copy {
                        Ok(()) => {
                            if !copied {
                                let mut tx = self.begin().await?;
                                tx.imap_copied(&self.mailbox.name, self.validity, &rows).await?;
                                tx.commit().await?;
                            }
                            self.may_touch()?;
                            self.remove(&set).await
                        }
                        Err(e) => Err(e),
                    }
                }
                Transfer::Flag => return self.flag(uids, target, watch).await,
            };
            match moved {
                Ok(()) => {
                    let mut tx = self.begin().await?;
                    tx.imap_moved(&self.mailbox.name, self.validity, &rows).await?;
                    tx.commit().await?;
                    if watch.move_worked(&folder) {
                        info!(mailbox = %self.mailbox.name, folder = %folder, "moving processed mail works again");
                    }
                }
                Err(e) => {
                    let Some(answer) = refusal(&e) else { return Err(e.into()) };
                    self.waiting = true;
                    match watch.move_refused(&folder, &answer) {
                        Said::Nothing => {}
                        _ => warn!(
                            mailbox = %self.mailbox.name, folder = %folder, answer = %answer,
                            "the server refused to move processed mail; it stays in {} flagged {} and the move \
                             is tried again later",
                            self.plan.intake, self.plan.flags(target)
                        ),
                    }
                    self.flag(chunk, target, watch).await?;
                }
            }
        }
        Ok(())
    }

    /// Removes the messages `set` from the intake folder: `\Deleted`, then UID EXPUNGE of
    /// exactly those (RFC 4315), each answer checked.
    async fn remove(&mut self, set: &str) -> Result<(), async_imap::error::Error> {
        checked::run(&mut self.session, &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"), |_| {}).await?;
        checked::run(&mut self.session, &format!("UID EXPUNGE {set}"), |_| {}).await?;
        Ok(())
    }

    /// Marks the done messages `uids` so that a person sees maildesk has them: a keyword
    /// where the folder keeps keywords, a system flag where it does not or the keyword is
    /// refused.
    async fn flag(&mut self, uids: &[u32], target: Target, watch: &mut Watch) -> Result<(), SyncError> {
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            self.may_touch()?;
            let set = uid_set(chunk);
            let mut flags = self.plan.flags(target);
            loop {
                let stored =
                    checked::run(&mut self.session, &format!("UID STORE {set} +FLAGS.SILENT ({flags})"), |_| {}).await;
                let Err(e) = stored else { break };
                let Some(answer) = refusal(&e) else { return Err(e.into()) };
                if watch.once(&format!("flag {flags}: {answer}")) {
                    warn!(mailbox = %self.mailbox.name, answer = %answer, "the server refused to flag processed mail ({flags})");
                }
                if !self.plan.keywords {
                    break;
                }
                // Try again without the keyword.
                self.plan.keywords = false;
                flags = self.plan.flags(target);
            }
        }
        Ok(())
    }

    /// Moves the messages still waiting from an earlier pass or session.
    async fn retry_moves(&mut self, watch: &mut Watch) -> Result<(), SyncError> {
        self.may_touch()?;
        let waiting = self.app.store.conn().await?.imap_moves(&self.mailbox.name, self.validity).await?;
        self.waiting = false;
        if waiting.is_empty() {
            return Ok(());
        }
        for target in [Target::Done, Target::Quarantine] {
            for copied in [false, true] {
                let uids: Vec<u32> = waiting
                    .iter()
                    .filter(|(_, t, c)| *t == target.as_str() && *c == copied)
                    .filter_map(|(uid, _, _)| u32::try_from(*uid).ok())
                    .collect();
                if uids.is_empty() {
                    continue;
                }
                if self.plan.moves_to(target).is_none() {
                    // Kept until a session can move them.
                    self.waiting = true;
                    continue;
                }
                debug!(mailbox = %self.mailbox.name, count = uids.len(), copied, "moving messages left from before");
                self.settle(&uids, target, copied, watch).await?;
            }
        }
        Ok(())
    }
}
