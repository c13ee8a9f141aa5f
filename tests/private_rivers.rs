//! Rivers (and the main feed) guarded by a token: served only to requests
//! that carry it, named on no page that does not, and revoked by a reload
//! that rotates it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{FeedServer, rewrite, start_daemon};

fn config_text(dir: &Path, feed: &str, river_token: &str, output_token: Option<&str>) -> String {
    let output_token = output_token
        .map(|t| format!("token = {t:?}\n"))
        .unwrap_or_default();
    format!(
        "[storage]\npath = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://rafid.test/\"\n\
         [poll]\nmin_interval = \"1s\"\n[output]\ntitle = \"نهر\"\n{output_token}\
         [[feed]]\nurl = {feed:?}\ninterval = \"1s\"\ntags = [\"news\"]\n\
         [[river]]\nname = \"open\"\n\
         [[river]]\nname = \"insiders\"\ntitle = \"Insiders only\"\ntoken = {river_token:?}\n",
        dir.join("data").display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_rivers_need_their_token_are_listed_nowhere_public_and_rotate_on_reload() {
    let server = FeedServer::start().await;
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    let feed = server.url("/rss.xml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rafid.toml");
    std::fs::write(&path, config_text(dir.path(), &feed, "tok 1&x", None)).unwrap();
    let config = rafid::config::load(&path).unwrap();
    let daemon = start_daemon(config).await;
    let base = format!("http://{}", daemon.addr);
    let get = |p: String| {
        let (client, url) = (daemon.client.clone(), format!("{base}{p}"));
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let wait_for = |what: &'static str, path: String, want: u16| async move {
        let start = Instant::now();
        loop {
            let (code, body) = get(path.clone()).await;
            if code == want && (want != 200 || body.contains("<entry")) {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}: {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    wait_for("the first poll", "/feed.atom".into(), 200).await;

    // Without the token, or with a wrong one: 401, in every format.
    for ext in ["atom", "rss", "json", "html"] {
        for q in ["", "?token=tok", "?token=tok+1%26", "?token=tok+1%26xx"] {
            let (code, body) = get(format!("/rivers/insiders.{ext}{q}")).await;
            assert_eq!(code, 401, "{ext}{q}: {body}");
            assert!(!body.contains("Insiders"), "{body}");
        }
    }
    // With it: the river, whose own links carry the token.
    let atom = wait_for(
        "the private river",
        "/rivers/insiders.atom?token=tok+1%26x".into(),
        200,
    )
    .await;
    assert!(atom.contains("Insiders only"), "{atom}");
    assert!(
        atom.contains("href=\"http://rafid.test/rivers/insiders.atom?token=tok+1%26x\""),
        "{atom}"
    );
    let page = get("/rivers/insiders.html?token=tok+1%26x".into()).await;
    assert_eq!(page.0, 200);
    assert!(page.1.contains("/rivers/insiders.rss?token=tok+1%26x"));
    let bearer = daemon
        .client
        .get(format!("{base}/rivers/insiders.json"))
        .bearer_auth("tok 1&x")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
    // No shared cache may keep it for requests without the token.
    assert_eq!(
        bearer.headers()["cache-control"].to_str().unwrap(),
        "private, max-age=60"
    );

    // No public output names it.
    let public = [
        "/",
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
        "/opml",
        "/tags/news.html",
        "/tags/news.atom",
        "/rivers/open.html",
        "/rivers/open.json",
    ];
    for p in public {
        let (code, body) = get(p.to_string()).await;
        assert_eq!(code, 200, "{p}");
        assert!(
            !body.contains("insiders") && !body.contains("Insiders"),
            "{p} names the private river: {body}"
        );
    }
    assert!(get("/".into()).await.1.contains("/rivers/open.html"));

    // A new token in the config: once reloaded, the old one opens nothing.
    rewrite(&path, &config_text(dir.path(), &feed, "tok-2", None));
    wait_for(
        "the new token",
        "/rivers/insiders.atom?token=tok-2".into(),
        200,
    )
    .await;
    let (old, _) = get("/rivers/insiders.atom?token=tok+1%26x".into()).await;
    assert_eq!(old, 401, "the old token still opens the river");

    // The main feed guarded too: its feeds, page, tags and subscription
    // list need its token; a public river names none of them.
    rewrite(
        &path,
        &config_text(dir.path(), &feed, "tok-2", Some("main-tok")),
    );
    wait_for("the main feed's token", "/feed.atom".into(), 401).await;
    for p in [
        "/",
        "/feed.json",
        "/opml",
        "/tags/news.atom",
        "/tags/news.html",
    ] {
        assert_eq!(get(p.to_string()).await.0, 401, "{p}");
        let with = format!("{p}?token=main-tok");
        assert_eq!(get(with.clone()).await.0, 200, "{with}");
    }
    let main = get("/?token=main-tok".into()).await.1;
    assert!(main.contains("/tags/news.html?token=main-tok"), "{main}");
    assert!(main.contains("/opml?token=main-tok"), "{main}");
    assert!(!main.contains("insiders"), "{main}");
    let open = get("/rivers/open.html".into()).await;
    assert_eq!(open.0, 200);
    assert!(
        !open.1.contains("feed.atom") && !open.1.contains("/tags/") && !open.1.contains("/opml"),
        "a public page links to guarded outputs: {}",
        open.1
    );

    daemon.stop().await;
}
