//! The convention table's test (issue 17): for every seed municipality whose domain
//! receives mail in the recorded world, would the table have generated that domain from
//! the municipality's name? Prints the recall per country and the known domains each
//! shape explains (what the table's weights are read from), and holds the recall to a
//! floor so a table edit that breaks a country's conventions fails.
//!
//! Run `cargo test --test discover_recall -- --nocapture` to see the table.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::*;
use mxmap::discover::candidates::candidates;
use mxmap::discover::conventions::Conventions;

/// Recall floors (share of known domains generated within the candidate bound) of the
/// countries with the most municipalities to discover; a table change that drops below
/// fails here.
const FLOORS: [(&str, f64); 10] = [
    ("es", 0.70),
    ("de", 0.55),
    ("at", 0.55),
    ("pt", 0.70),
    ("hr", 0.80),
    ("no", 0.80),
    ("nl", 0.80),
    ("be", 0.75),
    ("gb", 0.50),
    ("se", 0.85),
];

#[test]
fn convention_table_recall_on_known_seed_domains() {
    let Some(data) = europe_data() else {
        skip_missing("world/ (or $MXMAP_DATA)");
        return;
    };
    let receiving: HashSet<String> = std::fs::read_to_string(data.join("world/domains.tsv"))
        .expect("world/domains.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() >= 6 && cols[5] == "1").then(|| cols[1].to_string())
        })
        .collect();
    let seeds = mxmap::seeds::load(&data.join("seeds"), None).expect("seeds");
    let table = Conventions::embedded();
    // `MXMAP_RECALL_MISSES=pt,de` lists the known domains the table misses there.
    let show_misses: Vec<String> = std::env::var("MXMAP_RECALL_MISSES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .collect();
    // country → (known, generated), shape → explained
    let mut per_country: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut per_shape: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for m in &seeds.municipalities {
        let Some(domain) = &m.domain else { continue };
        let ascii = domain.ascii.to_string();
        if !receiving.contains(&ascii) {
            continue;
        }
        let Some(conv) = table.country(m.country.code) else {
            per_country.entry(m.country.code).or_default().0 += 1;
            continue;
        };
        let entry = per_country.entry(m.country.code).or_default();
        entry.0 += 1;
        let list = candidates(&m.name, m.region.as_deref(), conv, table);
        if let Some(hit) = list.iter().find(|c| c.domain == ascii) {
            entry.1 += 1;
            *per_shape
                .entry((m.country.code, hit.shape.clone()))
                .or_default() += 1;
        } else if show_misses.iter().any(|c| c == m.country.code) {
            println!(
                "miss {}: {:?} ({:?}) → {ascii}",
                m.country.code, m.name, m.region
            );
        }
    }
    println!(
        "convention table {} — recall on known seed domains (at most {} candidates per municipality)",
        table.version, table.limits.max_candidates
    );
    println!(
        "{:<4} {:>7} {:>9} {:>7}",
        "cc", "known", "generated", "recall"
    );
    let (mut known, mut generated) = (0, 0);
    for (cc, (k, g)) in &per_country {
        known += k;
        generated += g;
        println!("{cc:<4} {k:>7} {g:>9} {:>6.1}%", pct(*g, *k));
    }
    println!(
        "{:<4} {known:>7} {generated:>9} {:>6.1}%",
        "all",
        pct(generated, known)
    );
    println!("known domains explained per shape:");
    for ((cc, shape), n) in &per_shape {
        println!("  {cc} {shape:<32} {n}");
    }
    for (cc, floor) in FLOORS {
        let (k, g) = per_country.get(cc).copied().unwrap_or_default();
        assert!(
            g as f64 >= floor * k as f64,
            "{cc}: recall {:.1}% below the floor {:.0}%",
            pct(g, k),
            floor * 100.0
        );
    }
    assert!(known > 30_000, "{known} known seed domains");
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}
