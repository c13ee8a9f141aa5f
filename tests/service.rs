//! rafid as a managed service: hot reload while serving, the sd_notify
//! conversation with systemd, logs under journald, /metrics, and the
//! `feeds` commands that edit the config file.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{FeedServer, Running, rafid, rewrite, run};

/// A config polling each of `feeds` (url, tags) every second.
fn config_text(dir: &Path, feeds: &[(&str, &[&str])], extra: &str) -> String {
    let mut s = format!(
        "# the test's config\n[storage]\npath = {:?}\n\n[server]\nlisten = \"127.0.0.1:0\"\n{extra}\n[poll]\nmin_interval = \"1s\"\n",
        dir.join("data").display().to_string()
    );
    for (url, tags) in feeds {
        let t: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
        s.push_str(&format!(
            "\n[[feed]]\nurl = {url:?}\ninterval = \"1s\"\ntags = [{}]\n",
            t.join(", ")
        ));
    }
    s
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_removes_and_retags_feeds_while_serving() {
    let server = FeedServer::start().await;
    let urls = common::serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rafid.toml");
    let extra = "admin_token = \"s3cret-token-0123456\"\n";
    let a: &[&str] = &["old"];
    std::fs::write(
        &path,
        config_text(dir.path(), &[(urls[0].as_str(), a)], extra),
    )
    .unwrap();
    let p = path.clone();
    let daemon = tokio::task::spawn_blocking(move || Running::start(&p))
        .await
        .unwrap();
    let client = common::daemon::http_client();
    let base = format!("http://{}", daemon.addr);
    let get = |p: &str| {
        let (client, url) = (client.clone(), format!("{base}{p}"));
        async move {
            let r = client
                .get(url)
                .bearer_auth("s3cret-token-0123456")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let feeds_in_status = |body: &str| -> Vec<(String, bool)> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["url"].as_str().unwrap().to_string(),
                    !f["last_success"].is_null(),
                )
            })
            .collect()
    };

    wait_for("the first feed's first poll", || async {
        feeds_in_status(&get("/status").await.1)
            .iter()
            .all(|(_, ok)| *ok)
    })
    .await;

    // Readers hammer the server through every reload: none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut hammers = Vec::new();
    for p in ["/feed.atom", "/status", "/opml", "/metrics", "/feed.json"] {
        let (stop, failures, served) = (stop.clone(), failures.clone(), served.clone());
        let (client, url) = (client.clone(), format!("{base}{p}"));
        hammers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match client
                    .get(&url)
                    .bearer_auth("s3cret-token-0123456")
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let counter = if ok { &served } else { &failures };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Added feed, and the first one retagged.
    let b: &[&str] = &[];
    let n: &[&str] = &["new"];
    rewrite(
        &path,
        &config_text(
            dir.path(),
            &[(urls[0].as_str(), n), (urls[1].as_str(), b)],
            extra,
        ),
    );
    wait_for("the added feed to be polled", || async {
        let f = feeds_in_status(&get("/status").await.1);
        f.len() == 2 && f.iter().all(|(_, ok)| *ok)
    })
    .await;
    let (code, tagged) = get("/tags/new.atom").await;
    assert_eq!(code, 200);
    assert!(
        tagged.contains("<entry>") || tagged.contains("<entry "),
        "{tagged}"
    );
    assert_eq!(get("/tags/old.atom").await.0, 404);

    // An invalid file: logged, and the running config stays.
    let skip = daemon.log_text().len();
    rewrite(
        &path,
        "[[feed]]\nurl = \"https://x.example/\"\ncolour = 1\n",
    );
    let line = daemon
        .wait_for_log_async(skip, "the new config is not valid; keeping the running one")
        .await;
    assert!(line.contains(&path.display().to_string()), "{line}");
    let log = daemon.log_text();
    assert!(
        log[skip..].contains("rafid.toml:3:1: unknown key `colour`"),
        "{log}"
    );
    assert_eq!(feeds_in_status(&get("/status").await.1).len(), 2);

    // The added feed removed again: no more requests for it.
    rewrite(
        &path,
        &config_text(dir.path(), &[(urls[0].as_str(), n)], extra),
    );
    wait_for("the removed feed to leave /status", || async {
        feeds_in_status(&get("/status").await.1).len() == 1
    })
    .await;
    // The kept feed, polled once a second, is the clock: one of its polls
    // for a request to the removed feed still under way to end, three more
    // in which none may start.
    let kept_polls = |more: usize| {
        let (server, from) = (server.clone(), server.seen_for("/rss.xml").len());
        wait_for("the kept feed's next polls", move || {
            let server = server.clone();
            async move { server.seen_for("/rss.xml").len() >= from + more }
        })
    };
    kept_polls(1).await;
    let polls_of_b = server.seen_for("/atom.xml").len();
    kept_polls(3).await;
    assert_eq!(server.seen_for("/atom.xml").len(), polls_of_b);

    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 20);
    assert_eq!(failures.load(Ordering::Relaxed), 0, "requests failed");

    // /metrics: the admin token guards it, and every line parses.
    let r = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (code, text) = get("/metrics").await;
    assert_eq!(code, 200);
    let samples = parse_exposition(&text);
    let polls = samples
        .iter()
        .find(|(name, labels, _)| {
            name == "rafid_feed_polls_total" && labels.contains(&urls[0].to_string())
        })
        .map(|s| s.2)
        .unwrap_or_else(|| panic!("no polls series for the feed:\n{text}"));
    assert!(polls >= 2.0, "{polls}");
    let by_status: f64 = samples
        .iter()
        .filter(|s| s.0 == "rafid_responses_total")
        .map(|s| s.2)
        .sum();
    assert!(by_status >= 3.0, "{text}");
    assert!(
        samples
            .iter()
            .any(|s| s.0 == "rafid_store_size_bytes" && s.2 > 0.0)
    );

    tokio::task::spawn_blocking(move || daemon.stop())
        .await
        .unwrap();
}

