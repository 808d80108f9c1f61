//! The canonical registrable domain: the one form a `domain_set` value may
//! take, produced by the SDK's URL sanitizer and checked again by the
//! collector, through the functions of this module.
//!
//! A string `d` is a **canonical registrable domain** when
//! [`check_canonical`] accepts it, which holds exactly when:
//!
//! - `d` is already a host in WHATWG URL form (the `url` crate's
//!   [`Host::parse`](url::Host::parse)): lowercase, IDNs as A-labels
//!   (`xn--…`), and parsing it changes nothing;
//! - it is not an IP literal in any form (`1.2.3.4`, `192.168.1.1`,
//!   `0x7f.1`, `[::1]`);
//! - it has no trailing dot and no empty label, and is a letter-digit-hyphen
//!   name of at least two labels within the DNS limits (253 bytes, 63 per
//!   label);
//! - it is not `localhost` or a private or special-use name (see
//!   [`PRIVATE_SUFFIXES`]);
//! - its top-level label is known to the Public Suffix List compiled into
//!   the `psl` crate (ICANN **and** private sections), it is not itself a
//!   public suffix (`co.uk`, `github.io`), and it is its own registrable
//!   domain: `www.example.com`, `user-12345.example.com` and
//!   `a.b.c.example.com` are refused (their registrable domain is
//!   `example.com`), while `user.github.io` and `www.gov.uk` are canonical
//!   (`github.io` and `gov.uk` are suffixes).
//!
//! In other words `d` is canonical exactly when the sanitizer maps the host
//! `d` to `d` itself ([`of_host`] is that map). The SDK and the collector
//! link the same `psl` build (one version in Cargo.lock), so they agree on
//! every name.

use url::Host;

/// DNS limit on a whole name in presentation form without the root dot
/// (RFC 1035 §2.3.4: 255 octets on the wire).
const MAX_DOMAIN_LEN: usize = 253;

/// DNS limit on one label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Suffixes that name a private network or a non-web namespace. A host equal
/// to one of them or ending in `.` + one of them is [`Rejection::PrivateHost`].
pub const PRIVATE_SUFFIXES: &[&str] = &[
    // mDNS / Bonjour link-local names (RFC 6762): printers, NAS boxes, laptops.
    "local",
    // Default domain of many /etc/hosts files and DHCP setups.
    "localdomain",
    // Reserved by ICANN (2024) for private use, like 10.0.0.0/8 for names.
    "internal",
    // De-facto private namespaces of home routers and enterprises. ICANN
    // refused to delegate `home` and `corp` because of their name-collision
    // risk; `lan`, `intranet` and `private` are common router/AD defaults.
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
    // Reserved for testing and documentation (RFC 2606, RFC 6761).
    "test",
    "example",
    "invalid",
    // Tor onion services (RFC 7686). Listed in the PSL, but an onion address
    // names one hidden service, often personal, and Tor users expect not to
    // be measured.
    "onion",
    // Non-DNS namespaces (RFC 9476).
    "alt",
    // Infrastructure, never a web site: `home.arpa` is the home-network
    // domain (RFC 8375) and `in-addr.arpa` / `ip6.arpa` are reverse-DNS names,
    // i.e. IP addresses in disguise. All of `arpa` is refused.
    "arpa",
];

/// Why a URL or a host has no domain that may be reported; the SDK counts
/// each under [`Rejection::code`], and the collector names it when it
/// refuses a `domain_set` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a URL by the WHATWG URL standard (including relative input such
    /// as a bare `example.com`, an empty host, a bad port), or a host that is
    /// not a valid DNS host name (e.g. `foo_bar.com`, empty labels).
    #[error("not a parseable absolute URL with a valid host name")]
    Unparseable,
    /// Scheme other than `http` or `https`: `file:`, `data:`, `about:`,
    /// `chrome:`, `javascript:`, `ftp:`, `blob:`, `ws:`, `mailto:`, ...
    #[error("scheme is not http or https")]
    NotWeb,
    /// Host is an IPv4 address in any form (dotted, decimal, octal, hex,
    /// shortened) or an IPv6 address.
    #[error("host is an IP address literal")]
    IpLiteral,
    /// Host is `localhost`, a name under `.localhost`, or
    /// `localhost.localdomain`.
    #[error("host is localhost")]
    Localhost,
    /// Host has a single label (an intranet name such as `http://router/`).
    #[error("host is a single-label name")]
    SingleLabel,
    /// Host is under a private or special-use suffix: `.local`,
    /// `.localdomain`, `.internal`, `.lan`, `.home`, `.corp`, `.intranet`,
    /// `.private`, `.test`, `.example`, `.invalid`, `.onion`, `.alt`, `.arpa`
    /// (including `.home.arpa` and reverse-DNS names).
    #[error("host is under a private or special-use suffix")]
    PrivateHost,
    /// Host is itself a public suffix (`co.uk`, `github.io`,
    /// `s3.amazonaws.com`), or its top-level label is not a suffix known to
    /// the Public Suffix List.
    #[error("host has no registrable domain under a known public suffix")]
    NoRegistrableDomain,
    /// Input longer than the SDK's URL limit (`candor_sdk::sanitize::MAX_URL_LEN`)
    /// or this module's, or a registrable domain over
    /// the DNS limits (253 bytes, 63 per label).
    #[error("input or domain is too long")]
    TooLong,
}

