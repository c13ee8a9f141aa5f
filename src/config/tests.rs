//! The config's checks: what parses, every error's place and hint, and
//! that credentials never show.

use super::*;

fn diags(text: &str) -> Vec<Diagnostic> {
    match parse(Path::new("rafid.toml"), text) {
        Err(ConfigError::Invalid(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

#[test]
fn shipped_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rafid.toml");
    let cfg = load(&path).expect("config/rafid.toml is valid");
    assert!(!cfg.feeds.is_empty());
}

#[test]
fn defaults_apply_to_an_empty_file() {
    let cfg = parse(Path::new("x.toml"), "").unwrap();
    assert_eq!(cfg.poll.interval, Duration::from_secs(3600));
    assert_eq!(cfg.poll.concurrency, 32);
    assert_eq!(cfg.poll.per_host, 2);
    assert_eq!(cfg.poll.max_body, 16 << 20);
    assert_eq!(cfg.output.max_items, 100);
    assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
    assert!(cfg.feeds.is_empty());
}

#[test]
fn unknown_key_names_line_and_column() {
    let d = diags("[poll]\ninterval = \"1h\"\nintervall = \"2h\"\n");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].line, d[0].column), (3, 1));
    assert!(d[0].message.contains("intervall"), "{}", d[0].message);
    let shown = d[0].to_string();
    assert!(shown.starts_with("rafid.toml:3:1: "), "{shown}");
    assert!(shown.contains("intervall = \"2h\"\n    ^"), "{shown}");
}

#[test]
fn unknown_key_in_a_feed_is_an_error() {
    let d = diags("[[feed]]\nurl = \"https://a.example/f\"\ncolour = \"red\"\n");
    assert_eq!(d[0].line, 3);
}

#[test]
fn every_validation_error_is_reported() {
    let text = "[poll]\ninterval = \"soon\"\nmax_body = \"lots\"\n[server]\nlisten = \"nowhere\"\n\
                [[feed]]\nurl = \"ftp://a.example/f\"\n[[feed]]\nurl = \"https://b.example/f\"\n\
                [[feed]]\nurl = \"HTTPS://B.example/f#x\"\n";
    let d = diags(text);
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![2, 3, 5, 7, 11], "{d:#?}");
    assert!(d[0].message.contains("not a duration"));
    assert!(d[4].message.contains("same feed as feed[1]"));
    assert_eq!(d[0].column, 12);
}

#[test]
fn every_unknown_key_is_reported_with_a_hint_and_the_rest_checked() {
    let text = "[poll]\nintervall = \"1h\"\ncolour = [\n  1,\n]\ninterval = \"soon\"\n\
                [polll]\nx = 1\n[[feed]]\nurl = \"https://a.example/أ\"\ntitel = \"t\"\ninterval = \"0s\"\n";
    let d = diags(text);
    let got: Vec<(usize, &str, Option<&str>)> = d
        .iter()
        .map(|d| (d.line, d.message.as_str(), d.hint.as_deref()))
        .collect();
    assert_eq!(got.len(), 6, "{d:#?}");
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].1, "unknown key `intervall`");
    assert_eq!(got[0].2, Some("did you mean `interval`?"));
    assert_eq!(got[1].0, 3);
    assert!(
        got[1]
            .2
            .unwrap()
            .starts_with("the keys allowed here: interval, ")
    );
    assert_eq!(got[2].0, 6);
    assert!(got[2].1.contains("not a duration"));
    assert_eq!(got[3].0, 7);
    assert_eq!(got[3].2, Some("did you mean `poll`?"));
    assert_eq!((got[4].0, got[4].1), (11, "unknown key `titel`"));
    assert_eq!(got[5].0, 12);
    assert!(got[5].1.contains("more than zero"));
    // The caret is under the key, in the file as written.
    assert!(
        d[4].to_string()
            .contains("titel = \"t\"\n    ^\n    hint: did you mean `title`?")
    );
}

