//! URL sanitizer: reduces a URL to its registrable domain (eTLD+1).
//!
//! The SDK records "slow site" domains, and a URL is one of the most
//! identifying things a device can send: paths, queries and fragments carry
//! session tokens and search terms, userinfo carries credentials, and
//! subdomains can name a person (`alice.example.com`) or a machine. So the
//! only thing that survives [`registrable_domain`] is the registrable domain
//! per the Public Suffix List, as lowercase ASCII (punycode for IDNs), and
//! hosts that would reveal a private network or an address are refused with
//! a [`Rejection`] that the SDK counts under [`Rejection::code`] (recording
//! never fails toward the host app).
//!
//! | input | result |
//! |---|---|
//! | `https://user:pw@mail.example.com:8443/inbox?q=1#x` | `example.com` |
//! | `https://foo.bar.co.uk/` | `bar.co.uk` |
//! | `https://bücher.de/` | `xn--bcher-kva.de` |
//! | `https://user.github.io/` | `user.github.io` (private-section suffix) |
//! | `http://0x7f.1/` | [`Rejection::IpLiteral`] |
//! | `http://router/` | [`Rejection::SingleLabel`] |
//! | `http://nas.local/` | [`Rejection::PrivateHost`] |
//! | `https://co.uk/` | [`Rejection::NoRegistrableDomain`] |
//!
//! # Decisions
//!
//! - **Parsing** is WHATWG URL parsing (the `url` crate), the same algorithm
//!   browsers use. It lowercases, applies IDNA (UTS #46) and turns every
//!   numeric host form (`0x7f.1`, `017700000001`, `2130706433`, `127.1`) into
//!   an IPv4 address, so no hand-written host parsing can disagree with what
//!   the browser actually connected to.
//! - **Schemes**: only `http` and `https` are web pages. Everything else
//!   (`file:`, `data:`, `blob:`, `ws:`, `ftp:`, `about:`, `chrome:`, ...) is
//!   [`Rejection::NotWeb`], even when it embeds a web origin (`blob:https://…`).
//! - **Public Suffix List with its private section** (the `psl` crate has no
//!   ICANN-only mode, and browsers use the full list for their notion of
//!   "site"): `user.github.io` stays `user.github.io`, and a virtual-hosted S3
//!   bucket `bucket.s3.amazonaws.com` stays `bucket.s3.amazonaws.com` because
//!   `s3.amazonaws.com` is itself a listed suffix; path-style
//!   `https://s3.amazonaws.com/bucket` is [`Rejection::NoRegistrableDomain`].
//! - **Known suffixes only**: a host whose top-level label is not in the list
//!   (`host.mycompany`, `printer.fritz`) only matches the list's implicit `*`
//!   rule. Such names are almost always private networks, so they are refused
//!   as [`Rejection::NoRegistrableDomain`] rather than reported; the cost is
//!   that a TLD delegated after the compiled list is dropped until the `psl`
//!   crate is updated. Failing closed is the right side for privacy.
//! - **Private names** ([`Rejection::PrivateHost`]) are checked before the
//!   list, because some are in it (`onion`, `arpa`, `home.arpa`) and the rest
//!   deserve a more telling counter than "unknown suffix"; see
//!   [`candor_values::domain::PRIVATE_SUFFIXES`] for the list and the reason
//!   for each.
//! - **One rule on both sides**: everything after URL parsing (the host to
//!   registrable domain step, the private names, the PSL lookup, the output
//!   check) lives in [`candor_values::domain`], which the collector uses to
//!   check every `domain_set` value it receives; a value is accepted there
//!   exactly when this sanitizer could have produced it.
//! - **Output** is validated as an LDH host name (`[a-z0-9-]` labels, no
//!   leading or trailing hyphen, at least two labels, DNS length limits) so
//!   that nothing else, such as `_` or `*`, which WHATWG hosts allow, can
//!   reach a report.
//!
//! # Known limits
//!
//! The private section of the list also holds dynamic-DNS and remote-access
//! services whose subdomains belong to one household or device
//! (`<id>.myfritz.net`, `<name>.duckdns.org`, `<name>.synology.me`,
//! `<node>.ts.net`): like `user.github.io`, these are reported with their
//! first label. Names that are shared by every customer of a router vendor
//! under a public TLD (`fritz.box`) are reported too; they name a product,
//! not a network. Both are left to the collector's k-threshold for open-set
//! metrics rather than to a hand-kept list here.