impl Rejection {
    /// Every variant, in declaration order, so the SDK can pre-register one
    /// counter per code.
    pub const ALL: [Rejection; 8] = [
        Rejection::Unparseable,
        Rejection::NotWeb,
        Rejection::IpLiteral,
        Rejection::Localhost,
        Rejection::SingleLabel,
        Rejection::PrivateHost,
        Rejection::NoRegistrableDomain,
        Rejection::TooLong,
    ];

    /// Stable `snake_case` code, used as the SDK's error-counter label. Codes
    /// are part of the metrics contract: never rename one.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Unparseable => "unparseable",
            Rejection::NotWeb => "not_web",
            Rejection::IpLiteral => "ip_literal",
            Rejection::Localhost => "localhost",
            Rejection::SingleLabel => "single_label",
            Rejection::PrivateHost => "private_host",
            Rejection::NoRegistrableDomain => "no_registrable_domain",
            Rejection::TooLong => "too_long",
        }
    }
}

/// The registrable domain of a host that WHATWG URL parsing already
/// canonicalised (lowercase, A-labels): what the SDK's sanitizer keeps of a
/// URL. A trailing dot is ignored; every label left of the registrable
/// domain is dropped.
///
/// # Errors
/// A [`Rejection`] when the host has no domain that may be reported:
/// localhost, a single-label or private name, a public suffix alone, a
/// top-level label unknown to the Public Suffix List, or a name that breaks
/// the DNS rules.
pub fn of_host(host: &str) -> Result<String, Rejection> {
    // `example.com.` is the same name as `example.com` (fully qualified).
    let host = host.strip_suffix('.').unwrap_or(host);
    // Empty labels (`a..com`, `example.com..`) are tolerated by WHATWG but
    // are not DNS names; refusing them also keeps the PSL lookup meaningful.
    if host.split('.').any(str::is_empty) {
        return Err(Rejection::Unparseable);
    }
    if host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain" {
        return Err(Rejection::Localhost);
    }
    if !host.contains('.') {
        return Err(Rejection::SingleLabel);
    }
    if PRIVATE_SUFFIXES.iter().any(|suffix| is_under(host, suffix)) {
        return Err(Rejection::PrivateHost);
    }
    let suffix = psl::suffix(host.as_bytes()).ok_or(Rejection::NoRegistrableDomain)?;
    // An unknown suffix only matched the PSL's implicit `*` rule: refuse it
    // (see "Known suffixes only" in the module docs).
    if !suffix.is_known() {
        return Err(Rejection::NoRegistrableDomain);
    }
    let domain = psl::domain(host.as_bytes()).ok_or(Rejection::NoRegistrableDomain)?;
    // `domain` is a tail of `host` cut at a '.', so it is valid UTF-8; the
    // conversion is checked anyway rather than trusted.
    let domain = std::str::from_utf8(domain.as_bytes()).map_err(|_| Rejection::Unparseable)?;
    check_ldh(domain)?;
    Ok(domain.to_owned())
}

/// Whether `host` is `suffix` or a name under it.
fn is_under(host: &str, suffix: &str) -> bool {
    host.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Checks that `domain` is a letter-digit-hyphen host name of at least two
/// labels within DNS length limits, which is what the output promises.
fn check_ldh(domain: &str) -> Result<(), Rejection> {
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(Rejection::TooLong);
    }
    let mut labels = 0_usize;
    for label in domain.split('.') {
        labels += 1;
        if label.len() > MAX_LABEL_LEN {
            return Err(Rejection::TooLong);
        }
        let ldh = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ldh {
            return Err(Rejection::Unparseable);
        }
    }
    if labels < 2 {
        // The PSL never yields a one-label registrable domain; kept so the
        // "at least one dot" promise does not rest on that.
        return Err(Rejection::NoRegistrableDomain);
    }
    Ok(())
}

/// Why a string is not a canonical registrable domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The string names no reportable domain at all (an IP literal, a public
    /// suffix alone, a private name, ...).
    #[error("{0}")]
    Rejected(Rejection),
    /// The string names a host whose registrable domain is another string
    /// (a subdomain, upper case, a trailing dot, a U-label): a sender must
    /// send `canonical` instead.
    #[error("not in canonical form; its registrable domain is {canonical:?}")]
    NotCanonical {
        /// The canonical registrable domain of the host.
        canonical: String,
    },
}

/// Longest string [`check_canonical`] parses; anything longer is
/// [`Rejection::TooLong`] at once (no canonical domain exceeds 253 bytes).
const MAX_CHECKED_LEN: usize = 2 * MAX_DOMAIN_LEN;