#[test]
fn a_value_of_the_wrong_type_does_not_hide_the_rest() {
    let text = "[[feed]]\nurl = \"https://a.example/f\"\ntags = \"news\"\nenabled = \"yes\"\n\
                [poll]\nconcurrency = 0\n";
    let d = diags(text);
    let got: Vec<(usize, &str, Option<&str>)> = d
        .iter()
        .map(|d| (d.line, d.message.as_str(), d.hint.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                3,
                "invalid type: string \"news\"",
                Some("write a list, e.g. [\"news\", \"ar\"]")
            ),
            (
                4,
                "invalid type: string \"yes\"",
                Some("expected a boolean")
            ),
            (
                6,
                "poll.concurrency: must be at least 1",
                Some("write a whole number, 1 or more")
            ),
        ]
    );
    // A syntax error stops the reading: it is the only error.
    let d = diags("[poll]\ninterval = 1h\nconcurrency = 0\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].hint.as_deref(), Some("quote the value, e.g. \"1h\""));
}

/// Issue 16: "News" and "news" made two rivers.
#[test]
fn tags_fold_case() {
    let cfg = parse(
        Path::new("t.toml"),
        "[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"News\", \"NEWS\"]\n\
         [[feed]]\nurl = \"https://b.example/f\"\ntags = [\"news\", \"أخبار\"]\n\
         [[river]]\nname = \"r\"\ntags = [\"nEwS\"]\n",
    )
    .unwrap();
    assert_eq!(cfg.feeds[0].tags, ["News"]);
    assert_eq!(cfg.feeds[1].tags, ["News", "أخبار"]);
    assert_eq!(cfg.rivers[0].tags, ["News"]);
    assert_eq!(cfg.tag("news"), Some("News"));
    assert_eq!(cfg.feeds_tagged("NEWS").count(), 2);
    let scopes = crate::publish::scopes(&cfg);
    assert_eq!(scopes.len(), 4, "{scopes:?}"); // all, News, أخبار, river r
}

/// Issue 16: these four mistakes took four runs of `check` to find.
#[test]
fn a_missing_required_key_does_not_hide_the_rest() {
    let text = "[output]\ntitel = \"My river\"\n\
                [[feed]]\nurl = \"https://a.example/f\"\ntags = \"ar\"\n\
                [[feed]]\ntitle = \"no url\"\ninterval = \"5q\"\n\
                [[feed]]\nurl = \"https://b.example/f\"\nintervall = \"1h\"\n\
                auth = { user = \"me\" }\nkeep = { title = [\"a\", 1] }\n\
                [[river]]\nlang = [\"ar\"]\n[[feed]]\nurl = 5\n";
    let d = diags(text);
    let got: Vec<(usize, &str)> = d.iter().map(|d| (d.line, d.message.as_str())).collect();
    assert_eq!(got.len(), 9, "{d:#?}");
    assert_eq!(got[0], (2, "unknown key `titel`"));
    assert_eq!(got[1], (5, "invalid type: string \"ar\""));
    assert_eq!(got[2], (6, "feed[1]: no `url`"));
    assert_eq!(
        d[2].hint.as_deref(),
        Some("every [[feed]] needs one, e.g. url = \"https://example.org/feed.xml\"")
    );
    // The feed without a URL still has its other keys checked.
    assert_eq!(got[3].0, 8);
    assert!(got[3].1.contains("not a duration"), "{}", got[3].1);
    assert_eq!(got[4], (11, "unknown key `intervall`"));
    assert_eq!(got[5], (12, "missing field `password`"));
    assert_eq!(got[6], (13, "invalid type: integer `1`"));
    assert_eq!(got[7], (14, "river[0]: no `name`"));
    // A URL of the wrong type is reported once, not again as missing.
    assert_eq!(got[8], (17, "invalid type: integer `5`"));
}

