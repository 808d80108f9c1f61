//! How an error that stopped a command is shown: each cause once, and a
//! next step when the cause has an obvious one (the flag to use, the
//! command to start).

use std::io::ErrorKind;

/// The error's message and its causes, joined by `": "`, leaving out a
/// cause whose text the message before it already quotes (a library error
/// that prints its I/O source and also returns it as `source()` would
/// otherwise say "No such file or directory (os error 2)" twice).
pub(crate) fn message(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// What to do next, when a cause of `error` says: a taken address points
/// to `--listen`, an unreachable collector to `candor serve`.
pub(crate) fn hint(error: &anyhow::Error) -> Option<&'static str> {
    for cause in error.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::AddrInUse => return Some(ADDRESS_TAKEN),
                ErrorKind::AddrNotAvailable => return Some(ADDRESS_NOT_HERE),
                ErrorKind::ConnectionRefused => return Some(UNREACHABLE),
                _ => {}
            }
        }
        if let Some(http) = cause.downcast_ref::<ureq::Error>()
            && unreachable(http)
        {
            return Some(UNREACHABLE);
        }
    }
    // Libraries that flatten an I/O error into their message (the
    // simulator's and the load generator's key fetch) keep its text.
    let text = message(error);
    if text.contains("Connection refused") {
        return Some(UNREACHABLE);
    }
    if text.contains("Address already in use") {
        return Some(ADDRESS_TAKEN);
    }
    None
}

/// Whether an HTTP client error means nothing answered at the address.
pub(crate) fn unreachable(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset | ErrorKind::NotConnected
        ),
        _ => false,
    }
}

/// The hint for an address another process listens on.
const ADDRESS_TAKEN: &str = "another program listens on that address (a `candor serve` or \
`candor demo` still running?): stop it (Ctrl-C, or `kill %1` for a background job), or \
choose another address with --listen, e.g. --listen 127.0.0.1:8751 or --listen 8751";

/// The hint for an address that is not this machine's.
const ADDRESS_NOT_HERE: &str = "that address is not one of this machine's: listen on \
--listen 127.0.0.1:PORT (this machine only) or --listen 0.0.0.0:PORT (every interface)";

/// The hint for a collector that does not answer.
pub(crate) const UNREACHABLE: &str = "nothing answers there: start a collector with \
`candor serve` (or `candor demo`) in another terminal, or give the collector's address \
with --url";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_cause_is_shown_once() {
        let io = std::io::Error::from(ErrorKind::NotFound);
        let shown = io.to_string();
        // Like a library error that quotes its source and returns it too.
        #[derive(Debug)]
        struct Read {
            source: std::io::Error,
        }
        impl std::fmt::Display for Read {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot read schema x.toml: {}", self.source)
            }
        }
        impl std::error::Error for Read {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let error = anyhow::Error::new(Read { source: io }).context("loading the schema");
        let text = message(&error);
        assert_eq!(text.matches(&shown).count(), 1, "{text}");
        assert!(text.starts_with("loading the schema: cannot read schema x.toml"));
    }

    #[test]
    fn a_taken_address_points_to_listen_and_a_refused_connection_to_serve() {
        let taken = anyhow::Error::new(std::io::Error::from(ErrorKind::AddrInUse))
            .context("cannot listen on 127.0.0.1:8750");
        assert!(hint(&taken).expect("a hint").contains("--listen"));
        let refused = anyhow::Error::new(std::io::Error::from(ErrorKind::ConnectionRefused))
            .context("cannot reach the collector");
        assert!(hint(&refused).expect("a hint").contains("candor serve"));
        assert!(hint(&anyhow::anyhow!("something else")).is_none());
        let flattened = anyhow::anyhow!(
            "fetching the keys from http://127.0.0.1:1/v1/regions/eu/keys: io: Connection refused (os error 111)"
        );
        assert_eq!(hint(&flattened), Some(UNREACHABLE));
    }
}
