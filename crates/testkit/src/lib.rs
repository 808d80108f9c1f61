//! Where Candor's tests find the real services some of them need, and
//! what they do when a service is absent.
//!
//! Tests of the PostgreSQL store and of the NATS JetStream queue run
//! against the real servers at their usual local addresses, or at the
//! addresses in `CANDOR_TEST_POSTGRES_URL` / `CANDOR_TEST_NATS_URL`. When a
//! server does not answer, a test calls [`Service::get`], which writes a
//! loud `SKIPPED <test>: <why>` line straight to the process's stderr (not
//! through `eprintln!`, which the test harness captures and shows only for
//! failing tests, so the line appears in `cargo test`'s output even for a
//! test that passed by skipping) and returns `None`, so `cargo test
//! --workspace` still passes on a machine with only the embedded default.
//!
//! With `CANDOR_REQUIRE_SERVICES=1` (set by `.ci/run`, which starts the
//! servers first) an absent server is a test failure instead: CI never
//! silently skips them.
//!
//! Its [`tls`] module makes a throw-away CA and server certificates for
//! the tests of TLS serving and certificate verification.
//!
//! ```no_run
//! let Some(url) = candor_testkit::POSTGRES.get("the store conformance suite") else {
//!     return; // skipped, and said so on stderr
//! };
//! # let _ = url;
//! ```

pub mod tls;

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A server some tests need.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// Its name in messages.
    pub name: &'static str,
    /// The environment variable that overrides its address.
    pub env: &'static str,
    /// The address used when the variable is unset.
    pub default_url: &'static str,
    /// How to start it on a Debian machine like CI's.
    pub start: &'static str,
}

/// PostgreSQL, trust authentication, database `test`.
pub const POSTGRES: Service = Service {
    name: "PostgreSQL",
    env: "CANDOR_TEST_POSTGRES_URL",
    default_url: "postgres://postgres@127.0.0.1:5432/test",
    start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
};

/// NATS with JetStream enabled.
pub const NATS: Service = Service {
    name: "NATS JetStream",
    env: "CANDOR_TEST_NATS_URL",
    default_url: "nats://127.0.0.1:4222",
    start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server",
};

/// The variable that turns an absent service into a failure.
pub const REQUIRE_ENV: &str = "CANDOR_REQUIRE_SERVICES";

impl Service {
    /// The configured URL (the variable, else the default).
    pub fn url(&self) -> String {
        std::env::var(self.env)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| self.default_url.to_owned())
    }

    /// The URL if the server accepts a TCP connection within a second;
    /// otherwise prints why `test` is skipped and returns `None`, or panics
    /// when [`REQUIRE_ENV`] is set.
    ///
    /// # Panics
    /// When the server is absent and [`REQUIRE_ENV`] is `1`.
    pub fn get(&self, test: &str) -> Option<String> {
        let url = self.url();
        if reachable(&url) {
            return Some(url);
        }
        let why = format!(
            "{} is not reachable at {} (set {} to its URL, or start it: {})",
            self.name,
            redact(&url),
            self.env,
            self.start
        );
        if required() {
            panic!("{test} needs {why}; {REQUIRE_ENV}=1 makes that a failure");
        }
        // Written to the stderr handle itself: the harness's capture only
        // intercepts the print macros.
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
        None
    }
}

/// Whether absent services fail the tests (`CANDOR_REQUIRE_SERVICES=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Whether something listens at the URL's host and port.
fn reachable(url: &str) -> bool {
    let Some((host, port)) = host_port(url) else {
        return false;
    };
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// Host and port of `scheme://[user[:password]@]host[:port][/…]` (schemes
/// `postgres`, `postgresql` and `nats`); the port defaults by scheme. Tests
/// that put a relay in front of a service connect to it with this.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let default_port = match scheme {
        "postgres" | "postgresql" => 5432,
        "nats" => 4222,
        _ => return None,
    };
    match host_port.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((host_port.to_owned(), default_port)),
    }
}

/// The URL without a password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, tail)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_from_urls() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/test"),
            Some(("127.0.0.1".into(), 5432))
        );
        assert_eq!(
            host_port("postgres://u:secret@db.local/x"),
            Some(("db.local".into(), 5432))
        );
        assert_eq!(
            host_port("nats://127.0.0.1:4223"),
            Some(("127.0.0.1".into(), 4223))
        );
        assert_eq!(host_port("http://x"), None);
    }

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn an_absent_service_is_skipped_unless_required() {
        let closed = Service {
            name: "nothing",
            env: "CANDOR_TESTKIT_SELF_TEST_URL_UNSET",
            // Port 1 on loopback: nothing listens there.
            default_url: "nats://127.0.0.1:1",
            start: "nothing to start",
        };
        if !required() {
            assert_eq!(closed.get("the testkit's own test"), None);
        }
    }
}
