//! Users and groups, for the messages and settings that involve another
//! user (the collector's and Hinemos' agent's are often different ones):
//! who this process runs as, who owns a file, which group `socket_group`
//! names.
//!
//! Names come from `/etc/passwd` and `/etc/group` (std only: no libc, so
//! no NSS; a group known only to LDAP is given by its number). Every
//! function answers `None` rather than fail: these are for messages and
//! for settings checked again by the system call that uses them.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The effective user id of this process (the owner of `/proc/self`).
pub fn effective_uid() -> Option<u32> {
    fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// The groups this process may hand a file to with `chown`: its effective
/// group and its supplementary groups (`/proc/self/status`).
pub fn own_groups() -> Vec<u32> {
    let mut groups = Vec::new();
    if let Some(gid) = fs::metadata("/proc/self").ok().map(|meta| meta.gid()) {
        groups.push(gid);
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let listed = status.lines().find_map(|line| line.strip_prefix("Groups:")).unwrap_or_default();
    groups.extend(listed.split_whitespace().filter_map(|gid| gid.parse::<u32>().ok()));
    groups
}

/// The name of user `uid` in `/etc/passwd`.
pub fn user_name(uid: u32) -> Option<String> {
    name_of("/etc/passwd", uid)
}

/// The name of group `gid` in `/etc/group`.
pub fn group_name(gid: u32) -> Option<String> {
    name_of("/etc/group", gid)
}

/// The id of a group given by name (`/etc/group`) or by number.
pub fn group_id(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    let text = fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == group).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// `user kura (uid 999)`, or `uid 999` for a user without a name.
pub fn describe_user(uid: u32) -> String {
    match user_name(uid) {
        Some(name) => format!("user {name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Why this process may not use `path`, for a "permission denied" line:
/// who it runs as, and the owner, group and mode of the nearest part of the
/// path it can see (a folder it may not enter hides what is inside).
pub fn why_denied(path: &Path) -> String {
    let me = effective_uid().map_or_else(|| "an unknown user".to_owned(), describe_user);
    let seen = path.ancestors().find_map(|part| fs::metadata(part).ok().map(|meta| (part, meta)));
    match seen {
        Some((part, meta)) => {
            let group = group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
            format!(
                "this process runs as {me}; {} belongs to {}, group {group}, mode {:04o}",
                part.display(),
                describe_user(meta.uid()),
                meta.mode() & 0o7777
            )
        }
        None => format!("this process runs as {me}"),
    }
}

/// The first field of the line of `/etc/passwd` or `/etc/group` whose
/// third field is `id`.
fn name_of(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_its_group_are_named() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("4242"), Some(4242));
        assert_eq!(group_id("no-such-group-of-kura"), None);
        assert_eq!(describe_user(0), "user root (uid 0)");
        assert!(describe_user(4_000_000_000).starts_with("uid "));
    }

    #[test]
    fn a_denial_names_the_nearest_visible_part_of_the_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let reason = why_denied(&dir.path().join("store/db"));
        assert!(reason.contains(&format!("{} belongs to", dir.path().display())), "{reason}");
        assert!(reason.contains("mode 0700"), "{reason}");
        assert!(own_groups().contains(&fs::metadata("/proc/self").unwrap().gid()));
    }
}
