//! maildesk: an email-first helpdesk daemon. Mail becomes tickets, replies become
//! comments, customers get acknowledgements; nothing is lost or applied twice.
//!
//! The flow is `sources` → `inbound` (pure interpretation) → `desk` (rules, one store
//! transaction per effect) → `store` (all SQL) → `outbound` (renders and sends the
//! outbox). `portal` and `cli` are thin callers of `desk`.

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod cpu;
pub mod daemon;
pub mod desk;
pub mod domain;
pub mod health;
pub mod inbound;
pub mod kb;
pub mod kept;
pub mod memory;
pub mod notice;
pub mod outbound;
pub mod portal;
pub mod service;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod workers;

pub use app::App;