use url::{Host, Url};

pub use candor_values::domain::Rejection;
use candor_values::domain::of_host as domain_of_host;

/// Longest accepted input in bytes, measured after trimming surrounding
/// whitespace; longer input is [`Rejection::TooLong`] without being parsed.
///
/// Browsers show and share URLs far longer than this, but the domain of a
/// real page never needs it, and the bound keeps parsing cost predictable on
/// hostile input.
pub const MAX_URL_LEN: usize = 2048;

/// Reduces a URL to its registrable domain (eTLD+1 per the Public Suffix
/// List, private section included): lowercase ASCII, punycode for IDNs, no
/// trailing dot, at least one dot, only `[a-z0-9.-]`.
///
/// Surrounding whitespace is ignored. Scheme, userinfo, port, path, query,
/// fragment and every label left of the registrable domain are dropped.
/// Never panics, whatever the input.
///
/// # Errors
///
/// A [`Rejection`] when the URL has no domain that may be reported: not an
/// http(s) URL, an IP address, localhost, a single-label or private name, a
/// host without a registrable domain under a known public suffix, or input
/// over [`MAX_URL_LEN`] bytes. The [module docs](self) give the reasons.
pub fn registrable_domain(url: &str) -> Result<String, Rejection> {
    let input = url.trim();
    // Checked before parsing so that hostile input costs no more than a scan.
    if input.len() > MAX_URL_LEN {
        return Err(Rejection::TooLong);
    }
    let parsed = Url::parse(input).map_err(|_| Rejection::Unparseable)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Rejection::NotWeb);
    }
    match parsed.host() {
        Some(Host::Domain(host)) => domain_of_host(host),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => Err(Rejection::IpLiteral),
        // The URL parser refuses http(s) URLs with an empty host, so this is
        // unreachable today; refusing is still the safe answer.
        None => Err(Rejection::Unparseable),
    }
}

#[cfg(test)]
mod tests {
    use super::Rejection::*;
    use super::*;