#[test]
fn every_error_kind_has_a_hint() {
    // SAFETY: no other test reads this variable.
    unsafe { std::env::remove_var("RAFID_TEST_UNSET_TOKEN") };
    let text = "[server]\nlisten = \"192.0.2.1:8080\"\nadmin_token = \"env:RAFID_TEST_UNSET_TOKEN\"\n\
                base_url = \"ftp://x\"\n[poll]\ninterval = \"often\"\nconcurrency = 0\nmax_body = \"big\"\n\
                [[feed]]\nurl = \"example.org/feed\"\n[[feed]]\nurl = \"https://b.example/f\"\ntags = [\"a/b\"]\n\
                [[feed]]\nurl = \"https://B.example/f\"\n";
    let d = diags(text);
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 6, 7, 8, 10, 13, 15], "{d:#?}");
    for diag in &d {
        assert!(diag.hint.is_some(), "no hint: {diag}");
    }
    assert!(d[0].message.contains("no address 192.0.2.1"), "{}", d[0]);
    assert!(d[1].hint.as_deref().unwrap().contains("Environment="));
    assert!(d[8].message.contains("same feed as feed[1]"));
}

#[test]
fn rules_and_rivers_are_compiled() {
    let text = r#"
[[feed]]
url = "https://a.example/f"
tags = ["news"]
drop = { title = ["إعلان", "sponsored"], category = ["sport"] }

[[feed]]
url = "https://b.example/f"

[[feed]]
url = "https://c.example/f"
lang = ["AR"]

[[river]]
name = "economy"
tags = ["news"]
keep = { any = ["اقتصاد", "النفط", "regex:(?i)\boil\b"] }
lang = ["ar"]

[[river]]
name = "الكل"
"#;
    let cfg = parse(Path::new("r.toml"), text).unwrap();
    let rules = cfg.feeds[0].rules.as_ref().unwrap();
    assert_eq!(rules.rules().len(), 3);
    assert_eq!(cfg.feeds[2].rules.as_ref().unwrap().lang(), ["ar"]);
    assert!(cfg.feeds[1].rules.is_none());
    let economy = cfg.river("economy").unwrap();
    assert_eq!(economy.tags, ["news"]);
    assert_eq!(economy.rules.rules().len(), 3);
    assert_eq!(economy.rules.lang(), ["ar"]);
    assert_eq!(cfg.river_feeds(economy).count(), 1);
    let all = cfg.river("الكل").unwrap();
    assert!(all.rules.is_empty());
    assert_eq!(cfg.river_feeds(all).count(), 3);
    assert_eq!(cfg.rivers().len(), 2);
}

#[test]
fn bad_rules_and_rivers_name_line_and_column() {
    let text = "[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"news\"]\n\
                drop = { title = [\"regex:(oops\"] }\n\
                [[river]]\nname = \"a/b\"\n\
                [[river]]\nname = \"x\"\ntags = [\"nosuch\"]\nlang = [\"a r\"]\n\
                [[river]]\nname = \"x\"\nkeep = { any = [\"!!\"] }\n";
    let d = diags(text);
    let got: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(
        got,
        vec![(4, 19), (6, 8), (9, 9), (10, 9), (12, 8), (13, 17)],
        "{d:#?}"
    );
    assert!(
        d[0].message.starts_with("feed[0].drop.title: "),
        "{}",
        d[0].message
    );
    assert!(
        d[0].message.contains("not a valid regex"),
        "{}",
        d[0].message
    );
    assert!(
        d[1].message.contains("cannot name a river"),
        "{}",
        d[1].message
    );
    assert!(d[2].message.contains("no feed has the tag \"nosuch\""));
    assert!(d[3].message.contains("not a language tag"));
    assert!(d[4].message.contains("already names river[1]"));
    assert!(d[5].message.contains("no letters or digits"));
}

