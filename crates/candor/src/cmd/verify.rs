//! `candor verify`: an outsider's check of a running collector, from its
//! URL, a region, the region's signing public key and an auditor token.
//!
//! Every check is one row of a pass/fail table (README, "Checking a
//! collector from outside"):
//!
//! - `schema`: the fingerprint of every dictionary served at `/v1/schema`
//!   is one the published privacy page states (`--privacy-page FILE`, the
//!   copy the verifier trusts; without it the collector's own `/privacy`,
//!   which only shows the two agree), and the page states no other;
//! - `key-list`: the key-config list at `/v1/regions/{region}/keys` is
//!   signed by the region's key and valid now, and each of its keys has a
//!   `key.generate` entry with exactly its config in the audit chain and no
//!   `key.retire` since;
//! - `signed-head`: the head at `/v1/regions/{region}/audit/head` (no token
//!   needed) is signed by the region's key;
//! - `audit-chain`: the audit log recomputes, link by link, up to that
//!   signed head and on to the log's own head;
//! - `previous-head`: a head signed earlier (`--previous-head FILE`, as
//!   `--save-head FILE` wrote it) is an unchanged entry of today's chain;
//! - `daily-epsilon`: no metric's spend on any day in the ledger exceeds
//!   the region's daily ε as the served (and page-checked) schema states it;
//! - `ledger-accounts`: for every (metric, day) the ledger holds exactly
//!   the ε of the releases the audit log records (days deleted by a
//!   logged retention run excepted): no logged release missing from the
//!   ledger, no spend without a logged release.
//!
//! Exit 0 when every check passes (a skipped one is not a failure), 1 when
//! one fails (the table and stderr name it), 2 when the collector could
//! not be asked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candor_protocol::audit_head::SignedHead;
use candor_protocol::{SignedKeyList, VerifyingKey};
use candor_store::audit::{self, AuditEntry, AuditRecord, Head};
use clap::Args;
use serde_json::Value;

use super::query::{Secret, bearer_token, http_agent};

/// The largest answer read, bytes (an audit log of a busy region is large).
const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// Arguments of `candor verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Base URL of the collector.
    #[arg(long, env = "CANDOR_URL", default_value = "http://127.0.0.1:8750")]
    url: String,
    /// The region to check.
    #[arg(long)]
    region: String,
    /// The region's signing public key: 64 hex digits (as `candor keygen`
    /// prints it) or the path of its `signing.public.json`.
    #[arg(long)]
    signing_key: String,
    /// An auditor token of the region, for the audit log and the ledger
    /// (default: the CANDOR_TOKEN environment variable).
    #[arg(long)]
    token: Option<Secret>,
    /// The published privacy page (HTML or Markdown) the served schema
    /// must match; default: the collector's own `/privacy`.
    #[arg(long)]
    privacy_page: Option<PathBuf>,
    /// A signed head saved by an earlier run (`--save-head`): it must be an
    /// unchanged entry of today's chain.
    #[arg(long)]
    previous_head: Option<PathBuf>,
    /// Write today's signed head here (when its signature checks), for the
    /// next run's `--previous-head`.
    #[arg(long)]
    save_head: Option<PathBuf>,
}

/// A check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It holds; what was checked.
    Pass(String),
    /// It does not; why.
    Fail(String),
    /// Not checked; why.
    Skip(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The check's stable name.
    pub(crate) name: &'static str,
    /// Its outcome.
    pub(crate) outcome: Outcome,
}

fn row(name: &'static str, outcome: Outcome) -> Row {
    Row { name, outcome }
}

