//! Config files written for a test's own temporary directory.

use std::path::{Path, PathBuf};

/// Writes a config with `feeds` (url, tags) into `dir` and returns its path.
pub fn write_config(dir: &Path, feeds: &[(&str, &[&str])], extra: &str) -> PathBuf {
    // `extra` may start with more `[storage]` keys; they join the table.
    let (storage, extra) = match extra.strip_prefix("[storage]\n") {
        Some(rest) => match rest.find("\n[") {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, ""),
        },
        None => ("", extra),
    };
    let mut s = format!(
        "[storage]\npath = {:?}\n{storage}[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://rafid.test/river/\"\n{extra}\n",
        dir.join("data").display().to_string()
    );
    for (url, tags) in feeds {
        s.push_str(&format!("[[feed]]\nurl = {url:?}\n"));
        if !tags.is_empty() {
            let t: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
            s.push_str(&format!("tags = [{}]\n", t.join(", ")));
        }
    }
    let path = dir.join("rafid.toml");
    std::fs::write(&path, s).unwrap();
    path
}

/// Writes a config so that its modification time surely moves, as a
/// daemon watching the file needs to see the change.
pub fn rewrite(path: &Path, text: &str) {
    let before = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    loop {
        std::fs::write(path, text).unwrap();
        let after = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if after != before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