#[test]
fn page_keys_and_tokens_parse() {
    let c = parse(
        Path::new("t.toml"),
        "[output]\ntitle = \"نهر\"\ntimezone = \"Asia/Riyadh\"\npage_content = \"full\"\ntoken = \"abc\"\n\
         [[river]]\nname = \"r\"\ntitle = \"Economy\"\ntoken = \"def\"\n",
    )
    .unwrap();
    assert_eq!(c.output.lang, "ar", "from the title's script");
    assert!(c.output.arabic());
    assert_eq!(c.output.timezone.iana_name(), Some("Asia/Riyadh"));
    assert_eq!(c.output.page_content, PageContent::Full);
    assert_eq!(c.output.token, Some(Secret("abc".into())));
    assert_eq!(c.rivers[0].title.as_deref(), Some("Economy"));
    assert_eq!(c.rivers[0].token, Some(Secret("def".into())));
    assert!(
        !format!("{c:?}").contains("def"),
        "tokens stay out of Debug"
    );
    let d = parse(Path::new("t.toml"), "[output]\ntitle = \"My river\"\n").unwrap();
    assert_eq!(d.output.lang, "en");
    assert_eq!(d.output.timezone, jiff::tz::TimeZone::UTC);
    assert_eq!(d.output.page_content, PageContent::Summary);
    assert!(d.output.token.is_none());
    let e = parse(
        Path::new("t.toml"),
        "[output]\ntitle = \"نهر\"\nlang = \"en-GB\"\n",
    )
    .unwrap();
    assert_eq!(e.output.lang, "en-gb");
    assert!(!e.output.arabic());
}

#[test]
fn bad_page_keys_and_tokens_name_line_and_column() {
    let text = "[output]\nlang = \"fr\"\ntimezone = \"Asia/Riyad\"\npage_content = \"all\"\ntoken = \"\"\n\
                [[river]]\nname = \"r\"\ntoken = \"env:RAFID_TEST_NO_SUCH_TOKEN\"\n";
    let d = diags(text);
    let got: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(
        got,
        vec![(2, 8), (3, 12), (4, 16), (5, 9), (8, 9)],
        "{d:#?}"
    );
    assert!(d[0].message.starts_with("output.lang: "), "{}", d[0]);
    assert!(
        d[1].message.starts_with("output.timezone: \"Asia/Riyad\""),
        "{}",
        d[1]
    );
    assert_eq!(d[1].hint.as_deref(), Some("did you mean \"Asia/Riyadh\"?"));
    assert!(
        d[2].message.starts_with("output.page_content: "),
        "{}",
        d[2]
    );
    assert!(d[3].message.contains("the token is empty"), "{}", d[3]);
    assert!(d[4].message.starts_with("river[0].token: "), "{}", d[4]);
    assert!(d.iter().all(|d| d.hint.is_some()), "{d:#?}");
}

#[test]
fn unknown_rule_field_is_an_error() {
    let d = diags("[[feed]]\nurl = \"https://a.example/f\"\ndrop = { colour = [\"red\"] }\n");
    assert_eq!(d[0].line, 3);
    assert!(d[0].message.contains("colour"), "{}", d[0].message);
}

#[test]
fn dedup_keys_parse_and_default() {
    let cfg = parse(Path::new("rafid.toml"), "").unwrap();
    assert_eq!(cfg.dedup.threshold, crate::dedup::near::DEFAULT_THRESHOLD);
    assert!(cfg.dedup.boilerplate.iter().any(|b| b == "المصدر"));
    let text = "[dedup]\nthreshold = 0.75\nboilerplate = [\"حقوق النشر\"]\n\
                [[feed]]\nurl = \"https://a.example/f\"\ndedup = false\n\
                [[feed]]\nurl = \"https://b.example/f\"\n";
    let cfg = parse(Path::new("rafid.toml"), text).unwrap();
    assert_eq!(cfg.dedup.threshold, 0.75);
    assert_eq!(cfg.dedup.boilerplate, ["حقوق النشر"]);
    assert!(!cfg.feeds[0].dedup);
    assert!(cfg.feeds[1].dedup);
}