/// Parses the Prometheus text format strictly enough to catch mistakes:
/// every sample's family has a TYPE, names and label sets are well formed,
/// values are numbers, histogram buckets never decrease.
fn parse_exposition(text: &str) -> Vec<(String, String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    let mut last_bucket: Option<(String, f64)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap().to_string();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push(name);
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "{line}");
                (n.to_string(), l[..l.len() - 1].to_string())
            }
            None => (series.to_string(), String::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.iter().any(|t| t == f))
            })
            .unwrap_or(&name);
        assert!(typed.iter().any(|t| t == family), "no TYPE for {line}");
        if name.ends_with("_bucket") {
            if let Some((f, v)) = &last_bucket {
                if f == family {
                    assert!(value >= *v, "bucket decreases: {line}");
                }
            }
            last_bucket = Some((family.to_string(), value));
        }
        samples.push((name, labels, value));
    }
    samples
}

/// Datagrams sent to a NOTIFY_SOCKET of the test's own.
struct Notifications {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Notifications {
    fn bind(path: &Path) -> Notifications {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Notifications {
            socket,
            seen: Vec::new(),
        }
    }

    /// Waits for a message containing every one of `parts`; returns it.
    fn expect(&mut self, parts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(msg.clone());
                if parts.iter().all(|p| msg.lines().any(|l| l.starts_with(p))) {
                    return msg;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no message with {parts:?}; got {:?}",
                self.seen
            );
        }
    }
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

#[test]
fn tells_systemd_ready_reloading_watchdog_and_stopping() {
    let server = FeedServer::start_in_thread();
    let urls = common::serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rafid.toml");
    let feeds: Vec<(&str, &[&str])> = vec![(urls[0].as_str(), &[])];
    std::fs::write(&path, config_text(dir.path(), &feeds, "")).unwrap();
    let mut notes = Notifications::bind(&dir.path().join("notify.sock"));
    // stderr goes to a file standing for the journal's stream, named in
    // JOURNAL_STREAM by device and inode as systemd does.
    let log_path = dir.path().join("journal.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let stream = {
        use std::os::unix::fs::MetadataExt;
        let m = log_file.metadata().unwrap();
        format!("{}:{}", m.dev(), m.ino())
    };
    let mut daemon = rafid()
        .arg("-c")
        .arg(&path)
        .arg("run")
        .env("NOTIFY_SOCKET", dir.path().join("notify.sock"))
        .env("WATCHDOG_USEC", "400000")
        .env("JOURNAL_STREAM", &stream)
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();

    let ready = notes.expect(&["READY=1", "STATUS="]);
    assert!(ready.contains("1 feeds"), "{ready}");
    notes.expect(&["WATCHDOG=1"]);
    notes.expect(&["WATCHDOG=1"]);

    // SIGHUP: RELOADING=1 with the monotonic time, then READY=1 again.
    let feeds: Vec<(&str, &[&str])> = vec![(urls[0].as_str(), &[]), (urls[1].as_str(), &[])];
    std::fs::write(&path, config_text(dir.path(), &feeds, "")).unwrap();
    signal(&daemon, libc::SIGHUP);
    let reloading = notes.expect(&["RELOADING=1", "MONOTONIC_USEC="]);
    let usec: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(usec > 0);
    let ready = notes.expect(&["READY=1", "STATUS="]);
    assert!(ready.contains("2 feeds"), "{ready}");

    // An invalid config: rejected, the running one kept and still ready.
    std::fs::write(
        &path,
        "[[feed]]\nurl = \"https://x.example/\"\ncolour = 1\n",
    )
    .unwrap();
    signal(&daemon, libc::SIGHUP);
    notes.expect(&["RELOADING=1"]);
    let ready = notes.expect(&["READY=1", "STATUS="]);
    assert!(ready.contains("2 feeds"), "{ready}");

    signal(&daemon, libc::SIGTERM);
    notes.expect(&["STOPPING=1"]);
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    // Under journald: the journal stamps the time; no colours either.
    assert!(log.contains("config reloaded"), "{log}");
    assert!(log.contains("feed added"), "{log}");
    assert!(
        log.contains("the new config is not valid; keeping the running one"),
        "{log}"
    );
    assert!(
        log.contains("rafid.toml:3:1: unknown key `colour`"),
        "{log}"
    );
    assert!(!log.contains('\x1b'), "{log}");
    for line in log.lines().filter(|l| !l.starts_with(' ')) {
        assert!(
            !line.starts_with(|c: char| c.is_ascii_digit()),
            "timestamp in {line:?}"
        );
    }

    // A JOURNAL_STREAM that is not stderr (inherited by a process whose
    // stderr was redirected): timestamps stay.
    let cfg = dir.path().join("refused.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = {:?}\n[[feed]]\nurl = \"http://127.0.0.1:1/x\"\n",
            dir.path().join("other").display().to_string()
        ),
    )
    .unwrap();
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        // -v: poll-once reports failures in its summary, and logs them only
        // when asked for more.
        .args(["-v", "poll-once"])
        .env("JOURNAL_STREAM", &stream)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = err.lines().find(|l| l.contains("WARN")).expect("a warning");
    assert!(warning.starts_with("20"), "{warning}");
}

