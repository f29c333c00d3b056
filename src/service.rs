//! What `maildesk serve` tells its service manager (systemd's `Type=notify` protocol, on
//! the datagram socket `NOTIFY_SOCKET` names; nothing when it names none): `READY=1` once
//! every source, the sender and the portal are up, `WATCHDOG=1` keep-alives while the
//! daemon takes work, `RELOADING=1` while a SIGHUP re-reads templates, and `STOPPING=1`.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::App;

/// How long readiness waits for every part to be up. Past it the daemon says it is ready
/// anyway, naming what is not up (a mail server down at boot must not keep the portal
/// from starting, nor make systemd restart maildesk in a loop); `/readyz` tells the rest.
pub const READY_GRACE: Duration = Duration::from_secs(60);

/// Sends `states` to the service manager, if there is one.
pub fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        debug!(error = %e, "the service manager could not be told");
    }
}

/// Says the daemon is ready once every part of `app.health` is up, or after `grace` with
/// what is not; then keeps the status line current until `shutdown`.
pub async fn announce(app: Arc<App>, grace: Duration, shutdown: CancellationToken) {
    tokio::select! {
        _ = app.health.all_up() => {
            info!("ready: every source, the sender and the portal are up");
            notify(&[NotifyState::Ready, NotifyState::Status("ready")]);
        }
        _ = tokio::time::sleep(grace) => {
            let missing = app.health.not_up().join("; ");
            warn!(waiting_for = %missing, "ready, but not every part is up");
            notify(&[NotifyState::Ready, NotifyState::Status(&format!("ready; not up: {missing}"))]);
        }
        _ = shutdown.cancelled() => {}
    }
}

/// The watchdog's interval when the service manager asks for keep-alives (`WatchdogSec=`,
/// passed as `WATCHDOG_USEC`, for this process when `WATCHDOG_PID` names one: as
/// libsystemd's `sd_watchdog_enabled` reads them).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok().filter(|&u| u > 0)?;
    match std::env::var("WATCHDOG_PID") {
        Ok(pid) if pid.parse::<u32>().ok() != Some(std::process::id()) => None,
        _ => Some(Duration::from_micros(usec)),
    }
}

/// Sends `WATCHDOG=1` at half of `interval` until `shutdown`, as long as the daemon takes
/// work: the runtime runs this task (a wedged runtime sends nothing), and intake has not
/// stopped for stuck workers. Without keep-alives systemd kills and restarts maildesk.
pub async fn keep_alive(app: Arc<App>, interval: Duration, shutdown: CancellationToken) {
    let every = (interval / 2).max(Duration::from_millis(100));
    loop {
        if !app.workers.is_stopped() {
            notify(&[NotifyState::Watchdog]);
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
