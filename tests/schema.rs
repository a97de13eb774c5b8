//! The CSV columns are a public interface: this pins them. Append new
//! columns at the end, on purpose, and update docs/outputs.md.

use surge::report::tables_columns;

#[test]
fn summary_columns_are_pinned() {
    assert_eq!(
        tables_columns().0.join(","),
        "scenario,point,replication,seed,class,arrivals,completed,rejected,abandoned,failed,in_system,\
throughput_per_s,wait_mean_s,wait_p50_s,wait_p95_s,wait_p99_s,latency_mean_s,latency_p50_s,\
latency_p95_s,latency_p99_s,latency_p999_s,slo_attainment,attempts,attempts_per_request,\
rejected_attempts,abandoned_attempts,failed_attempts,deferred,deferred_latency_mean_s,deferred_latency_p99_s"
    );
}

#[test]
fn pools_columns_are_pinned() {
    assert_eq!(
        tables_columns().1.join(","),
        "scenario,point,replication,seed,pool,gpus_mean,busy_gpus_mean,utilization,offered_load,\
gpu_hours,cost_usd,queue_mean,queue_max,deferred,shed,failed,peak_load,verdict"
    );
}

#[test]
fn timeseries_columns_are_pinned() {
    use std::path::Path;
    let s = surge::scenario::load_str(
        "duration = \"1m\"\n[[pool]]\nname = \"g\"\ngpus = 1\n[[class]]\nname = \"c\"\npool = \"g\"\narrivals = { process = \"poisson\", rate = \"1/s\" }\nservice = { dist = \"exponential\", mean = \"100ms\" }\n",
        "<t>",
        Path::new("."),
        "t",
        &[],
    )
    .unwrap()
    .scenario;
    let run = surge::simulate(&s, 0).unwrap();
    let csv = surge::report::timeseries_table(&s, 0, &[run]).to_csv();
    let header = String::from_utf8(csv)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        header,
        "scenario,point,replication,seed,time_s,bucket_s,scope_kind,scope,arrivals,retries,completions,\
rejected,abandoned,failed,queue_mean,queue_max,busy_gpus_mean,online_gpus_mean,utilization,\
users_online,latency_p50_s,latency_p99_s,latency_p95_s,deferred"
    );
}

#[test]
fn sweep_columns_are_pinned() {
    let names: Vec<String> = surge::metric::Metric::HEADLINE
        .iter()
        .map(|m| m.column().to_string())
        .collect();
    assert_eq!(
        names.join(","),
        "throughput_per_s,wait_mean_s,wait_p99_s,latency_mean_s,latency_p50_s,latency_p95_s,\
latency_p99_s,latency_p999_s,slo_attainment,attempts_per_request,completed_fraction,\
rejected_fraction,abandoned_fraction,failed_fraction,wait_p50_s,wait_p95_s"
    );
}

#[test]
fn requests_columns_are_pinned() {
    assert_eq!(
        surge::report::requests_columns().join(","),
        "scenario,point,replication,id,class,arrival_s,start_s,end_s,outcome,attempts"
    );
}

#[test]
fn stage_columns_are_pinned() {
    use surge::rows::{Row, StageRow, StageTimeRow};
    assert_eq!(
        StageRow::COLUMNS.join(","),
        "scenario,point,replication,seed,class,stage,pool,arrivals,attempts,completed,rejected,\
timed_out,failed,cancelled,in_system,wait_mean_s,wait_p50_s,wait_p95_s,wait_p99_s,\
service_mean_s,service_p50_s,service_p95_s,service_p99_s"
    );
    assert_eq!(
        StageTimeRow::COLUMNS.join(","),
        "scenario,point,replication,seed,time_s,bucket_s,class,stage,pool,arrivals,started,\
completed,wait_mean_s,service_mean_s"
    );
}