#[test]
fn feeds_commands_edit_the_config_and_keep_the_rest() {
    let server = FeedServer::start_in_thread();
    let urls = common::serve_standard(&server);
    server.put(
        "/page.html",
        "<!DOCTYPE html><html><head><title>موقع</title>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" href=\"/atom.xml\">\n\
         </head><body>أخبار</body></html>",
        "text/html; charset=utf-8",
    );
    server.put(
        "/page2.html",
        "<!DOCTYPE html><html><head><title>موقع</title>\n\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"مدونة &amp; أخبار\" href=\"/legacy.xml\">\n\
         </head><body>أخبار</body></html>",
        "text/html; charset=utf-8",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg: PathBuf = dir.path().join("rafid.toml");
    let original = format!(
        "# My rafid\n[storage]\npath = {:?}   # where\n\n# feeds follow\n\n[[feed]]\n# the first\nurl = {:?}\ntags = [\"ar\"]\n\n# the end\n",
        dir.path().join("data").display().to_string(),
        urls[0]
    );
    std::fs::write(&cfg, &original).unwrap();

    // --probe fetches the feed and shows what it is.
    let (code, out, err) = run(
        &cfg,
        &["feeds", "add", &urls[2], "--tag", "json", "--probe"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("items"), "{out}");
    // --discover finds the feed a page links to.
    let page = server.url("/page.html");
    let (code, out, err) = run(
        &cfg,
        &["feeds", "add", &page, "--discover", "--title", "Atom"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!("found the feed {}", urls[1])),
        "{out}"
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.starts_with(original.trim_end_matches("\n# the end\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("url = \"{}\"\ntitle = \"Atom\"", urls[1])),
        "{text}"
    );
    // Without --title, the title the page gives the link (issue 16).
    let page2 = server.url("/page2.html");
    let (code, _, err) = run(&cfg, &["feeds", "add", &page2, "--discover"]);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains(&format!("url = \"{}\"\ntitle = \"مدونة & أخبار\"", urls[3])),
        "{text}"
    );
    assert_eq!(run(&cfg, &["feeds", "remove", &urls[3]]).0, Some(0));
    assert_eq!(run(&cfg, &["check"]).0, Some(0));

    // A feed already there is refused, canonically.
    let (code, _, err) = run(
        &cfg,
        &["feeds", "add", &urls[0].replace("http://", "HTTP://")],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("already in"), "{err}");
    // What check would reject is refused.
    let (code, _, err) = run(
        &cfg,
        &["feeds", "add", "https://n.example/f", "--interval", "often"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("not a duration"), "{err}");

    // Export, remove everything added, then import: the same OPML again.
    let (code, exported, _) = run(&cfg, &["feeds", "export"]);
    assert_eq!(code, Some(0));
    assert!(exported.contains("<opml version=\"2.0\">"), "{exported}");
    for u in [&urls[2], &urls[1]] {
        let (code, out, err) = run(&cfg, &["feeds", "remove", u]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("removed"), "{out}");
    }
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    let (code, _, err) = run(&cfg, &["feeds", "remove", &urls[3]]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no feed"), "{err}");

    let opml = dir.path().join("subs.opml");
    std::fs::write(&opml, &exported).unwrap();
    let (code, out, err) = run(&cfg, &["feeds", "import", opml.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("imported 2 feeds") && out.contains("1 already there"),
        "{out}"
    );
    let (_, again, _) = run(&cfg, &["feeds", "export"]);
    assert_eq!(again, exported);
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .starts_with(original.trim_end_matches("\n# the end\n"))
    );
}

#[test]
fn secrets_come_from_the_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("admin-token"), "s3cret-0123456789\n").unwrap();
    let cfg = dir.path().join("rafid.toml");
    std::fs::write(&cfg, "[server]\nadmin_token = \"file:admin-token\"\n").unwrap();
    // As systemd runs it with LoadCredential=admin-token:…
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .arg("check")
        .env("CREDENTIALS_DIRECTORY", &creds)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without it, the error says how to pass the secret.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .arg("check")
        .env_remove("CREDENTIALS_DIRECTORY")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rafid.toml:2:15: server.admin_token: cannot read admin-token"),
        "{err}"
    );
    assert!(
        err.contains("hint: under systemd, pass the file with LoadCredential="),
        "{err}"
    );
}