#[test]
fn the_dictionary_path_defaults_and_must_not_be_empty() {
    let cfg = parse(Path::new("rafid.toml"), "").unwrap();
    assert_eq!(
        cfg.dedup.dictionary,
        Path::new(crate::dedup::near::xling::DEFAULT_DICTIONARY)
    );
    let cfg = parse(
        Path::new("rafid.toml"),
        "[dedup]\ndictionary = \"/opt/dict/ara-eng\"\n",
    )
    .unwrap();
    assert_eq!(cfg.dedup.dictionary, Path::new("/opt/dict/ara-eng"));
    assert!(!cfg.dedup.cross_language, "off until asked for");
    let cfg = parse(Path::new("rafid.toml"), "[dedup]\ncross_language = true\n").unwrap();
    assert!(cfg.dedup.cross_language);
    assert!(cfg.near_dup().cross_language.is_some());
    let e = parse(Path::new("rafid.toml"), "[dedup]\ndictionary = \" \"\n").unwrap_err();
    assert!(e.to_string().contains("dedup.dictionary"), "{e}");
}

#[test]
fn feed_priority_parses_defaults_and_is_bounded() {
    let text = "[[feed]]\nurl = \"https://a.example/f\"\npriority = 7\n\
                [[feed]]\nurl = \"https://b.example/f\"\n";
    let cfg = parse(Path::new("rafid.toml"), text).unwrap();
    assert_eq!((cfg.feeds[0].priority, cfg.feeds[1].priority), (7, 0));
    let d = diags("[[feed]]\nurl = \"https://a.example/f\"\npriority = 99999\n");
    assert_eq!((d[0].line, d[0].column), (3, 12), "{d:#?}");
    assert!(d[0].message.contains("feed[0].priority"), "{d:#?}");
}

#[test]
fn dedup_threshold_out_of_range_names_its_place() {
    for bad in ["0", "1.5", "-0.2"] {
        let d = diags(&format!("[dedup]\nthreshold = {bad}\n"));
        assert_eq!((d[0].line, d[0].column), (2, 13), "{bad}: {d:#?}");
        assert!(
            d[0].message.starts_with("dedup.threshold"),
            "{}",
            d[0].message
        );
    }
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("16MiB"), Some(16 << 20));
    assert_eq!(parse_size("512 KiB"), Some(512 << 10));
    assert_eq!(parse_size("2MB"), Some(2_000_000));
    assert_eq!(parse_size("1000"), Some(1000));
    assert_eq!(parse_size("lots"), None);
}

#[test]
fn secrets_resolve_and_stay_hidden() {
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("RAFID_TEST_SECRET_A", "hunter2") };
    assert_eq!(
        resolve_secret("env:RAFID_TEST_SECRET_A").unwrap(),
        "hunter2"
    );
    assert!(resolve_secret("env:RAFID_TEST_SECRET_UNSET").is_err());
    assert_eq!(resolve_secret("plain").unwrap(), "plain");
    assert_eq!(format!("{:?}", Secret("x".into())), "Secret(***)");
}

#[test]
fn urls_are_redacted() {
    let u = Url::parse("https://me:pw@example.org/feed?token=abc&page=2&api_key=k").unwrap();
    let shown = redact_url(&u);
    assert!(!shown.contains("pw"));
    assert!(!shown.contains("abc"));
    assert!(!shown.contains("=k"));
    assert!(shown.contains("page="));
    // Every query value, whatever its name.
    for name in ["client_secret", "pwd", "jwt", "code", "hash", "k", "x-auth"] {
        let u = Url::parse(&format!("https://example.org/feed?{name}=s3cr3t-{name}&a")).unwrap();
        let shown = redact_url(&u);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains(&format!("{name}=redacted")), "{shown}");
    }
    assert_eq!(
        redact_str("https://example.org/feed.xml"),
        "https://example.org/feed.xml"
    );
}

