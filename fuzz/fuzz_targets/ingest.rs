//! Fuzzes what a poll does with a response: body bytes and `Content-Type`
//! header → `decode_body` → `parse` → dedup keys → sled store → rendered
//! outputs. The same function the daemon runs after a 200 (`poll::ingest`).
//!
//! Input format (so that plain feed files work as seeds unchanged):
//!
//! - If the input starts with `Content-Type:`, the rest of that first line
//!   (up to `\n`) is the header value, and the body is everything after the
//!   newline. The value is what `reqwest`'s `HeaderValue::to_str` would give
//!   the fetcher: surrounding spaces/tabs trimmed, and no header at all when
//!   it holds a byte that is not visible ASCII (`to_str` fails, so
//!   `fetch.rs` sees `None`).
//! - Otherwise there is no `Content-Type` header and the whole input is the
//!   body.
//!
//! One store is shared across inputs (opening sled per input is far too
//! slow), so items from earlier inputs are there when later ones are
//! ingested, exactly as over successive polls of the same feed. The store is
//! replaced by a fresh one every `RESET_EVERY` inputs to bound its size.
//! A crash that depends on earlier inputs may therefore not reproduce from
//! the saved artifact alone; see fuzz/README.md.
//!
//! Panics already reported (`KNOWN_PANICS`) are caught and the input passed
//! over, so that a run finds new ones; `RAFID_FUZZ_KEEP_KNOWN=1` turns that
//! off.

#![no_main]

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rafid::config::Config;
use rafid::ingest::fetch::{Body, decode_body};
use rafid::model::FeedState;
use rafid::ingest::poll::Outcome;
use rafid::publish::{Format, Scope, render_from_store};
use rafid::store::Store;

const FEED_URL: &str = "http://127.0.0.1:9/feed.xml";
const HEADER: &[u8] = b"Content-Type:";
/// A fresh store after this many inputs.
const RESET_EVERY: u64 = 20_000;
/// Render the store's newest items after every this many inputs.
const RENDER_EVERY: u64 = 1;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        rafid::config::parse(
            Path::new("fuzz.toml"),
            &format!("[[feed]]\nurl = \"{FEED_URL}\"\n"),
        )
        .expect("the fuzz config is valid")
    })
}

struct Harness {
    store: Store,
    /// The directory of `store`, and of the one before it (removed once the
    /// store after it is open: sled may still be closing it until then).
    dir: PathBuf,
    previous: Option<PathBuf>,
    generation: u64,
    inputs: u64,
}

/// `$TMPDIR/rafid-fuzz-<pid>`: one directory per fuzzing process.
fn process_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rafid-fuzz-{}", std::process::id()))
}

