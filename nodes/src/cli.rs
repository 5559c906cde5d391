//! The `kura-nodes` command line (also `kura nodes ...`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps Hinemos 7's node repository in step with the containers in kura's
/// store: a node per Docker host and per container, the scopes
/// docker_container, docker_host, docker_map and <host>_scope, and the
/// scopes a container's hinemosAssignScopeId label names.
#[derive(Debug, Parser)]
#[command(
    name = "kura-nodes",
    version,
    after_help = "Examples:
  kura nodes plan --host docker_host1                      # the desired repository, as JSON
  kura nodes plan --host docker_host1 --hinemos http://127.0.0.1:8080 --password-file /etc/kura/hinemos.password
  kura nodes apply --config /etc/kura/kura.toml --delete   # every configured host (cron)

Exit status: 0 done (or nothing to do); 1 the store gives no desired state (no store,
unknown host, newest sweep stale or not reaching its daemon); 2 bad arguments or
configuration; 3 the manager cannot be reached, refused the login or could not be
read: nothing was changed; 4 some changes failed or were not attempted (the report
says which). With several hosts, the highest."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Shows what apply would change; without a manager, the desired repository (JSON).
    #[command(after_help = "Example:
  $ kura nodes plan --host local --hinemos http://127.0.0.1:8080 --password-file pw
  HOST   ACTION     TARGET            DETAIL
  local  add-scope  docker_container  at the top level
  local  add-node   local-web1        valid, 3f4e1b2a9c7d, 127.0.0.1
  local  assign     docker_container  local-web1
Warnings (missing label scopes, nodes kura does not own) go to stderr.")]
    Plan(NodesArgs),
    /// Carries the plan out and reports each change: done, failed (with the manager's message) or not attempted.
    #[command(after_help = "Example (cron, every 5 minutes):
  */5 * * * * root kura nodes apply --config /etc/kura/kura.toml --delete
Idempotent: a second run changes nothing. Nodes kura did not create are left alone
unless --adopt; nodes of removed containers are made invalid, and deleted only
with --delete.")]
    Apply(NodesArgs),
}

/// Where to read, which manager, what may change.
#[derive(Clone, Debug, Args)]
pub struct NodesArgs {
    /// The shared TOML configuration (hosts, [hinemos]; see README).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The collector's data folder [default: as configured, else $KURA_DATA, else /var/lib/kura as root, else ~/.local/share/kura].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A host, as the collector names it; repeatable [default: the configured hosts with --config, else every host of the store].
    #[arg(long, value_name = "NAME")]
    pub host: Vec<String>,
    /// The manager, http://HOST:8080 [default: [hinemos] manager].
    #[arg(long, value_name = "URL")]
    pub hinemos: Option<String>,
    /// The login [default: [hinemos] user, else hinemos].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// A file whose first line is the password [default: [hinemos] password_file].
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The host node's facility id (one host only) [default: [host.hinemos] facility_id, else the host's name].
    #[arg(long, value_name = "ID")]
    pub facility_id: Option<String>,
    /// The address of the host node and its containers' nodes (one host only) [default: [host.hinemos] ip_address, else the endpoint's].
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Only containers named NAME; a trailing * matches a prefix (web*). Nodes of other containers are left alone.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Delete the nodes of containers that are gone (else they are only made invalid).
    #[arg(long)]
    pub delete: bool,
    /// Take over nodes kura did not create (same facility id, or DOCKER_HOST naming this host).
    #[arg(long)]
    pub adopt: bool,
    /// Release nodes from label scopes their hinemosAssignScopeId label no longer names.
    #[arg(long)]
    pub unassign: bool,
    /// Output format of plans and reports.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// JSON, one element per host.
    Json,
}