/// An HTTP GET of `url` as text: status and body.
fn get(agent: &ureq::Agent, url: &str, token: Option<&Secret>) -> Result<(u16, String)> {
    let mut request = agent.get(url);
    if let Some(t) = token {
        request = request.header("authorization", &t.authorization());
    }
    let mut response = request
        .call()
        .with_context(|| format!("could not reach {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .with_context(|| format!("reading the answer of {url}"))?;
    Ok((status, body))
}

/// A JSON answer that must be 200.
fn get_json(agent: &ureq::Agent, url: &str, token: Option<&Secret>) -> Result<Value> {
    let (status, body) = get(agent, url, token)?;
    if status != 200 {
        bail!("{url} answered {status}: {}", body.trim());
    }
    serde_json::from_str(&body).with_context(|| format!("{url} did not answer JSON"))
}

/// The region's key from `--signing-key`: hex, or a `signing.public.json`.
fn signing_key(region: &str, arg: &str) -> Result<VerifyingKey> {
    let path = std::path::Path::new(arg);
    let key = if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {arg}"))?;
        VerifyingKey::from_json(&bytes).with_context(|| format!("{arg} is not a signing key"))?
    } else {
        VerifyingKey::from_hex(region, arg).context("--signing-key is neither hex nor a file")?
    };
    if key.region() != region {
        bail!(
            "the signing key is region {:?}'s, not {region:?}'s",
            key.region()
        );
    }
    Ok(key)
}

pub(crate) fn run(args: VerifyArgs) -> Result<ExitCode> {
    let token = bearer_token(args.token.as_ref())?;
    let key = signing_key(&args.region, &args.signing_key)?;
    let agent = http_agent();
    let base = args.url.trim_end_matches('/');
    let region = &args.region;

    let schema = get_json(&agent, &format!("{base}/v1/schema"), None)?;
    let (page, page_source) = match &args.privacy_page {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            get(&agent, &format!("{base}/privacy"), None)?.1,
            format!("{base}/privacy (the collector's own page)"),
        ),
    };
    let head_doc = get(
        &agent,
        &format!("{base}/v1/regions/{region}/audit/head"),
        None,
    )?;
    let log = get_json(
        &agent,
        &format!("{base}/v1/regions/{region}/audit"),
        Some(&token),
    )?;
    let budget = get_json(
        &agent,
        &format!("{base}/v1/regions/{region}/budget"),
        Some(&token),
    )?;
    let previous = match &args.previous_head {
        Some(path) => Some(
            SignedHead::from_json(
                &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("{} is not a signed head", path.display()))?,
        ),
        None => None,
    };

    let key_list = get(&agent, &format!("{base}/v1/regions/{region}/keys"), None)?;
    let mut rows = vec![check_schema(&schema, &page, &page_source)];
    let signed = match head_doc {
        (200, body) => SignedHead::from_json(body.as_bytes()).map_err(|e| e.to_string()),
        (status, body) => Err(format!("the collector answered {status}: {}", body.trim())),
    };
    let signed = match signed {
        Ok(h) => match h.verify(&key) {
            Ok(()) => {
                rows.push(row(
                    "signed-head",
                    Outcome::Pass(format!(
                        "entry {} signed at {} by key {}",
                        h.seq,
                        h.signed_at,
                        key.to_hex()
                    )),
                ));
                Some(h)
            }
            Err(e) => {
                rows.push(row(
                    "signed-head",
                    Outcome::Fail(format!("the head's signature does not check: {e}")),
                ));
                None
            }
        },
        Err(e) => {
            rows.push(row("signed-head", Outcome::Fail(e)));
            None
        }
    };
    let entries = audit_entries(&log);
    rows.push(check_key_list(&key_list, &key, &entries, super::now()));
    rows.extend(check_chain(
        &entries,
        &log,
        signed.as_ref(),
        previous.as_ref(),
        &key,
    ));
    rows.push(check_daily_epsilon(&schema, region, &budget));
    rows.push(check_ledger_accounts(&entries, &budget));

    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (result, detail) = match &r.outcome {
                Outcome::Pass(d) => ("pass", d),
                Outcome::Fail(d) => ("FAIL", d),
                Outcome::Skip(d) => ("skip", d),
            };
            vec![r.name.to_owned(), result.to_owned(), detail.clone()]
        })
        .collect();
    println!(
        "Collector {base}, region {region}:\n{}",
        super::table(&["check", "result", "detail"], &table)
    );
    if let (Some(path), Some(h)) = (&args.save_head, &signed) {
        std::fs::write(path, h.to_json()).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "Saved the signed head (entry {}) to {}.",
            h.seq,
            path.display()
        );
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .map(|r| r.name)
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("verify: FAILED: {}", failed.join(", "));
        Ok(ExitCode::from(1))
    }
}

