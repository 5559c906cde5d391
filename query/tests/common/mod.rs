//! What the golden and compatibility tests share: the commands that answer
//! as of one time, each with the name of its expected output.

/// Commands asked as of one time (each test appends its `--at` and
/// `--max-bytes 0`): the name of the expected output, the arguments.
pub const AS_OF: &[(&str, &[&str])] = &[
    ("status", &["status"]),
    ("count", &["count"]),
    ("size", &["size"]),
    ("cpu", &["cpu"]),
    ("cpu-core", &["cpu", "--scale", "core", "--core"]),
    ("cpu-with-host", &["cpu", "--with-host", "--key", "short"]),
    ("mem", &["mem"]),
    ("mem-limit-rss", &["mem", "--limit", "--rss"]),
    ("mem-with-host", &["mem", "--with-host", "-n", "sim-01*"]),
    ("mem-detail", &["mem", "--detail", "-n", "sim-001"]),
    ("disk", &["disk", "--window", "1m"]),
    ("disk-per-window", &["disk", "--per-window", "--write"]),
    ("net", &["net", "--key", "id"]),
    ("net-packets", &["net", "--packets", "--per-window", "--rx"]),
    ("proc", &["proc", "--prog", "httpd", "--args=-f"]),
    ("ps", &["ps", "--all"]),
    ("cpu-table", &["cpu", "--format", "table", "-n", "sim-01*"]),
    ("cpu-json", &["cpu", "--format", "json", "-n", "sim-01*"]),
];