/// Checks that `value` is a canonical registrable domain (see the [module
/// docs](self)): the only form a `domain_set` value may take on the wire.
/// Never panics, whatever the input.
///
/// # Errors
/// [`DomainError::Rejected`] with the reason the sanitizer would have given
/// (an IP literal is [`Rejection::IpLiteral`]), or
/// [`DomainError::NotCanonical`] naming the form that would be accepted.
pub fn check_canonical(value: &str) -> Result<(), DomainError> {
    if value.len() > MAX_CHECKED_LEN {
        return Err(DomainError::Rejected(Rejection::TooLong));
    }
    // The same host parser the sanitizer's URL parser runs: it lowercases,
    // maps IDNs to A-labels and reads every numeric form as an IPv4 address.
    let host = match Host::parse(value) {
        Ok(Host::Domain(host)) => host,
        Ok(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err(DomainError::Rejected(Rejection::IpLiteral));
        }
        Err(_) => return Err(DomainError::Rejected(Rejection::Unparseable)),
    };
    let canonical = of_host(&host).map_err(DomainError::Rejected)?;
    if canonical != value {
        return Err(DomainError::NotCanonical { canonical });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Rejection::*;
    use super::*;

    #[test]
    fn codes_are_stable_unique_snake_case_and_all_is_complete() {
        // Exhaustive match: adding a variant without listing it in ALL and
        // giving it a code fails to compile here.
        fn index(r: Rejection) -> usize {
            match r {
                Unparseable => 0,
                NotWeb => 1,
                IpLiteral => 2,
                Localhost => 3,
                SingleLabel => 4,
                PrivateHost => 5,
                NoRegistrableDomain => 6,
                TooLong => 7,
            }
        }
        for (i, r) in Rejection::ALL.iter().enumerate() {
            assert_eq!(index(*r), i, "ALL is in declaration order");
        }
        let codes: Vec<_> = Rejection::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(
            codes,
            [
                "unparseable",
                "not_web",
                "ip_literal",
                "localhost",
                "single_label",
                "private_host",
                "no_registrable_domain",
                "too_long",
            ]
        );
        for r in Rejection::ALL {
            assert!(!r.to_string().is_empty());
        }
    }

    #[test]
    fn canonical_domains_are_accepted() {
        for d in [
            "example.com",
            "example.co.uk",
            "bbc.co.uk",
            "user.github.io",
            "www.gov.uk",
            "xn--bcher-kva.de",
            "xn--e1afmkfd.xn--p1ai",
            "bucket.s3.amazonaws.com",
            "city.kawasaki.jp",
        ] {
            assert_eq!(check_canonical(d), Ok(()), "{d}");
        }
    }

    #[test]
    fn every_other_form_is_refused_with_its_reason() {
        let not = |d: &str, canonical: &str| {
            assert_eq!(
                check_canonical(d),
                Err(DomainError::NotCanonical {
                    canonical: canonical.into()
                }),
                "{d}"
            );
        };
        not("www.example.com", "example.com");
        not("user-12345.example.com", "example.com");
        not("a.b.c.example.com", "example.com");
        not("Example.com", "example.com");
        not("EXAMPLE.COM", "example.com");
        not("example.com.", "example.com");
        not("bücher.de", "xn--bcher-kva.de");
        not("docs.user.github.io", "user.github.io");
        let rejected = |d: &str, r: Rejection| {
            assert_eq!(check_canonical(d), Err(DomainError::Rejected(r)), "{d}");
        };
        rejected("co.uk", NoRegistrableDomain);
        rejected("github.io", NoRegistrableDomain);
        rejected("s3.amazonaws.com", NoRegistrableDomain);
        rejected("com", SingleLabel);
        rejected("1.2.3.4", IpLiteral);
        rejected("192.168.1.1", IpLiteral);
        rejected("0x7f.1", IpLiteral);
        rejected("2130706433", IpLiteral);
        rejected("[::1]", IpLiteral);
        rejected("::1", Unparseable);
        rejected("localhost", Localhost);
        rejected("nas.local", PrivateHost);
        rejected("printer.fritz", NoRegistrableDomain);
        rejected("", Unparseable);
        rejected("example..com", Unparseable);
        rejected("foo_bar.com", Unparseable);
        rejected("xn--zz.com", Unparseable);
        rejected("example.com/path", Unparseable);
        rejected("user@example.com", Unparseable);
        rejected(&"a".repeat(600), TooLong);
        rejected(&format!("{}.com", "a".repeat(64)), TooLong);
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point_of_of_host() {
        for host in ["www.example.com", "a.b.example.co.uk", "x.user.github.io"] {
            let d = of_host(host).expect("reportable");
            assert_eq!(check_canonical(&d), Ok(()));
            assert_eq!(of_host(&d).as_deref(), Ok(d.as_str()));
        }
    }
}