#[test]
fn a_header_value_with_a_line_break_is_refused_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "first-line\nsecond-line\n").unwrap();
    let text = format!(
        "[[feed]]\nurl = \"https://a.example/f\"\nheaders = {{ \"X-Key\" = \"a\\nb\" }}\n\
         [[feed]]\nurl = \"https://b.example/f\"\nheaders = {{ \"X-Key\" = \"file:{}\" }}\n",
        key.display()
    );
    let d = diags(&text);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!((d[0].line, d[0].column), (3, 23), "{}", d[0]);
    assert!(d[0].message.contains("feed[0].headers.X-Key"), "{}", d[0]);
    assert!(d[0].message.contains("line break"), "{}", d[0]);
    assert_eq!((d[1].line, d[1].column), (6, 23), "{}", d[1]);
    assert!(d[1].message.contains("more than one line"), "{}", d[1]);
    std::fs::write(&key, "one-line\n").unwrap();
    let cfg = parse(Path::new("rafid.toml"), &text.replace("\\nb", "b"));
    let cfg = cfg.unwrap();
    assert_eq!(cfg.feeds[1].headers[0].1.0, "one-line");
}

#[test]
fn diagnostics_never_show_credentials() {
    let text = "[server]\nadmin_token = \"tooshort-123\"\n\
                [[feed]]\nurl = \"https://a.example/f\"\nheaders = { \"Bad Name\" = \"hunter2-header\" }\n\
                [[feed]]\nurl = \"https://b.example/f\"\nauth = \"me:hunter2-auth\"\n\
                [[feed]]\nurl = \"https://c.example/f\"\n[feed.headers]\n\"Bad Name\" = \"hunter2-table\"\n";
    let d = diags(text);
    assert_eq!(d.len(), 4, "{d:#?}");
    let shown: String = d.iter().map(|d| format!("{d}\n")).collect();
    for secret in ["tooshort-123", "hunter2"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    // The caret still points at the value.
    assert!(
        shown.contains("    admin_token = \"************\"\n                  ^"),
        "{shown}"
    );
    // References to where a secret is are shown.
    let d = diags(
        "[[feed]]\nurl = \"https://a.example/f\"\nheaders = { \"Bad Name\" = \"env:FEED_KEY\" }\n",
    );
    assert!(d[0].source_line.contains("\"env:FEED_KEY\""), "{d:#?}");
}

#[test]
fn user_info_in_the_url_and_auth_together_are_refused() {
    let d = diags(
        "[[feed]]\nurl = \"https://u:p@a.example/f\"\nauth = { user = \"me\", password = \"pw\" }\n",
    );
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].line, 3);
    assert!(d[0].message.contains("feed[0].auth"), "{}", d[0]);
    assert!(!d[0].to_string().contains("pw\""), "{}", d[0]);
    assert!(
        parse(
            Path::new("rafid.toml"),
            "[[feed]]\nurl = \"https://a.example/f\"\nauth = { user = \"me\", password = \"pw\" }\n"
        )
        .is_ok()
    );
}

#[test]
fn the_admin_token_has_at_least_16_bytes() {
    let d = diags("[server]\nadmin_token = \"ab\"\n");
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.contains("server.admin_token"), "{}", d[0]);
    let ok = parse(
        Path::new("rafid.toml"),
        "[server]\nadmin_token = \"0123456789abcdef\"\n",
    )
    .unwrap();
    assert_eq!(ok.server.admin_token.unwrap().0.len(), 16);
}