    /// The acceptance table: every row is (input, expected result). Rows are
    /// grouped by what they exercise.
    const CASES: &[(&str, Result<&str, Rejection>)] = &[
        // Plain domains, subdomains, case, paths, queries, fragments.
        ("https://example.com/", Ok("example.com")),
        (
            "https://www.example.com/path/to?q=secret#frag",
            Ok("example.com"),
        ),
        ("http://a.b.c.example.org", Ok("example.org")),
        ("HTTPS://WWW.Example.COM/Some/Path", Ok("example.com")),
        ("hTtP://MiXeD.CaSe.NeT/", Ok("case.net")),
        // Surrounding whitespace, and tabs/newlines inside (WHATWG strips them).
        ("  https://example.com/  ", Ok("example.com")),
        ("\n\t https://www.example.com/\r\n", Ok("example.com")),
        ("\u{a0}https://example.com/\u{3000}", Ok("example.com")),
        ("https://exa\tmple.com/", Ok("example.com")),
        // Ports.
        ("https://example.com:8443/", Ok("example.com")),
        ("http://shop.example.com:80/cart", Ok("example.com")),
        ("http://example.com:99999/", Err(Unparseable)),
        // Userinfo never leaks; the host is what follows the last '@'.
        ("https://user:pass@mail.example.com/", Ok("example.com")),
        ("https://alice@example.com:8080/x", Ok("example.com")),
        ("http://example.com@evil.example.net/", Ok("example.net")),
        ("https://a%40b.com:pw@example.org/", Ok("example.org")),
        // Trailing dots (fully qualified names).
        ("https://example.com./", Ok("example.com")),
        ("https://www.example.co.uk./", Ok("example.co.uk")),
        ("https://example.com../", Err(Unparseable)),
        ("https://a..example.com/", Err(Unparseable)),
        // IDNs: output is punycode; punycode input gives the same output.
        ("https://bücher.de/", Ok("xn--bcher-kva.de")),
        ("https://www.BÜCHER.de/katalog", Ok("xn--bcher-kva.de")),
        ("https://xn--bcher-kva.de/", Ok("xn--bcher-kva.de")),
        ("https://пример.рф/", Ok("xn--e1afmkfd.xn--p1ai")),
        ("https://www.食狮.公司.cn/", Ok("xn--85x722f.xn--55qx5d.cn")),
        (
            "https://www.xn--85x722f.xn--55qx5d.cn/",
            Ok("xn--85x722f.xn--55qx5d.cn"),
        ),
        ("https://ｅｘａｍｐｌｅ．ｃｏｍ/", Ok("example.com")),
        ("https://münchen.example.com/", Ok("example.com")),
        ("https://xn--zz.com/", Err(Unparseable)),
        // Multi-level public suffixes, ICANN section.
        ("https://foo.bar.co.uk/", Ok("bar.co.uk")),
        ("https://www.bbc.co.uk/news", Ok("bbc.co.uk")),
        ("https://co.uk/", Err(NoRegistrableDomain)),
        ("https://www.gov.uk/", Ok("www.gov.uk")),
        ("https://www.hmrc.gov.uk/", Ok("hmrc.gov.uk")),
        ("https://gov.uk/", Err(NoRegistrableDomain)),
        ("https://shop.example.com.au/", Ok("example.com.au")),
        ("https://www.abc.net.au/", Ok("abc.net.au")),
        ("https://com.au/", Err(NoRegistrableDomain)),
        ("https://a.b.city.kawasaki.jp/", Ok("city.kawasaki.jp")),
        ("https://www.ck/", Ok("www.ck")),
        // Multi-level public suffixes, private section.
        ("https://user.github.io/", Ok("user.github.io")),
        ("https://docs.user.github.io/x", Ok("user.github.io")),
        ("https://github.io/", Err(NoRegistrableDomain)),
        ("https://github.com/user/repo", Ok("github.com")),
        (
            "https://bucket.s3.amazonaws.com/key",
            Ok("bucket.s3.amazonaws.com"),
        ),
        (
            "https://a.bucket.s3.amazonaws.com/",
            Ok("bucket.s3.amazonaws.com"),
        ),
        (
            "https://s3.amazonaws.com/bucket/key",
            Err(NoRegistrableDomain),
        ),
        (
            "https://b.s3.us-east-1.amazonaws.com/",
            Ok("b.s3.us-east-1.amazonaws.com"),
        ),
        ("https://console.aws.amazonaws.com/", Ok("amazonaws.com")),
        (
            "https://ec2-1-2-3-4.compute-1.amazonaws.com/",
            Err(NoRegistrableDomain),
        ),
        // IPv4 literals in every form the WHATWG parser accepts.
        ("http://192.168.1.1/", Err(IpLiteral)),
        ("http://127.0.0.1:8080/admin", Err(IpLiteral)),
        ("http://127.0.0.1./", Err(IpLiteral)),
        ("http://0x7f.1/", Err(IpLiteral)),
        ("http://017700000001/", Err(IpLiteral)),
        ("http://2130706433/", Err(IpLiteral)),
        ("http://127.1/", Err(IpLiteral)),
        ("http://0x7F000001/", Err(IpLiteral)),
        ("http://0/", Err(IpLiteral)),
        ("http://１２７.０.０.１/", Err(IpLiteral)),
        ("https://user:pw@10.0.0.1:443/", Err(IpLiteral)),
        ("http://1.2.3.4.5/", Err(Unparseable)),
        ("http://256.256.256.256/", Err(Unparseable)),
        // IPv6 literals.
        ("http://[::1]/", Err(IpLiteral)),
        ("http://[2001:db8::1]:8080/", Err(IpLiteral)),
        ("http://[::ffff:192.168.0.1]/", Err(IpLiteral)),
        ("http://[fe80::1%25eth0]/", Err(Unparseable)),
        ("http://[::1/", Err(Unparseable)),
        // localhost in its variants.
        ("http://localhost/", Err(Localhost)),
        ("http://localhost:3000/app", Err(Localhost)),
        ("http://LOCALHOST./", Err(Localhost)),
        ("http://app.localhost/", Err(Localhost)),
        ("http://a.b.localhost:8080/", Err(Localhost)),
        ("http://localhost.localdomain/", Err(Localhost)),
        // Single-label (intranet) names.
        ("http://router/", Err(SingleLabel)),
        ("http://intranet:8080/wiki", Err(SingleLabel)),
        ("http://router./", Err(SingleLabel)),
        ("https://com/", Err(SingleLabel)),
        // Private and special-use names.
        ("http://nas.local/", Err(PrivateHost)),
        ("http://printer.lan/", Err(PrivateHost)),
        ("https://db.internal/", Err(PrivateHost)),
        ("https://wiki.corp/", Err(PrivateHost)),
        ("http://server.home/", Err(PrivateHost)),
        ("http://nas.home.arpa/", Err(PrivateHost)),
        ("http://1.1.168.192.in-addr.arpa/", Err(PrivateHost)),
        ("http://portal.intranet/", Err(PrivateHost)),
        ("http://box.localdomain/", Err(PrivateHost)),
        ("http://files.private/", Err(PrivateHost)),
        ("https://www.example/", Err(PrivateHost)),
        ("https://foo.test/", Err(PrivateHost)),
        ("https://foo.invalid/", Err(PrivateHost)),
        (
            "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/",
            Err(PrivateHost),
        ),
        ("http://name.alt/", Err(PrivateHost)),
        ("http://NAS.Local./", Err(PrivateHost)),
        // A lookalike is not under a private suffix.
        ("https://www.mylocal.com/", Ok("mylocal.com")),
        ("https://notlocal.de/", Ok("notlocal.de")),
        // Unknown top-level labels fail closed.
        ("http://host.mycompany/", Err(NoRegistrableDomain)),
        ("http://a.b.zzzzqq/", Err(NoRegistrableDomain)),
        // Non-web schemes.
        ("file:///etc/passwd", Err(NotWeb)),
        ("file://server/share/doc.txt", Err(NotWeb)),
        ("data:text/html,<h1>hi</h1>", Err(NotWeb)),
        ("about:blank", Err(NotWeb)),
        ("chrome://settings/", Err(NotWeb)),
        ("chrome-extension://abcdefghijklmnop/page.html", Err(NotWeb)),
        ("javascript:alert(document.cookie)", Err(NotWeb)),
        ("ftp://ftp.example.com/pub", Err(NotWeb)),
        (
            "blob:https://example.com/550e8400-e29b-41d4-a716-446655440000",
            Err(NotWeb),
        ),
        ("ws://example.com/socket", Err(NotWeb)),
        ("wss://example.com/socket", Err(NotWeb)),
        ("mailto:alice@example.com", Err(NotWeb)),
        ("view-source:https://example.com/", Err(NotWeb)),
        // Not URLs at all, or empty hosts.
        ("", Err(Unparseable)),
        ("   ", Err(Unparseable)),
        ("example.com", Err(Unparseable)),
        ("//example.com/", Err(Unparseable)),
        ("not a url", Err(Unparseable)),
        ("http://", Err(Unparseable)),
        ("https://:443/", Err(Unparseable)),
        ("http://exa mple.com/", Err(Unparseable)),
        ("http://ex%00ample.com/", Err(Unparseable)),
        // Valid WHATWG hosts that are not LDH host names.
        ("http://foo_bar.com/", Err(Unparseable)),
        ("http://www.foo_bar.com/", Err(Unparseable)),
        ("http://my_host.example.com/", Ok("example.com")),
        ("http://-foo.com/", Err(Unparseable)),
        ("http://foo-.com/", Err(Unparseable)),
        ("http://foo-bar.com/", Ok("foo-bar.com")),
        ("http://*.example.com/", Ok("example.com")),
        ("http://a*b.com/", Err(Unparseable)),
    ];