/// The fingerprints a privacy page states.
fn page_fingerprints(page: &str) -> BTreeSet<String> {
    let prefix = candor_schema::FINGERPRINT_PREFIX;
    page.match_indices(prefix)
        .filter_map(|(i, _)| page.get(i + prefix.len()..i + prefix.len() + 64))
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// `schema`: the served dictionaries are exactly those the page states.
pub(crate) fn check_schema(served: &Value, page: &str, source: &str) -> Row {
    let served: BTreeSet<String> = served["schemas"]
        .as_array()
        .map(|a| a.iter().map(candor_schema::json_fingerprint).collect())
        .unwrap_or_default();
    let stated = page_fingerprints(page);
    let outcome = if served.is_empty() {
        Outcome::Fail("the collector serves no schema".into())
    } else if stated.is_empty() {
        Outcome::Fail(format!("{source} states no schema fingerprint"))
    } else if served == stated {
        Outcome::Pass(format!(
            "served {} equals {source}",
            served.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    } else {
        let not_published: Vec<&String> = served.difference(&stated).collect();
        Outcome::Fail(format!(
            "the served schema is not the published one: served {}, {source} states {}",
            if not_published.is_empty() {
                served.iter().cloned().collect::<Vec<_>>().join(", ")
            } else {
                not_published
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            stated.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    };
    row("schema", outcome)
}

/// `key-list`: the served key-config list is signed by the region's key
/// and valid now (docs/wire.md §5.2), and each of its keys was published in
/// the audit chain with exactly this config and not retired since
/// (docs/api.md, "Key history").
pub(crate) fn check_key_list(
    served: &(u16, String),
    key: &VerifyingKey,
    entries: &[AuditEntry],
    now: i64,
) -> Row {
    let list = match served {
        (200, body) => SignedKeyList::verify_json(body.as_bytes(), key, now)
            .map_err(|e| format!("the served list does not check ({}): {e}", e.code())),
        (status, body) => Err(format!("the collector answered {status}: {}", body.trim())),
    };
    let list = match list {
        Ok(l) => l,
        Err(e) => return row("key-list", Outcome::Fail(e)),
    };
    let mut wrong = Vec::new();
    for k in &list.keys {
        let config: Value = serde_json::from_str(&k.to_json()).unwrap_or(Value::Null);
        let public = hex::encode(k.public_key());
        let mut published = false;
        for e in entries {
            let Ok(detail) = serde_json::from_str::<Value>(&e.record.detail) else {
                continue;
            };
            match e.record.action.as_str() {
                "key.generate" if detail["config"] == config => published = true,
                "key.retire"
                    if published
                        && detail["key_id"] == k.key_id()
                        && detail["public_key"] == public.as_str() =>
                {
                    published = false;
                }
                _ => {}
            }
        }
        if !published {
            wrong.push(format!(
                "key {} ({public}) has no key.generate entry with this config, or was retired",
                k.key_id()
            ));
        }
    }
    let outcome = if wrong.is_empty() {
        Outcome::Pass(format!(
            "serial {}, {} keys, each published in the chain",
            list.serial,
            list.keys.len()
        ))
    } else {
        Outcome::Fail(format!(
            "the list is signed but not the chain's: {}",
            wrong.join("; ")
        ))
    };
    row("key-list", outcome)
}

/// A hash from hex; a malformed one reads as all ones (no real hash), so
/// the chain breaks at that entry.
fn hash_of(v: &Value) -> audit::Hash {
    v.as_str()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .unwrap_or([0xff; 32])
}

/// The served log's entries, as stored (`detail_text` is the exact text
/// hashed).
fn audit_entries(log: &Value) -> Vec<AuditEntry> {
    log["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| AuditEntry {
                    seq: e["seq"].as_u64().unwrap_or(0),
                    record: AuditRecord {
                        at: e["at"].as_i64().unwrap_or(0),
                        actor: e["actor"].as_str().unwrap_or_default().to_owned(),
                        action: e["action"].as_str().unwrap_or_default().to_owned(),
                        detail: e["detail_text"].as_str().unwrap_or_default().to_owned(),
                    },
                    prev: hash_of(&e["prev"]),
                    hash: hash_of(&e["hash"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `audit-chain` and `previous-head`.
fn check_chain(
    entries: &[AuditEntry],
    log: &Value,
    signed: Option<&SignedHead>,
    previous: Option<&SignedHead>,
    key: &VerifyingKey,
) -> Vec<Row> {
    let as_head = |h: &SignedHead| {
        (h.seq > 0).then_some(Head {
            seq: h.seq,
            hash: h.head,
        })
    };
    let served_head = log["head"].as_str().and_then(audit::parse_head);
    let chain = match signed {
        None => Outcome::Skip("no valid signed head to check the chain against".into()),
        Some(h) => {
            let upto = usize::try_from(h.seq)
                .unwrap_or(usize::MAX)
                .min(entries.len());
            match audit::verify(&entries[..upto], as_head(h), None)
                .and_then(|_| audit::verify(entries, served_head, None))
            {
                Ok(n) => Outcome::Pass(format!(
                    "{n} entries recompute; entry {} is the signed head",
                    h.seq
                )),
                Err(b) => Outcome::Fail(b.to_string()),
            }
        }
    };
    let prefix = match previous {
        None => Outcome::Skip("no --previous-head given".into()),
        Some(p) => match p.verify(key) {
            Err(e) => Outcome::Fail(format!("the previous head's signature does not check: {e}")),
            Ok(()) => match as_head(p) {
                None => Outcome::Pass("the previous head was the empty chain".into()),
                Some(head) => match audit::verify(entries, served_head, Some(head)) {
                    Ok(_) => Outcome::Pass(format!(
                        "entry {} signed at {} is unchanged",
                        p.seq, p.signed_at
                    )),
                    Err(b) => Outcome::Fail(format!(
                        "today's chain does not extend the head signed at {}: {b}",
                        p.signed_at
                    )),
                },
            },
        },
    };
    vec![row("audit-chain", chain), row("previous-head", prefix)]
}

/// ε as micro-ε, the ledger's unit (rounded up, as charges are).
fn micros(epsilon: f64) -> u64 {
    (epsilon * 1e6 - 1e-6).ceil().max(0.0) as u64
}

/// Ledger spend per (metric, day), from the budget answer.
fn ledger(budget: &Value) -> BTreeMap<(String, i32), u64> {
    let mut out = BTreeMap::new();
    for e in budget["entries"].as_array().into_iter().flatten() {
        let (Some(metric), Some(day)) = (
            e["metric"].as_str(),
            e["day"].as_str().and_then(candor_time::parse_day),
        ) else {
            continue;
        };
        let spent = (e["spent"].as_f64().unwrap_or(0.0) * 1e6).round() as u64;
        *out.entry((metric.to_owned(), day)).or_default() += spent;
    }
    out
}

/// `daily-epsilon`: every ledger line within the region's ε per metric and
/// day, as the served schema declares it (the tightest over its schemas).
pub(crate) fn check_daily_epsilon(schema: &Value, region: &str, budget: &Value) -> Row {
    let cap = schema["schemas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["regions"][region]["epsilon_per_metric_day"].as_f64())
        .fold(f64::INFINITY, f64::min);
    if !cap.is_finite() {
        return row(
            "daily-epsilon",
            Outcome::Fail(format!("no served schema declares region {region:?}")),
        );
    }
    let cap_micros = micros(cap);
    let ledger = ledger(budget);
    let over: Vec<String> = ledger
        .iter()
        .filter(|(_, spent)| **spent > cap_micros)
        .map(|((metric, day), spent)| {
            format!(
                "{metric} on {} spent ε {}",
                candor_time::format_day(*day),
                *spent as f64 / 1e6
            )
        })
        .collect();
    let outcome = if over.is_empty() {
        Outcome::Pass(format!(
            "{} ledger lines, none above ε {cap} per metric and day",
            ledger.len()
        ))
    } else {
        Outcome::Fail(format!("over the daily ε {cap}: {}", over.join("; ")))
    };
    row("daily-epsilon", outcome)
}

/// `ledger-accounts`: the ledger holds exactly what the logged releases
/// spent, per (metric, day), except days a logged retention run deleted.
pub(crate) fn check_ledger_accounts(entries: &[AuditEntry], budget: &Value) -> Row {
    let mut logged: BTreeMap<(String, i32), u64> = BTreeMap::new();
    let mut deleted_before = i32::MIN;
    let mut releases = 0;
    for e in entries {
        let Ok(detail) = serde_json::from_str::<Value>(&e.record.detail) else {
            continue;
        };
        match e.record.action.as_str() {
            "retention" => {
                if let Some(d) = detail["deleted_before"]
                    .as_str()
                    .and_then(candor_time::parse_day)
                {
                    deleted_before = deleted_before.max(d);
                }
            }
            "query" if detail["cached"] == false => {
                let q = &detail["query"];
                let (Some(metric), Some(from), Some(to), Some(eps)) = (
                    q["metric"].as_str(),
                    q["from"].as_str().and_then(candor_time::parse_day),
                    q["to"].as_str().and_then(candor_time::parse_day),
                    detail["epsilon_spent"].as_f64(),
                ) else {
                    continue;
                };
                releases += 1;
                for day in from..=to {
                    *logged.entry((metric.to_owned(), day)).or_default() += micros(eps);
                }
            }
            _ => {}
        }
    }
    let ledger = ledger(budget);
    let keys: BTreeSet<&(String, i32)> = logged.keys().chain(ledger.keys()).collect();
    let mut wrong = Vec::new();
    for k in keys.into_iter().filter(|(_, day)| *day >= deleted_before) {
        let (l, g) = (
            logged.get(k).copied().unwrap_or(0),
            ledger.get(k).copied().unwrap_or(0),
        );
        if l != g {
            wrong.push(format!(
                "{} on {}: the log's releases spent ε {}, the ledger holds ε {}",
                k.0,
                candor_time::format_day(k.1),
                l as f64 / 1e6,
                g as f64 / 1e6
            ));
        }
    }
    let outcome = if wrong.is_empty() {
        Outcome::Pass(format!(
            "{releases} releases in the log, each charged to the ledger, nothing else charged"
        ))
    } else {
        Outcome::Fail(wrong.join("; "))
    };
    row("ledger-accounts", outcome)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn release(metric: &str, from: &str, to: &str, eps: f64, cached: bool) -> AuditRecord {
        AuditRecord {
            at: 1,
            actor: "ana".into(),
            action: "query".into(),
            detail: json!({
                "query": {"region": "eu", "metric": metric, "from": from, "to": to},
                "epsilon_spent": eps,
                "cached": cached,
            })
            .to_string(),
        }
    }

    fn chain(records: Vec<AuditRecord>) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for r in records {
            let head = out.last().map(|e| Head {
                seq: e.seq,
                hash: e.hash,
            });
            out.push(audit::next_entry(head, r));
        }
        out
    }

    fn budget(lines: &[(&str, &str, f64)]) -> Value {
        json!({"entries": lines.iter().map(|(m, d, s)| json!({
            "purpose": "usage", "metric": m, "day": d, "spent": s,
        })).collect::<Vec<_>>()})
    }

    #[test]
    fn the_ledger_must_hold_exactly_the_logged_releases() {
        let log = chain(vec![
            release("app.opened", "2026-11-01", "2026-11-02", 0.5, false),
            release("app.opened", "2026-11-01", "2026-11-02", 0.5, true),
            release("app.opened", "2026-11-02", "2026-11-02", 0.25, false),
        ]);
        let ok = budget(&[
            ("app.opened", "2026-11-01", 0.5),
            ("app.opened", "2026-11-02", 0.75),
        ]);
        assert!(matches!(
            check_ledger_accounts(&log, &ok).outcome,
            Outcome::Pass(_)
        ));
        let missing = budget(&[("app.opened", "2026-11-02", 0.75)]);
        assert!(matches!(
            check_ledger_accounts(&log, &missing).outcome,
            Outcome::Fail(_)
        ));
        let extra = budget(&[
            ("app.opened", "2026-11-01", 0.5),
            ("app.opened", "2026-11-02", 0.75),
            ("app.closed", "2026-11-02", 0.1),
        ]);
        assert!(matches!(
            check_ledger_accounts(&log, &extra).outcome,
            Outcome::Fail(_)
        ));
        // Retention deleted the first day: its missing line is expected.
        let mut retained = log.clone();
        retained.push(audit::next_entry(
            Some(Head {
                seq: 3,
                hash: log[2].hash,
            }),
            AuditRecord {
                at: 2,
                actor: "collector".into(),
                action: "retention".into(),
                detail: json!({"deleted_before": "2026-11-02"}).to_string(),
            },
        ));
        assert!(matches!(
            check_ledger_accounts(&retained, &missing).outcome,
            Outcome::Pass(_)
        ));
    }

    #[test]
    fn spend_above_the_regions_daily_epsilon_fails() {
        let schema = json!({"schemas": [{"regions": {"eu": {"epsilon_per_metric_day": 2.0}}}]});
        let within = budget(&[("app.opened", "2026-11-01", 2.0)]);
        assert!(matches!(
            check_daily_epsilon(&schema, "eu", &within).outcome,
            Outcome::Pass(_)
        ));
        let over = budget(&[("app.opened", "2026-11-01", 2.5)]);
        assert!(matches!(
            check_daily_epsilon(&schema, "eu", &over).outcome,
            Outcome::Fail(_)
        ));
        assert!(matches!(
            check_daily_epsilon(&schema, "us", &within).outcome,
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn the_page_must_state_exactly_the_served_fingerprints() {
        let served = json!({"schemas": [{"id": "a", "version": 1}]});
        let fp = candor_schema::json_fingerprint(&served["schemas"][0]);
        let page = format!("<p>… <code>candor-schema-sha256:{fp}</code> …</p>");
        assert!(matches!(
            check_schema(&served, &page, "page").outcome,
            Outcome::Pass(_)
        ));
        let other = json!({"schemas": [{"id": "a", "version": 2}]});
        assert!(matches!(
            check_schema(&other, &page, "page").outcome,
            Outcome::Fail(_)
        ));
        assert!(matches!(
            check_schema(&served, "no fingerprint", "page").outcome,
            Outcome::Fail(_)
        ));
    }
}