#[test]
fn commands_that_do_not_serve_need_no_admin_token() {
    // SAFETY: no other test reads this variable.
    unsafe { std::env::remove_var("RAFID_TEST_UNSET_OFFLINE_TOKEN") };
    let text = "[server]\nadmin_token = \"env:RAFID_TEST_UNSET_OFFLINE_TOKEN\"\n";
    let p = Path::new("rafid.toml");
    assert!(parse_for(p, text, Purpose::Serve).is_err());
    let cfg = parse_for(p, text, Purpose::Offline).unwrap();
    assert!(cfg.server.admin_token.is_none());
    // Other errors are still errors.
    assert!(parse_for(p, "[server]\nadmin_token = \"ab\"\n", Purpose::Offline).is_err());
}

#[test]
fn the_storage_backend_and_its_url_are_checked_and_the_url_never_shown() {
    let ok = parse(
        Path::new("rafid.toml"),
        "[storage]\nbackend = \"postgres\"\nurl = \"postgres://rafid:pw-123@db.internal/feeds\"\n",
    )
    .unwrap();
    assert_eq!(
        ok.storage.backend,
        StorageBackend::Postgres {
            url: Secret("postgres://rafid:pw-123@db.internal/feeds".into())
        }
    );
    assert!(!format!("{ok:?}").contains("pw-123"));
    assert_eq!(
        parse(Path::new("rafid.toml"), "").unwrap().storage.backend,
        StorageBackend::Sled
    );
    for (text, says) in [
        ("[storage]\nbackend = \"postgres\"\n", "needs storage.url"),
        ("[storage]\nbackend = \"mysql\"\n", "is not a backend"),
        (
            "[storage]\nurl = \"postgres://rafid:pw-123@db/x\"\n",
            "only read with backend",
        ),
        (
            "[storage]\nbackend = \"postgres\"\nurl = \"mysql://rafid:pw-123@db:x/feeds\"\n",
            "not a PostgreSQL URL",
        ),
        (
            "[storage]\nbackend = \"postgres\"\nurl = \"env:RAFID_TEST_UNSET_DATABASE\"\n",
            "RAFID_TEST_UNSET_DATABASE is not set",
        ),
    ] {
        let d = diags(text);
        let shown: String = d.iter().map(|d| format!("{d}\n")).collect();
        assert_eq!(d.len(), 1, "{shown}");
        assert!(shown.contains(says), "{text}: {shown}");
        assert!(!shown.contains("pw-123"), "{shown}");
    }
}

#[test]
fn feeds_are_found_by_url_through_the_index_and_after_feeds_change() {
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "[[feed]]\nurl = \"https://f{i}.example/rss\"\npriority = {}\ndedup = {}\n",
            i % 3,
            i % 7 != 0
        ));
    }
    let mut cfg = parse(Path::new("rafid.toml"), &text).unwrap();
    for i in 0..50 {
        let url = format!("https://f{i}.example/rss");
        assert_eq!(cfg.feed(&url).map(|f| f.key()), Some(url.as_str()));
    }
    assert!(cfg.feed("https://f50.example/rss").is_none());
    // The derived lookups agree with the feeds they came from.
    let prio = cfg.priorities();
    assert_eq!(prio.len(), 33);
    assert_eq!(prio.get("https://f4.example/rss"), Some(&1));
    assert_eq!(cfg.near_dup().opted_out.len(), 8);
    // Feeds changed after the first lookup are still found, and a feed
    // removed is not found at its old place.
    let last = cfg.feeds.pop().unwrap();
    cfg.feeds.swap(0, 1);
    cfg.feeds.insert(
        5,
        FeedConfig::for_url(url::Url::parse("https://new.example/").unwrap()),
    );
    assert!(cfg.feed("https://new.example/").is_some());
    assert_eq!(
        cfg.feed("https://f0.example/rss").map(|f| f.key()),
        Some("https://f0.example/rss")
    );
    assert!(cfg.feed(last.key()).is_none());
    // A clone builds its own.
    let mut other = cfg.clone();
    other.feeds.truncate(1);
    assert_eq!(other.priorities().len(), 1);
}
