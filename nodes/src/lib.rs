//! kura's keeper of Hinemos 7's node repository: from the containers of
//! each host's newest sweep in kura's store, the nodes, scopes and
//! assignments Hinemos should have; compared with what the manager has
//! (REST API), the changes; and the changes made, idempotently.
//!
//! A program of its own (`kura-nodes`, also run as `kura nodes`) so that
//! `kura`, which Hinemos runs every minute, links no HTTP client; the
//! collector links this library to do the same on an interval.
//!
//! # Layout
//!
//! - [`settings`]: `[hinemos]` and `[host.hinemos]` of the shared config, with the command line's overrides.
//! - [`view`]: the store -> a host's containers in its newest sweep ([`desired::HostView`]).
//! - [`desired`]: the repository a host should have (pure).
//! - [`facility`]: the manager's rules for ids, names and values; the name mapping rule.
//! - [`select`]: `-n NAME` (a trailing `*` is a prefix).
//! - [`hinemos`]: the REST API's documents and the client (login, tokens, errors).
//! - [`current`]: what the manager holds for a host.
//! - [`plan`]: desired vs current -> the changes, and what is held back (pure).
//! - [`apply`]: the changes made, each with its outcome.
//! - [`run`]: one host's run, as `kura nodes` and the collector do it.
//! - [`render`]: the tables of plans and reports.
//! - [`cli`]: the command line.

pub mod apply;
pub mod cli;
pub mod current;
pub mod desired;
pub mod facility;
pub mod hinemos;
pub mod plan;
pub mod render;
pub mod run;
pub mod select;
pub mod settings;
pub mod view;
