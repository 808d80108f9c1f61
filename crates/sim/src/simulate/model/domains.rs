//! The synthetic web: registrable domains, their popularity and slowness.

use super::super::rng::{Rng, cumulative, mix};

/// How many synthetic registrable domains pages are drawn from.
pub(crate) const DOMAINS: usize = 3_000;

/// Popular sites at the head of the domain list. Names end in real public
/// suffixes: the SDK refuses reserved ones such as `.example`.
const POPULAR_DOMAINS: [&str; 16] = [
    "simnews.com",
    "simsearch.com",
    "simvideo.com",
    "simsocial.com",
    "simshop.com",
    "simmail.com",
    "simwiki.org",
    "simmaps.com",
    "simweather.com",
    "simsports.com",
    "simbank.de",
    "simtravel.fr",
    "simrecipes.co.uk",
    "simforum.net",
    "simstream.tv",
    "simgames.io",
];

/// Public suffixes of the long tail (`site{n}.{suffix}`).
const TAIL_SUFFIXES: [&str; 10] = [
    "com", "net", "org", "de", "fr", "co.uk", "io", "in", "com.au", "es",
];

/// The synthetic web: registrable domains, their popularity and slowness.
#[derive(Debug, Clone)]
pub(crate) struct Domains {
    /// Registrable domains, most popular first (each is what the SDK's
    /// sanitizer makes of its URLs).
    pub(crate) names: Vec<String>,
    pub(super) cdf: Vec<f64>,
    pub(super) slowness: Vec<f64>,
}

impl Domains {
    pub(super) fn new(seed: u64) -> Self {
        let candidates = POPULAR_DOMAINS
            .iter()
            .map(|d| (*d).to_owned())
            .chain((1..).map(|n| format!("site{n}.{}", TAIL_SUFFIXES[n % TAIL_SUFFIXES.len()])))
            .take(DOMAINS);
        // Keep only names the SDK reduces to themselves, so the ground
        // truth names exactly what a report carries.
        let names: Vec<String> = candidates
            .filter(|d| {
                candor_sdk::sanitize::registrable_domain(&format!("https://www.{d}/")).as_deref()
                    == Ok(d.as_str())
            })
            .collect();
        let cdf = cumulative((0..names.len()).map(|i| 1.0 / (i as f64 + 1.0).powf(1.05)));
        let mut rng = Rng::new(mix(seed, 0xd0_0a1e));
        let slowness = (0..names.len()).map(|_| rng.lognormal(1.0, 0.5)).collect();
        Domains {
            names,
            cdf,
            slowness,
        }
    }

    /// A page URL on domain `d` (varied hosts and paths; the SDK keeps only
    /// the registrable domain).
    pub(crate) fn url(&self, d: usize, variant: u64) -> String {
        let name = &self.names[d];
        match variant % 3 {
            0 => format!("https://{name}/"),
            1 => format!("https://www.{name}/article/{}", variant % 997),
            _ => format!("https://m.{name}/p?id={}", variant % 9973),
        }
    }
}
