//! Tests of the budget ledger (kept beside `budget.rs` so the accountant
//! reads on its own): exact decimal units, all-or-nothing spends over
//! several days, the purpose cap, refused input, and properties that the
//! caps are never overspent and conversions stay conservative.

use super::*;
use proptest::prelude::*;

fn key(metric: &str, day: i32) -> BudgetKey {
    BudgetKey {
        region: "eu".into(),
        purpose: "product".into(),
        metric: metric.into(),
        day,
    }
}

fn eps(e: f64) -> Amount {
    Amount::charge(e, 0.0).unwrap()
}

/// Only the per-metric cap binds.
fn metric_cap(limit: f64) -> Caps {
    Caps::new(limit, MAX_EPSILON, MAX_DELTA).unwrap()
}

#[test]
fn units_read_the_written_decimal() {
    assert_eq!(spend_micros(0.1), Ok(100_000));
    assert_eq!(spend_micros(0.3), Ok(300_000));
    assert_eq!(spend_micros(1e-7), Ok(1));
    assert_eq!(spend_micros(0.1234567), Ok(123_457));
    assert_eq!(limit_micros(0.3), Ok(300_000));
    assert_eq!(limit_micros(0.1234567), Ok(123_456));
    assert_eq!(limit_micros(0.0), Ok(0));
    assert_eq!(limit_micros(1e-7), Ok(0));
    assert_eq!(Amount::charge(1.0, 1e-8).unwrap().femtos, 10_000_000);
    assert_eq!(Amount::charge(1.0, 1e-16).unwrap().femtos, 1, "rounded up");
    assert_eq!(Caps::new(1.0, 1.0, 1e-16).unwrap().purpose_femtos, 0);
    assert_eq!(
        Caps::new(1.0, 1.0, 1e-6).unwrap().purpose_femtos,
        1_000_000_000
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
        assert!(matches!(
            spend_micros(bad),
            Err(BudgetError::InvalidEpsilon(_))
        ));
    }
    for bad in [-1e-9, f64::NAN, f64::INFINITY, 2e6] {
        assert!(matches!(
            limit_micros(bad),
            Err(BudgetError::InvalidLimit(_))
        ));
    }
    for bad in [-1e-9, f64::NAN, 1.5] {
        assert!(matches!(
            Amount::charge(1.0, bad),
            Err(BudgetError::InvalidDelta(_))
        ));
        assert!(matches!(
            Caps::new(1.0, 1.0, bad),
            Err(BudgetError::InvalidDelta(_))
        ));
    }
}

#[test]
fn ten_tenths_make_exactly_one() {
    let mut ledger = Ledger::new();
    let k = key("clicks", 19_000);
    let caps = metric_cap(1.0);
    for i in 0..10 {
        let spend = ledger
            .try_spend(std::slice::from_ref(&k), eps(0.1), &caps)
            .unwrap();
        assert_eq!(spend.charged.micros, 100_000);
        assert_eq!(spend.remaining[0].1.metric_micros, 900_000 - 100_000 * i);
    }
    assert_eq!(ledger.remaining(&k, &caps).metric_micros, 0);
    assert!(matches!(
        ledger.try_spend(std::slice::from_ref(&k), eps(1e-6), &caps),
        Err(BudgetError::Exhausted { .. })
    ));
}

#[test]
fn multi_day_spend_is_all_or_nothing() {
    let mut ledger = Ledger::new();
    let caps = metric_cap(1.0);
    let days: Vec<BudgetKey> = (19_000..19_003).map(|d| key("domains", d)).collect();
    ledger.try_spend(&days[1..2], eps(0.8), &caps).unwrap();
    let before = ledger.clone();
    let err = ledger.try_spend(&days, eps(0.5), &caps).unwrap_err();
    assert_eq!(ledger, before, "a refused spend changes nothing");
    assert_eq!(
        err,
        BudgetError::Exhausted {
            asked: eps(0.5),
            overspent: vec![Overspend {
                key: days[1].clone(),
                cap: Cap::MetricEpsilon,
                remaining: 200_000
            }],
        }
    );
    assert_eq!(
        err.to_string(),
        "privacy budget exhausted: metric_epsilon of \"domains\" \
         (region \"eu\", purpose \"product\") on day 19001 (0.2 left)"
    );
    // Within budget on every day: each day is charged.
    let spend = ledger.try_spend(&days, eps(0.2), &caps).unwrap();
    assert_eq!(spend.remaining.len(), 3);
    assert_eq!(ledger.remaining(&days[0], &caps).metric_micros, 800_000);
    assert_eq!(ledger.remaining(&days[1], &caps).metric_micros, 0);
    assert_eq!(ledger.remaining(&days[2], &caps).metric_micros, 800_000);
}