/// Removes the store directories of fuzzing processes that are gone
/// (libFuzzer exits without running destructors).
fn remove_stale_dirs() {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("rafid-fuzz-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Harness {
    fn new() -> Harness {
        remove_stale_dirs();
        let dir = process_dir().join("0");
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, "rafid fuzz").expect("open the fuzz store");
        Harness {
            store,
            dir,
            previous: None,
            generation: 0,
            inputs: 0,
        }
    }

    fn reset(&mut self) {
        self.generation += 1;
        let dir = process_dir().join(self.generation.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, "rafid fuzz").expect("open the fuzz store");
        // Dropping the old store closes it (sled finishes in the background).
        self.store = store;
        if let Some(old) = self.previous.take() {
            let _ = std::fs::remove_dir_all(old);
        }
        self.previous = Some(std::mem::replace(&mut self.dir, dir));
    }
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

/// Panics already reported (fuzz/README.md, "Findings"), by the file they
/// happen in and a piece of their message. An input that hits one is counted
/// and passed over, so a run goes on to find new ones; any other panic aborts
/// as usual. `RAFID_FUZZ_KEEP_KNOWN=1` makes these abort too (to reproduce,
/// minimise or check a fix).
const KNOWN_PANICS: &[(&str, &str, &str)] = &[
    (
        "1: feed-rs/quick-xml, a second or misplaced XML declaration",
        "quick-xml-0.42.0/src/encoding.rs",
        "set_encoding() called after prefix buffer was drained",
    ),
    (
        "2: feed-rs, a multi-byte character next to an e-mail address",
        "feed-rs-3.0.0/src/parser/util/mod.rs",
        "is not a char boundary",
    ),
];

fn keep_known() -> bool {
    static KEEP: OnceLock<bool> = OnceLock::new();
    *KEEP.get_or_init(|| std::env::var_os("RAFID_FUZZ_KEEP_KNOWN").is_some_and(|v| v == "1"))
}

fn known_panic(info: &std::panic::PanicHookInfo<'_>) -> Option<usize> {
    let file = info.location()?.file();
    let msg = info.payload_as_str().unwrap_or("");
    KNOWN_PANICS
        .iter()
        .position(|(_, f, m)| file.ends_with(f) && msg.contains(m))
}

thread_local! {
    static KNOWN_HITS: RefCell<[u64; KNOWN_PANICS.len()]> =
        const { RefCell::new([0; KNOWN_PANICS.len()]) };
}

/// Wraps libfuzzer-sys's panic hook (print, then abort) so that known panics
/// unwind to the `catch_unwind` in the target instead.
fn install_panic_filter() {
    if keep_known() {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match known_panic(info) {
        Some(i) => KNOWN_HITS.with(|h| {
            let mut h = h.borrow_mut();
            h[i] += 1;
            if h[i].is_power_of_two() {
                eprintln!(
                    "rafid-fuzz: known crash {} hit {} time(s); input skipped",
                    KNOWN_PANICS[i].0, h[i]
                );
            }
        }),
        None => previous(info),
    }));
}

/// Splits an input into the `Content-Type` the fetcher would see and the body.
fn split(data: &[u8]) -> (Option<String>, &[u8]) {
    let Some(rest) = data.strip_prefix(HEADER) else {
        return (None, data);
    };
    let (line, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // http's HeaderValue::to_str: visible ASCII, space and tab only.
    let visible = line
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    if !visible {
        return (None, body);
    }
    let value = std::str::from_utf8(line)
        .unwrap_or_default()
        .trim_matches([' ', '\t']);
    (Some(value.to_string()), body)
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    let (content_type, body) = split(data);

    // The decoder on its own (ingest calls it too, on the same bytes).
    let _ = decode_body(body, content_type.as_deref());

    HARNESS.with(|h| {
        let mut h = h.borrow_mut();
        let h = h.get_or_insert_with(|| {
            install_panic_filter();
            Harness::new()
        });
        h.inputs += 1;
        if h.inputs % RESET_EVERY == 0 {
            h.reset();
        }
        let body = Body {
            status: 200,
            bytes: bytes::Bytes::copy_from_slice(body),
            content_type,
            final_url: url::Url::parse(FEED_URL).unwrap(),
            validators: Default::default(),
            moved: None,
            hints: Default::default(),
        };
        let store = &h.store;
        // Only a known panic gets here as an Err: the hook aborts on others.
        let Ok(outcome) = std::panic::catch_unwind(AssertUnwindSafe(|| {
            rafid::ingest::poll::ingest(
                store,
                config,
                &config.feeds[0],
                body,
                "hash".into(),
                FeedState::default(),
                "fuzz",
            )
        })) else {
            return;
        };
        // A document that is not a feed fails ("fuzz: not a feed: ..."); a
        // store error means rafid wrote something it cannot read back (a
        // damaged record, an index pointing at a missing item): a bug.
        if let Outcome::Failed(msg) = &outcome {
            if msg.starts_with("fuzz: store at") {
                panic!("ingest failed in the store: {msg}");
            }
        }
        if h.inputs % RENDER_EVERY == 0 {
            let format = Format::ALL[(h.inputs / RENDER_EVERY % 3) as usize];
            let rendered = render_from_store(&h.store, config, &Scope::All, format, 20);
            if let Err(e) = rendered {
                panic!("rendering the store failed: {e}");
            }
        }
    });
});
