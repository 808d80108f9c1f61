//! What the page says: the promises, each purpose (what is collected, why,
//! and how it is protected, with the actual numbers), the regions, the most
//! one device can lose, and the table of every metric.

use std::fmt::Write as _;

use crate::model::{Metric, Purpose, Release, Schema, Sensitivity};

use super::tree::{Block, Line, and_list, b, c, t};
use super::words::{dimension_row, metric_row, num, records, sci};

/// The whole page, as blocks.
pub(super) fn page(s: &Schema) -> Vec<Block> {
    let mut out = Vec::new();
    out.push(Block::Heading(
        1,
        vec![
            t("What "),
            c(&s.id),
            t(" collects, and how your privacy is protected"),
        ],
    ));
    out.push(Block::Paragraph(vec![
        t("This page is generated from the data dictionary "),
        c(&s.id),
        t(format!(
            " (version {}), the same file the app and our servers use to decide what may be collected. Anything not listed here is refused by the app and rejected by our servers. Its fingerprint (SHA-256 of the dictionary our servers publish at /v1/schema, in canonical JSON) is ",
            s.version
        )),
        c(format!("{}{}", crate::model::FINGERPRINT_PREFIX, s.fingerprint())),
        t(" (anyone can check with the command candor verify that a collector serves exactly this dictionary)."),
    ]));

    out.push(Block::Heading(2, vec![t("Our promises")]));
    out.push(Block::List(vec![
        vec![
            b("Consented."),
            t(" Nothing is collected for a purpose until you agree to it. You can withdraw at any time, and whatever is still waiting on your device for that purpose is deleted at once."),
        ],
        vec![
            b("Anonymous."),
            t(" Reports carry no name, account, device identifier, IP address or precise time: only the day, your region and the few coarse details listed below. At most one report per purpose and day leaves your device."),
        ],
        vec![
            b("Encrypted."),
            t(" Each report is sealed on your device so that only the collector of your region can open it."),
        ],
        vec![
            b("Aggregated."),
            t(" On arrival a report is added to totals and then thrown away: nobody looks at individual reports, only at totals over many devices."),
        ],
        vec![
            b("Regional."),
            t(" Reports go to the collector of the region you are in and stay there, and totals are deleted after that region's retention period."),
        ],
        vec![
            b("Transparent."),
            t(" This page lists everything that may be collected; if it is not here, it is not collected."),
        ],
    ]));

    out.push(Block::Heading(2, vec![t("How the numbers are protected")]));
    out.push(Block::Paragraph(vec![
        b("What is protected:"),
        t(" one report of one device, for one purpose, on one day. Every number we publish, and every decision to show or hide a group, looks almost the same whether or not that report exists. That is the promise of differential privacy, and the figures below (ε and δ) say how strong it is."),
    ]));
    let mut protections = vec![
        vec![
            b("Differential privacy on our servers (central, ε):"),
            t(
                " before any total is published, random noise is added to it; the smaller ε (epsilon), the more noise and the more privacy. Even the number of reports behind a total is never published exactly.",
            ),
        ],
        vec![
            b("Minimum group size (k):"),
            t(
                " a group is shown only if its device count, with noise added, reaches k; groups that only a few devices could have formed stay hidden. Because the count is noisy, k hides small groups most of the time rather than always: the protection comes from the noise, and k keeps tiny groups out of sight.",
            ),
        ],
        vec![
            b("Values nobody declared:"),
            t(
                " website domains, and details such as an app version that take values not listed in advance, are shown only when their noisy count passes a higher threshold, so that a value only your report contained appears at most with the tiny probability δ (delta).",
            ),
        ],
        vec![
            b("Differential privacy on your device (local, ε):"),
            t(
                " for some yes/no and multiple-choice answers your device sends a randomized answer instead of the real one. It draws that answer once for each real value and keeps it, so sending it every day reveals no more than sending it once; our servers add noise to the randomized counts too.",
            ),
        ],
        vec![
            b("Contribution limit:"),
            t(
                " each report can add only a bounded amount to any total (the limits are in the table at the end), so no one device can move a number much.",
            ),
        ],
        vec![
            b("Privacy budget:"),
            t(
                " every publication spends some of a fixed daily budget per region, per purpose and per metric, and a question that would overspend is refused. A repeated question gets the same answer and spends nothing.",
            ),
        ],
        vec![
            b("Only finished days:"),
            t(
                " a day is published only after the last report for it can have arrived, so no number changes later and no late report can be singled out.",
            ),
        ],
        vec![
            b("What is not differentially private:"),
            t(
                " the collector's operators see exact operational counts (how many reports each region accepted or refused per purpose and day) to keep the service running. Those counts are shown only to administrators, labelled as exact, and never to analysts or the public. They count reports, never what is in them.",
            ),
        ],
    ];
    if s.metrics.values().any(|m| m.kind.cohort_weeks().is_some()) {
        protections.insert(5, vec![
            b("Active devices without an identifier:"),
            t(" to count how many devices are in use, your device remembers its last day of use and the week it was installed, and sends only flags for each day of use: used today, first use this week, this month, since installation, and the installation week (older ones folded into one value). Our servers only add the flags up. A weekly (monthly) count adds each device's one \"first use this week (month)\" flag, so one device moves it by at most one however many days it was used, and its noise is scaled to that one. It is published once for the whole week (month), as one question over all its days, and charged in full to the budget of every one of those days: never as seven separate daily questions, and never for less than a question about any one of those days would cost. Each week of the retention table (installation week by weeks since installation) is one such weekly question, since a device counts in one installation week at most once a week."),
        ]);
    }
    out.push(Block::List(protections));

    out.push(Block::Heading(2, vec![t("What is collected, and why")]));
    for p in s.purposes.values() {
        purpose(s, p, &mut out);
    }

    if !s.dimensions.is_empty() {
        out.push(Block::Heading(2, vec![t("Details sent with reports")]));
        out.push(Block::Paragraph(vec![t(
            "Besides the day and your region, a report may carry only these coarse details, and only for the metrics that list them:",
        )]));
        out.push(Block::Table {
            head: vec!["Detail", "What it is", "Possible values"],
            rows: s.dimensions.values().map(dimension_row).collect(),
        });
    }

    out.push(Block::Heading(
        2,
        vec![t("Where your data is stored, and for how long")],
    ));
    out.push(Block::Paragraph(vec![t(
        "Your device sends reports only to the collector of the region you are in. Each region keeps the totals for a fixed time and then deletes them, hides groups whose noisy count is below its k, and limits the privacy budget that all publications together may spend on each day's reports: per metric, and per purpose over all its metrics. A day's reports are accepted until its report window has passed; only then is the day published.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Region",
            "Law",
            "Kept for",
            "Minimum group size (k)",
            "ε per metric per day",
            "ε per purpose per day",
            "δ per purpose per day",
            "Report window",
            "Collector",
        ],
        rows: s
            .regions
            .values()
            .map(|r| {
                vec![
                    vec![t(&r.name), t(" ("), c(&r.id), t(")")],
                    vec![t(&r.law)],
                    vec![t(format!("{} days", r.retention_days))],
                    vec![t(r.k_min.to_string())],
                    vec![t(num(r.epsilon_per_metric_day))],
                    vec![t(num(r.epsilon_per_purpose_day))],
                    vec![t(sci(r.delta_per_purpose_day))],
                    vec![t(format!("{} days after the day", r.report_window_days))],
                    vec![match &r.collector {
                        Some(url) => c(url),
                        None => t("not announced yet"),
                    }],
                ]
            })
            .collect(),
    });

    out.push(Block::Heading(2, vec![t("The most one device can lose")]));
    out.push(Block::Paragraph(vec![t(
        "Differential privacy adds up: everything published about one day's reports of a purpose together spends at most that purpose's daily budget, so for one device and one purpose the loss is at most the figures below per day; over a year, if your reports could all be linked to each other (they carry no identifier, so that is the worst case), at most 365 times as much. Answers randomized on your device cost their ε once per real value you ever have, however many days they are sent.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Purpose",
            "Region",
            "One device, one day (ε, δ)",
            "One device, one year (ε, δ)",
            "Randomized on the device (ε per value)",
        ],
        rows: s
            .purposes
            .values()
            .flat_map(|p| {
                let local: f64 = s
                    .metrics_for_purpose(&p.id)
                    .filter(|m| matches!(m.release, Release::LocalDp { .. }))
                    .map(|m| m.release.epsilon())
                    .sum();
                s.regions.values().map(move |r| {
                    vec![
                        vec![c(&p.id)],
                        vec![c(&r.id)],
                        vec![t(format!(
                            "ε ≤ {}, δ ≤ {}",
                            num(r.epsilon_per_purpose_day),
                            sci(r.delta_per_purpose_day)
                        ))],
                        vec![t(format!(
                            "ε ≤ {}, δ ≤ {}",
                            num(365.0 * r.epsilon_per_purpose_day),
                            sci(365.0 * r.delta_per_purpose_day)
                        ))],
                        vec![t(if local > 0.0 {
                            format!("{} in all", num(local))
                        } else {
                            "none".to_owned()
                        })],
                    ]
                })
            })
            .collect(),
    });

    out.push(Block::Heading(2, vec![t("Every metric")]));
    out.push(Block::Paragraph(vec![t(
        "Each metric is collected only for its purpose, only with your consent to that purpose, and only until it expires. Every published group also needs a noisy count of at least k devices (k by region, above). The ε below is what one publication spends by default.",
    )]));
    out.push(Block::Table {
        head: vec![
            "Metric",
            "Type",
            "Purpose",
            "What it records",
            "Limit per report",
            "Protection",
            "Owner",
            "Expires",
        ],
        rows: s.metrics.values().map(|m| metric_row(s, m)).collect(),
    });
    out
}

/// The section of one purpose.
fn purpose(s: &Schema, p: &Purpose, out: &mut Vec<Block>) {
    out.push(Block::Heading(
        3,
        vec![t(&p.title), t(" ("), c(&p.id), t(")")],
    ));
    out.push(Block::Paragraph(vec![t(&p.description)]));
    let hash: String = p
        .consent_text_sha256()
        .iter()
        .fold(String::new(), |mut acc, byte| {
            let _ = write!(acc, "{byte:02x}");
            acc
        });
    let facts = vec![
        vec![
            b("Sensitivity:"),
            t(match p.sensitivity {
                Sensitivity::High => {
                    " high: this could say something personal about you, even in totals."
                }
                _ => " low: counts and settings that say little about you.",
            }),
        ],
        vec![
            b("Private mode:"),
            t(if p.allowed_in_private_mode {
                " also collected while you use private mode."
            } else {
                " never collected while you use private mode."
            }),
        ],
        vec![
            b("Consent:"),
            t(format!(
                " asked for before anything is collected (legal basis: {}). Consent version {}: if this purpose changes materially, the version goes up and you are asked again. Fingerprint of the consent text (SHA-256): ",
                p.legal_basis, p.consent_version
            )),
            c(hash),
            t("."),
        ],
    ];

    out.push(Block::List(facts));

    let metrics: Vec<&Metric> = s.metrics_for_purpose(&p.id).collect();
    if metrics.is_empty() {
        out.push(Block::Paragraph(vec![t(
            "No metric is collected for this purpose yet.",
        )]));
        return;
    }
    out.push(Block::Paragraph(vec![b("What is collected:")]));
    out.push(Block::List(
        metrics
            .iter()
            .map(|m| {
                let mut line = vec![c(&m.id), t(": "), t(&m.description), t(" ")];
                line.extend(records(s, m));
                line
            })
            .collect(),
    ));

    out.push(Block::Paragraph(vec![b("How it is protected:")]));
    let ks: Vec<Line> = s
        .regions
        .values()
        .map(|r| vec![t(format!("{} in {}", r.k_min, r.name))])
        .collect();
    let mut protection = vec![{
        let mut line = vec![
            b("Minimum group size:"),
            t(" a group is published only if its noisy device count reaches k (k = "),
        ];
        line.extend(and_list(ks));
        line.push(t("); smaller groups are hidden."));
        line
    }];
    let central: Vec<Line> = metrics
        .iter()
        .filter_map(|m| match m.release {
            Release::CentralDp { epsilon, delta } => {
                let mut item = vec![c(&m.id), t(format!(" ε = {}", num(epsilon)))];
                if let Some(delta) = delta {
                    item.push(t(format!(", δ = {}", sci(delta))));
                }
                Some(item)
            }
            _ => None,
        })
        .collect();
    if !central.is_empty() {
        let mut line = vec![
            b("Noise added on our servers (central differential privacy):"),
            t(
                " random noise is added to every published total, so no one can tell from the numbers whether you took part (",
            ),
        ];
        line.extend(and_list(central));
        line.push(t("; smaller ε means more noise and more privacy)."));
        protection.push(line);
    }
    let local: Vec<Line> = metrics
        .iter()
        .filter_map(|m| match m.release {
            Release::LocalDp {
                epsilon,
                count_epsilon,
                ..
            } => Some(vec![
                c(&m.id),
                t(format!(
                    " ε = {} on the device, then ε = {} of noise on our servers",
                    num(epsilon),
                    num(count_epsilon)
                )),
            ]),
            _ => None,
        })
        .collect();
    if !local.is_empty() {
        let mut line = vec![
            b("Answers randomized on your device (local differential privacy):"),
            t(
                " your device sends a randomized answer, drawn once per real value and kept, so even your own reports do not reveal your real answer (",
            ),
        ];
        line.extend(and_list(local));
        line.push(t(")."));
        protection.push(line);
    }
    let regions: Vec<Line> = s
        .regions
        .values()
        .map(|r| vec![t(format!("{} days in {}", r.retention_days, r.name))])
        .collect();
    let mut stored = vec![
        b("Stored:"),
        t(" only in the region you are in, as totals, and deleted after "),
    ];
    stored.extend(and_list(regions));
    stored.push(t("."));
    protection.push(stored);
    let budgets: Vec<Line> = s
        .regions
        .values()
        .map(|r| {
            vec![t(format!(
                "ε {} and δ {} per day in {}",
                num(r.epsilon_per_purpose_day),
                sci(r.delta_per_purpose_day),
                r.name
            ))]
        })
        .collect();
    let mut budget = vec![
        b("Budget:"),
        t(" all publications about one day's reports of this purpose together spend at most "),
    ];
    budget.extend(and_list(budgets));
    budget.push(t("."));
    protection.push(budget);
    out.push(Block::List(protection));
}