#[test]
fn the_purpose_cap_adds_up_its_metrics_and_delta() {
    let mut ledger = Ledger::new();
    // 1.0 per metric, 1.5 per purpose, δ 2e-8 per purpose and day.
    let caps = Caps::new(1.0, 1.5, 2e-8).unwrap();
    let (a, b, c) = (key("a", 7), key("b", 7), key("c", 7));
    ledger
        .try_spend(std::slice::from_ref(&a), eps(1.0), &caps)
        .unwrap();
    // b alone is within its metric cap but the purpose has 0.5 left.
    let err = ledger
        .try_spend(std::slice::from_ref(&b), eps(0.6), &caps)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "privacy budget exhausted: purpose_epsilon of \"b\" \
         (region \"eu\", purpose \"product\") on day 7 (0.5 left)"
    );
    let with_delta = Amount::charge(0.25, 1e-8).unwrap();
    ledger
        .try_spend(std::slice::from_ref(&b), with_delta, &caps)
        .unwrap();
    ledger
        .try_spend(std::slice::from_ref(&c), with_delta, &caps)
        .unwrap();
    assert_eq!(
        ledger.purpose_spent(&a),
        Amount {
            micros: 1_500_000,
            femtos: 20_000_000
        }
    );
    // ε is spent and so is δ: a further δ-spending release is refused
    // for δ alone once ε allows it elsewhere.
    let other_day = key("c", 8);
    ledger
        .try_spend(std::slice::from_ref(&other_day), with_delta, &caps)
        .unwrap();
    let err = ledger
        .try_spend(
            std::slice::from_ref(&other_day),
            Amount::charge(0.1, 2e-8).unwrap(),
            &caps,
        )
        .unwrap_err();
    let BudgetError::Exhausted { overspent, .. } = err else {
        panic!()
    };
    assert_eq!(overspent.len(), 1);
    assert_eq!(overspent[0].cap, Cap::PurposeDelta);
    assert_eq!(overspent[0].remaining, 10_000_000);
    // Another purpose or region is untouched.
    let mut elsewhere = a.clone();
    elsewhere.purpose = "other".into();
    assert_eq!(
        ledger.remaining(&elsewhere, &caps).purpose_micros,
        1_500_000
    );
    // Two keys of one purpose-day in one spend count together.
    let mut fresh = Ledger::new();
    let err = fresh
        .try_spend(&[key("x", 1), key("y", 1)], eps(0.8), &caps)
        .unwrap_err();
    assert!(matches!(err, BudgetError::Exhausted { .. }));
    assert_eq!(fresh, Ledger::new());
}

#[test]
fn duplicates_are_charged_once_and_bad_input_is_refused() {
    let mut ledger = Ledger::new();
    let caps = metric_cap(1.0);
    let k = key("m", 5);
    let spend = ledger
        .try_spend(&[k.clone(), k.clone()], eps(0.6), &caps)
        .unwrap();
    assert_eq!(spend.remaining.len(), 1);
    assert_eq!(spend.remaining[0].1.metric_micros, 400_000);
    assert_eq!(
        ledger.try_spend(&[], eps(0.1), &caps),
        Err(BudgetError::NoKeys)
    );
    // A lowered cap leaves nothing rather than a negative remainder.
    assert_eq!(ledger.remaining(&k, &metric_cap(0.5)).metric_micros, 0);
    let entry = |micros| LedgerEntry {
        key: k.clone(),
        spent: Amount { micros, femtos: 0 },
    };
    assert_eq!(
        Ledger::from_entries([entry(1), entry(2)]),
        Err(BudgetError::DuplicateEntry(k.clone()))
    );
    // A corrupt, huge restored entry saturates instead of overflowing.
    let mut huge = Ledger::from_entries([entry(u64::MAX)]).unwrap();
    assert!(
        huge.try_spend(&[k], eps(MAX_EPSILON), &metric_cap(MAX_EPSILON))
            .is_err()
    );
}

