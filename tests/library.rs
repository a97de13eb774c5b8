//! surge as a library alone (`default-features = false`: no command line,
//! no charts): every bundled scenario loads and runs through
//! [`surge::Simulation`], and every request is accounted for.
//!
//! CI builds it with `cargo clippy --no-default-features --all-targets`
//! and runs it with the rest of the tests (features gate only whole modules,
//! so the library's code is the same either way; `.ci/run` checks that).
//! To run it without the features: `cargo test --release
//! --no-default-features --test library`.

use surge::Simulation;
use surge::scenario::{Override, load_file};

#[test]
fn every_bundled_scenario_runs_through_simulation_without_the_cli() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "bundled scenarios: {names:?}");
    // Short runs: the first hour (launch-day's users and limits included).
    let short = [
        Override::parse("duration=1h").unwrap(),
        Override::parse("warmup=10m").unwrap(),
    ];
    for path in names {
        let loaded = load_file(&path, &short).unwrap_or_else(|e| panic!("{e}"));
        let sim = Simulation::new(&loaded.scenario).build().unwrap();
        let run = sim.run(0);
        assert!(run.all.arrivals > 0, "{}: no arrivals", path.display());
        for c in &run.classes {
            assert_eq!(
                c.arrivals,
                c.completed + c.rejected + c.abandoned + c.failed + c.in_system,
                "{}: class {} does not add up",
                path.display(),
                c.name
            );
        }
        assert_eq!(run.requests, run.requests_finished + run.requests_in_system);
    }
}
