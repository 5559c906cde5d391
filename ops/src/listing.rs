//! The verbose listing of an archive, one line per entry, as the 2015
//! download script printed it (Python's `tarfile.list(verbose=True)`, the
//! format of `tar tv` with numeric owners):
//!
//! ```text
//! drwx------ 0/0          0 2015-08-24 18:28:36 root/
//! -rw-r--r-- 0/0        570 2010-01-31 11:52:26 root/.bashrc
//! lrwxrwxrwx 0/0          0 2015-08-24 18:28:36 root/link -> .bashrc
//! ```
//!
//! mode, `uid/gid`, the size right-aligned in 10 columns (`major,minor` for
//! devices), the modification time in local time, the name (`/` after a
//! folder), and a link's target.

use std::fmt::Display;
use std::io::{self, Read};

use chrono::TimeZone;
use tar::EntryType;

/// What kind of entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry.
    HardLink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
}

/// One entry of an archive, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Its kind.
    pub kind: Kind,
    /// Permission bits (07777).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Bytes.
    pub size: u64,
    /// `major,minor` of a device.
    pub device: Option<(u32, u32)>,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// The path in the archive, without a trailing `/`.
    pub name: String,
    /// A link's target.
    pub link: Option<String>,
}

impl Line {
    /// The line of an archive entry.
    pub fn of<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<Line> {
        let header = entry.header();
        let kind = match header.entry_type() {
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Link => Kind::HardLink,
            EntryType::Char => Kind::Char,
            EntryType::Block => Kind::Block,
            EntryType::Fifo => Kind::Fifo,
            _ => Kind::File,
        };
        let device = match kind {
            Kind::Char | Kind::Block => {
                Some((header.device_major()?.unwrap_or(0), header.device_minor()?.unwrap_or(0)))
            }
            _ => None,
        };
        let path = entry.path()?;
        let name = path.to_string_lossy().trim_end_matches('/').to_owned();
        let link = entry.link_name()?.map(|target| target.to_string_lossy().into_owned());
        Ok(Line {
            kind,
            mode: header.mode()? & 0o7777,
            uid: header.uid()?,
            gid: header.gid()?,
            size: header.size()?,
            device,
            mtime: i64::try_from(header.mtime()?).unwrap_or(i64::MAX),
            name,
            link,
        })
    }

    /// The line, with the time in `zone` (the local zone for people).
    pub fn render<Tz: TimeZone>(&self, zone: &Tz) -> String
    where
        Tz::Offset: Display,
    {
        let size = match self.device {
            Some((major, minor)) => format!("{major},{minor}"),
            None => self.size.to_string(),
        };
        let time = zone
            .timestamp_opt(self.mtime, 0)
            .earliest()
            .map_or_else(|| format!("@{}", self.mtime), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
        let slash = if self.kind == Kind::Dir { "/" } else { "" };
        let link = match (&self.link, self.kind) {
            (Some(target), Kind::Symlink) => format!(" -> {target}"),
            (Some(target), Kind::HardLink) => format!(" link to {target}"),
            _ => String::new(),
        };
        format!(
            "{} {}/{} {size:>10} {time} {}{slash}{link}",
            mode_string(self.kind, self.mode),
            self.uid,
            self.gid,
            self.name
        )
    }
}

/// `drwxr-xr-x`, with `s`/`S` for set-id bits and `t`/`T` for the sticky bit.
pub fn mode_string(kind: Kind, mode: u32) -> String {
    let kind = match kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::Fifo => 'p',
        Kind::File | Kind::HardLink => '-',
    };
    let mut text = String::with_capacity(10);
    text.push(kind);
    // (read, write, execute bits, special bit, special letter) per triplet.
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        text.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        let execute = bits & 0o1 != 0;
        text.push(match (mode & special != 0, execute) {
            (true, true) => letter,
            (true, false) => letter.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn line(kind: Kind, mode: u32, size: u64, name: &str) -> Line {
        // 2015-08-24 18:28:36 in UTC+9, the report's example.
        Line { kind, mode, uid: 0, gid: 0, size, device: None, mtime: 1_440_408_516, name: name.into(), link: None }
    }

    #[test]
    fn lines_read_as_the_report_printed_them() {
        let jst = FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(
            line(Kind::Dir, 0o700, 0, "root").render(&jst),
            "drwx------ 0/0          0 2015-08-24 18:28:36 root/"
        );
        assert_eq!(
            line(Kind::File, 0o644, 570, "root/.bashrc").render(&jst),
            "-rw-r--r-- 0/0        570 2015-08-24 18:28:36 root/.bashrc"
        );
        let link = Line { link: Some(".bashrc".into()), ..line(Kind::Symlink, 0o777, 0, "root/l") };
        assert!(link.render(&jst).ends_with(" root/l -> .bashrc"));
        let hard = Line { link: Some("root/a".into()), ..line(Kind::HardLink, 0o644, 0, "root/b") };
        assert!(hard.render(&jst).ends_with(" root/b link to root/a"));
        let null = Line { device: Some((1, 3)), uid: 7, gid: 8, ..line(Kind::Char, 0o666, 0, "dev/null") };
        assert!(null.render(&jst).starts_with("crw-rw-rw- 7/8        1,3 "), "{}", null.render(&jst));
    }

    #[test]
    fn special_bits_show_in_the_execute_columns() {
        assert_eq!(mode_string(Kind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(Kind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(Kind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(Kind::Dir, 0o1776), "drwxrwxrwT");
        assert_eq!(mode_string(Kind::Fifo, 0), "p---------");
    }
}
