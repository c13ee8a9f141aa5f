//! `[server]`: the address rafid listens on, the URL it is reached at, the
//! admin token, and what a connection may take.

use std::net::SocketAddr;
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::Validator;
use crate::config::raw::RawServer;
use crate::config::{Purpose, ServerConfig, default_base_url, resolve_secret};

/// The shortest `server.admin_token` accepted.
pub const MIN_ADMIN_TOKEN: usize = 16;

impl Validator<'_> {
    pub(super) fn server(&mut self, raw: &RawServer) -> ServerConfig {
        let listen = match &raw.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => match v.get_ref().parse::<SocketAddr>() {
                Ok(a) => {
                    self.usable_listen(v, a);
                    a
                }
                Err(_) => {
                    self.error(
                        v.span(),
                        format!(
                            "server.listen: {:?} is not an address; write IP:PORT, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"",
                            v.get_ref()
                        ),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 8080))
                }
            },
        };
        let base_url = match &raw.base_url {
            None => Some(default_base_url(listen)),
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "server.base_url: {:?} is not an http(s) URL; write e.g. \"https://example.org/rafid/\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let mut base_url = base_url
            .or_else(|| Url::parse("http://127.0.0.1:8080/").ok())
            .unwrap_or_else(unreachable_url);
        if !base_url.path().ends_with('/') {
            let p = format!("{}/", base_url.path());
            base_url.set_path(&p);
        }
        let admin_token = raw.admin_token.as_ref().and_then(|v| {
            if self.purpose == Purpose::Offline && resolve_secret(v.get_ref()).is_err() {
                return None;
            }
            let token = self.secret("server.admin_token", v);
            if !token.0.is_empty() && token.0.len() < MIN_ADMIN_TOKEN {
                self.error(
                    v.span(),
                    format!(
                        "server.admin_token: {} bytes is too short to keep guessers out; use at least {MIN_ADMIN_TOKEN}, e.g. from `openssl rand -hex 32`",
                        token.0.len()
                    ),
                );
            }
            Some(token)
        });
        let read_timeout = self.duration(
            "server.read_timeout",
            &raw.read_timeout,
            Duration::from_secs(10),
        );
        let idle_timeout = self.duration(
            "server.idle_timeout",
            &raw.idle_timeout,
            Duration::from_secs(60),
        );
        let max_connections =
            self.count("server.max_connections", &raw.max_connections, 1024, 1) as usize;
        ServerConfig {
            listen,
            base_url,
            admin_token,
            read_timeout,
            idle_timeout,
            max_connections,
        }
    }

    /// An address this machine cannot listen on is reported now, not when
    /// the daemon starts. Port 0 of the same IP answers whether the IP is
    /// ours without touching the port a running daemon may hold; a port
    /// below 1024 is tried itself (a port in use is not a config error).
    fn usable_listen(&mut self, v: &Spanned<String>, addr: SocketAddr) {
        use std::io::ErrorKind;
        use std::net::TcpListener;
        if let Err(e) = TcpListener::bind(SocketAddr::new(addr.ip(), 0)) {
            if e.kind() == ErrorKind::AddrNotAvailable {
                self.error(
                    v.span(),
                    format!(
                        "server.listen: this machine has no address {}; write \"127.0.0.1:{port}\" for this machine only, or \"0.0.0.0:{port}\" for all its addresses",
                        addr.ip(),
                        port = addr.port()
                    ),
                );
                return;
            }
        }
        if addr.port() != 0 && addr.port() < 1024 {
            if let Err(e) = TcpListener::bind(addr) {
                if e.kind() == ErrorKind::PermissionDenied {
                    self.error(
                        v.span(),
                        format!(
                            "server.listen: port {} needs privileges rafid does not have; use a port above 1023 (e.g. 8080), with a reverse proxy in front for ports 80 and 443",
                            addr.port()
                        ),
                    );
                }
            }
        }
    }
}

fn unreachable_url() -> Url {
    // A literal that parses: used only if every other choice failed.
    Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("literal URL parses"))
}
