//! A Ballista scheduler and executors in one process on the loopback interface, to measure
//! what a cluster costs on one machine (`bench/lake_bench.py --cluster`):
//!
//!     cargo run --release -p cxray-engine --features cluster --example standalone_cluster -- 2 1 600
//!
//! Arguments: executors, task slots per executor, most seconds to run. Prints the URL for
//! `cxray --engine` on the first line, then serves until the time is up or its standard input
//! closes, whichever comes first.

#[cfg(feature = "cluster")]
fn main() {
    use std::io::{BufRead, Write};
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: executors, slots, seconds"))
        .collect();
    let (executors, slots, seconds) = match args.as_slice() {
        [] => (2, 1, 600),
        [e, s, t] => (*e, *s, *t),
        _ => panic!("give executors, slots and seconds, or nothing for 2 1 600"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = rt
        .block_on(cxray_engine::standalone_cluster(executors, slots))
        .expect("the cluster starts");
    println!("{url}");
    std::io::stdout().flush().expect("stdout");
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in std::io::stdin().lock().lines() {}
        let _ = done.send(());
    });
    let _ = wait.recv_timeout(std::time::Duration::from_secs(seconds as u64));
}

#[cfg(not(feature = "cluster"))]
fn main() {
    eprintln!("build with --features cluster");
    std::process::exit(2);
}
