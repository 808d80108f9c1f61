//! When a day's reports reach the collector, with devices offline at
//! random: the measurement behind the report window (how long a day stays
//! open before it is released).
//!
//! A device builds a day's report the next time it is used after the day
//! ends (the SDK closes a day at the first use after midnight) and sends it
//! the first time it is used while online, so a report of day `d` arrives
//! on the first day `e > d` on which the device is both used and online,
//! `e − d` days after its day. Use is the usage model's day decision
//! ([`super::model::Model::active`]) for devices in steady use
//! ([`Lifecycle::STEADY`]: installed before, never abandoned, used on 90 %
//! of weekdays and 82 % of weekend days), not the fleet's spread of
//! engagement, arrivals and churn: the window is measured for devices that
//! keep being used (a light user's report waits for its next use, however
//! long; an abandoned device's last day never arrives). Connectivity
//! follows [`OfflineModel`]. Only the timing is
//! modelled here, not the reports' content: nothing is sent.

use std::fmt;

use candor_protocol::Day;
use candor_schema::Schema;

use super::model::{DayCtx, Lifecycle, Model};
use super::rng::{Rng, mix};

/// How devices go offline: each device has its own long-run offline share
/// (Beta-distributed around [`OfflineModel::share`], concentration 2: most
/// devices are rarely offline, a few often), and goes offline and back in
/// spells of [`OfflineModel::mean_spell_days`] on average (a two-state
/// Markov chain per device and day).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OfflineModel {
    /// The fleet's average share of days a device is offline, in [0, 1).
    pub share: f64,
    /// Mean length of an offline spell, days (≥ 1).
    pub mean_spell_days: f64,
}

/// When the reports of the measured days arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Reports built for the measured days (device-days of use).
    pub reports: u64,
    /// `by_delay[n]`: reports that arrived `n` days after their day
    /// (`n ≥ 1`; index 0 is unused).
    pub by_delay: Vec<u64>,
    /// Reports that had not arrived by the end of the horizon.
    pub never: u64,
}

impl Arrival {
    /// The share of reports that arrived more than `days` days after their
    /// day (or never): what a report window of `days` would lose.
    pub fn share_after(&self, days: usize) -> f64 {
        if self.reports == 0 {
            return 0.0;
        }
        let late: u64 = self.by_delay.iter().skip(days + 1).sum::<u64>() + self.never;
        late as f64 / self.reports as f64
    }
}

impl fmt::Display for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| window (days after the day) | reports arriving later (lost) |"
        )?;
        writeln!(f, "|---|---|")?;
        for days in [1, 2, 3, 4, 5, 7, 10, 14] {
            writeln!(f, "| {days} | {:.3} % |", 100.0 * self.share_after(days))?;
        }
        Ok(())
    }
}

/// Measures report arrival for `devices` devices of `schema`'s usage model
/// over `days` days from `start` (each report followed up to 60 days
/// beyond), with connectivity `offline`. Deterministic for a seed.
pub fn report_arrival(
    schema: &Schema,
    devices: usize,
    days: u32,
    start: Day,
    seed: u64,
    offline: OfflineModel,
) -> Arrival {
    const HORIZON: u32 = 60;
    let model = Model::new(schema, seed);
    let total = days + HORIZON;
    let ctxs: Vec<DayCtx> = (0..total)
        .scan(Some(start), |day, i| {
            let d = (*day)?;
            *day = d.next();
            Some(DayCtx::new(i, d))
        })
        .collect();
    let spell = offline.mean_spell_days.max(1.0);
    let mut out = Arrival {
        reports: 0,
        by_delay: vec![0; HORIZON as usize + 1],
        never: 0,
    };
    for device in 0..devices {
        let mut rng = Rng::new(mix(mix(seed, device as u64), 0x00ff_114e));
        let share = rng.beta_mean(offline.share.clamp(0.0, 0.99), 2.0).min(0.99);
        // Stationary offline share `share` with spells of mean `spell`:
        // leave offline with 1/spell, go offline with share/(spell·(1−share)).
        let go_offline = (share / (spell * (1.0 - share))).min(1.0);
        let mut online = !rng.chance(share);
        let usable: Vec<bool> = ctxs
            .iter()
            .map(|&ctx| {
                if online {
                    online = !rng.chance(go_offline);
                } else {
                    online = rng.chance(1.0 / spell);
                }
                online && model.active(device, &Lifecycle::STEADY, ctx)
            })
            .collect();
        for d in 0..days as usize {
            if !model.active(device, &Lifecycle::STEADY, ctxs[d]) {
                continue;
            }
            out.reports += 1;
            match (d + 1..ctxs.len()).find(|&e| usable[e]) {
                Some(e) if e - d <= HORIZON as usize => out.by_delay[e - d] += 1,
                _ => out.never += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        candor_schema::parse(
            include_str!("../../../../examples/browser.toml"),
            "browser.toml",
            time::macros::date!(2026 - 11 - 29),
        )
        .expect("valid")
        .schema
    }

    #[test]
    fn later_windows_lose_less_and_offline_devices_arrive_later() {
        let s = schema();
        let start = Day::from_ymd(2026, 11, 2).expect("a day");
        let online = report_arrival(
            &s,
            2_000,
            14,
            start,
            1,
            OfflineModel {
                share: 0.0,
                mean_spell_days: 1.0,
            },
        );
        let offline = report_arrival(
            &s,
            2_000,
            14,
            start,
            1,
            OfflineModel {
                share: 0.2,
                mean_spell_days: 3.0,
            },
        );
        for a in [&online, &offline] {
            assert!(a.reports > 2_000 * 14 * 8 / 10, "{}", a.reports);
            assert_eq!(a.by_delay[0], 0, "never on the day itself");
            assert_eq!(
                a.by_delay.iter().sum::<u64>() + a.never,
                a.reports,
                "every report is accounted for"
            );
            for days in 1..10 {
                assert!(a.share_after(days) >= a.share_after(days + 1));
            }
            assert_eq!(a.share_after(0), 1.0);
        }
        // Always online, a report waits only for the next day of use: about
        // one in nine waits more than a day (10–18 % of days are unused).
        let next_day_missed = online.share_after(1);
        assert!((0.08..0.16).contains(&next_day_missed), "{next_day_missed}");
        assert!(offline.share_after(3) > online.share_after(3));
        assert!(offline.share_after(7) < offline.share_after(3));
    }
}