fn arb_key() -> impl Strategy<Value = BudgetKey> {
    (0u8..2, 0u8..2, 0u8..3, -2i32..4).prop_map(|(r, p, m, day)| BudgetKey {
        region: format!("r{r}"),
        purpose: format!("p{p}"),
        metric: format!("m{m}"),
        day,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Over any sequence of spends, no key exceeds the metric cap and no
    /// (region, purpose, day) exceeds the purpose's ε or δ cap; a
    /// refused spend changes nothing, and an accepted one adds exactly
    /// the charge to each distinct key.
    #[test]
    fn never_overspent_and_refusals_change_nothing(
        metric_limit in 0.0f64..3.0,
        purpose_limit in 0.0f64..5.0,
        delta_limit in 0.0f64..1e-7,
        spends in prop::collection::vec(
            (
                prop::collection::vec(arb_key(), 0..5),
                1e-7f64..1.5,
                prop_oneof![Just(0.0), 1e-10f64..3e-8],
            ),
            1..40,
        ),
    ) {
        let caps = Caps::new(metric_limit, purpose_limit, delta_limit).unwrap();
        let mut ledger = Ledger::new();
        for (keys, e, d) in spends {
            let before = ledger.clone();
            let cost = Amount::charge(e, d).unwrap();
            match ledger.try_spend(&keys, cost, &caps) {
                Ok(spend) => {
                    let distinct: BTreeSet<_> = keys.iter().collect();
                    prop_assert_eq!(spend.remaining.len(), distinct.len());
                    for k in distinct {
                        prop_assert_eq!(
                            ledger.spent(k),
                            before.spent(k).saturating_add(cost)
                        );
                    }
                    for e in before.entries() {
                        if !keys.contains(&e.key) {
                            prop_assert_eq!(ledger.spent(&e.key), e.spent);
                        }
                    }
                }
                Err(err) => {
                    prop_assert_eq!(&ledger, &before);
                    if let BudgetError::Exhausted { overspent, .. } = err {
                        prop_assert!(!overspent.is_empty());
                        for o in overspent {
                            let left = before.remaining(&o.key, &caps);
                            let (left, asked) = match o.cap {
                                Cap::MetricEpsilon => (left.metric_micros, cost.micros),
                                Cap::PurposeEpsilon => (left.purpose_micros, cost.micros),
                                Cap::PurposeDelta => (left.purpose_femtos, cost.femtos),
                            };
                            prop_assert_eq!(o.remaining, left);
                            // Refused only when the asked amount (for the
                            // purpose: times this spend's keys of that
                            // purpose-day) does not fit.
                            let same = keys.iter().filter(|k| k.purpose_day() == o.key.purpose_day())
                                .collect::<BTreeSet<_>>().len() as u64;
                            let need = if o.cap == Cap::MetricEpsilon { asked } else { asked * same };
                            prop_assert!(left < need);
                        }
                    } else {
                        prop_assert!(keys.is_empty(), "unexpected {:?}", err);
                    }
                }
            }
            for e in ledger.entries() {
                prop_assert!(e.spent.micros <= caps.metric_micros);
                let p = ledger.purpose_spent(&e.key);
                prop_assert!(p.micros <= caps.purpose_micros);
                prop_assert!(p.femtos <= caps.purpose_femtos);
            }
        }
        // Persistence round-trips.
        let restored = Ledger::from_entries(ledger.entries()).unwrap();
        prop_assert_eq!(&restored, &ledger);
        prop_assert_eq!(restored.entries(), ledger.entries());
    }

    /// The charge is never below ε and the allowance never above the
    /// limit, each within one micro-unit; likewise for δ.
    #[test]
    fn conversions_are_conservative(x in 1e-6f64..MAX_EPSILON, d in 1e-15f64..1.0) {
        let up = spend_micros(x).unwrap();
        let down = limit_micros(x).unwrap();
        prop_assert!(micros_to_epsilon(up) >= x);
        prop_assert!(micros_to_epsilon(down) <= x);
        prop_assert!(up - down <= 1);
        let up = Amount::charge(1.0, d).unwrap().femtos;
        let down = Caps::new(1.0, 1.0, d).unwrap().purpose_femtos;
        prop_assert!(femtos_to_delta(up) >= d);
        prop_assert!(femtos_to_delta(down) <= d);
        prop_assert!(up - down <= 1);
    }
}