    #[test]
    fn table() {
        assert!(CASES.len() >= 50, "acceptance needs a large table");
        let mut failures = Vec::new();
        for (input, expected) in CASES {
            let expected = expected.map(str::to_owned);
            let got = registrable_domain(input);
            if got != expected {
                failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_ok_row_is_a_well_formed_fixed_point() {
        for (_, expected) in CASES {
            if let Ok(domain) = expected {
                assert_well_formed(domain);
                assert_eq!(
                    registrable_domain(&format!("https://{domain}")).as_deref(),
                    Ok(*domain)
                );
            }
        }
    }

    #[test]
    fn length_limit_is_checked_before_parsing_and_after_trimming() {
        let prefix = "https://example.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert_eq!(at_limit.len(), MAX_URL_LEN);
        assert_eq!(registrable_domain(&at_limit).as_deref(), Ok("example.com"));
        assert_eq!(
            registrable_domain(&format!("  {at_limit}\n")).as_deref(),
            Ok("example.com")
        );
        assert_eq!(registrable_domain(&format!("{at_limit}a")), Err(TooLong));
        // Would be Unparseable if it were parsed.
        assert_eq!(
            registrable_domain(&"%".repeat(MAX_URL_LEN + 1)),
            Err(TooLong)
        );
        assert_eq!(registrable_domain(&"x".repeat(1 << 20)), Err(TooLong));
    }

    #[test]
    fn dns_length_limits_apply_to_the_output_only() {
        let label = |n| "a".repeat(n);
        // A long subdomain is dropped, so it does not matter.
        let url = format!("https://{}.{}.example.com/", label(63), label(63));
        assert_eq!(registrable_domain(&url).as_deref(), Ok("example.com"));
        let ok = format!("{}.com", label(63));
        assert_eq!(registrable_domain(&format!("https://{ok}/")), Ok(ok));
        assert_eq!(
            registrable_domain(&format!("https://{}.com/", label(64))),
            Err(TooLong)
        );
        assert_eq!(
            registrable_domain(&format!("https://x.{}.com/", label(300))),
            Err(TooLong)
        );
    }

    /// The output contract, checked on every Ok anywhere in these tests.
    fn assert_well_formed(domain: &str) {
        // Whatever the sanitizer outputs, the collector's check accepts.
        assert_eq!(
            candor_values::domain::check_canonical(domain),
            Ok(()),
            "{domain:?} is not canonical"
        );
        assert!(domain.contains('.'), "{domain:?} has no dot");
        assert!(
            !domain.starts_with('.') && !domain.ends_with('.'),
            "{domain:?}"
        );
        assert!(
            domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{domain:?} has a character outside [a-z0-9.-]"
        );
        assert!(domain.len() <= 253);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Suffixes with different PSL shapes, private names and unknown
        /// TLDs, so generated hosts hit every branch.
        const SUFFIXES: &[&str] = &[
            "com",
            "de",
            "co.uk",
            "gov.uk",
            "com.au",
            "github.io",
            "s3.amazonaws.com",
            "kawasaki.jp",
            "ck",
            "xn--p1ai",
            "local",
            "home.arpa",
            "onion",
            "localhost",
            "zzzzqq",
            "example",
        ];

        fn label() -> impl Strategy<Value = String> {
            // Mixed case, digits, hyphens, underscores and non-ASCII, so that
            // IDNA, lowercasing and the LDH check are all exercised.
            "[a-zA-Z0-9_\\-é字]{1,12}"
        }

        fn web_url() -> impl Strategy<Value = (String, String)> {
            (
                prop::sample::select(&["http", "https", "HTTPS"][..]),
                prop::option::of("[a-z]{1,5}(:[a-z0-9]{1,5})?@"),
                prop::collection::vec(label(), 0..4),
                prop::sample::select(SUFFIXES),
                prop::option::of(1_u16..),
                "(/[a-zA-Z0-9?#=&%]{0,20}){0,3}",
                prop::bool::ANY,
            )
                .prop_map(|(scheme, userinfo, labels, suffix, port, path, dot)| {
                    let mut host = labels.join(".");
                    if !host.is_empty() {
                        host.push('.');
                    }
                    host.push_str(suffix);
                    if dot {
                        host.push('.');
                    }
                    let userinfo = userinfo.unwrap_or_default();
                    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                    (format!("{scheme}://{userinfo}{host}{port}{path}"), host)
                })
        }

        /// Everything that holds for every output of the function.
        fn check_output(
            url: &str,
            result: &Result<String, Rejection>,
        ) -> Result<(), TestCaseError> {
            if let Ok(domain) = result {
                assert_well_formed(domain);
                prop_assert!(!domain.contains('@') && !domain.contains(':'));
                let again = registrable_domain(&format!("https://{domain}"));
                prop_assert_eq!(again.as_ref(), Ok(domain), "not idempotent for {:?}", url);
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn never_panics_and_outputs_are_well_formed(s in "\\PC{0,80}") {
                check_output(&s, &registrable_domain(&s))?;
            }

            #[test]
            fn prefixed_junk_never_panics(s in "(https?|file|data|ws)://\\PC{0,60}") {
                check_output(&s, &registrable_domain(&s))?;
            }

            #[test]
            fn web_urls_reduce_to_a_tail_of_the_host((url, host) in web_url()) {
                let result = registrable_domain(&url);
                check_output(&url, &result)?;
                if let Ok(domain) = &result {
                    // The output is the host's last labels, never something else:
                    // userinfo, port and path cannot leak into it.
                    let ascii = url::Url::parse(&url).ok()
                        .and_then(|u| u.host_str().map(str::to_owned));
                    prop_assert!(ascii.is_some(), "{} parsed as Ok but has no host", url);
                    let ascii = ascii.unwrap_or_default();
                    let ascii = ascii.trim_end_matches('.');
                    prop_assert!(
                        ascii == domain || ascii.ends_with(&format!(".{domain}")),
                        "{} is not a tail of {} ({})", domain, ascii, host
                    );
                }
            }

            #[test]
            fn ipv4_in_any_notation_is_rejected(ip: u32, form in 0_u8..4, https: bool) {
                let [a, b, c, d] = ip.to_be_bytes();
                let host = match form {
                    0 => format!("{a}.{b}.{c}.{d}"),
                    1 => format!("{ip}"),
                    2 => format!("0x{ip:x}"),
                    _ => format!("0{ip:o}"),
                };
                let scheme = if https { "https" } else { "http" };
                prop_assert_eq!(registrable_domain(&format!("{scheme}://{host}/")), Err(IpLiteral));
            }

            #[test]
            fn ipv6_is_rejected(ip: u128, port in prop::option::of(any::<u16>())) {
                let ip = std::net::Ipv6Addr::from(ip);
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                prop_assert_eq!(registrable_domain(&format!("http://[{ip}]{port}/")), Err(IpLiteral));
            }
        }
    }
}
